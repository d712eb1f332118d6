"""Effort: the customer-effort markers of Dixon, Freeman & Toman, per contact, and a 1–5 score.

Each marker comes from metadata when the column is present and from bilingual text cues
otherwise (or in addition: a customer who *says* they were transferred was transferred).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from pipeline import schemas as s
from pipeline.config import EffortSettings

# Cues are matched on the raw text (simplified and traditional forms both listed).
TEXT_CUES: dict[str, str] = {
    "repeat_contact": (
        r"第[二三四五六七八九十两兩2-9]次(?:打|来|來|联系|聯繫|聯絡|找|致电|致電|反映|投诉|投訴)|又打(?:来|來|过来|過來)|"
        r"打了(?:好几|好幾|[二三四五两兩2-9])次|(?:已经|已經)(?:打|联系|聯繫|反映)过|上次(?:说|說|讲|講)|又来了|又來了|"
        r"already (?:called|contacted|phoned|emailed|written)|called (?:you )?(?:twice|three times|again|several times|multiple times)|"
        r"(?:second|third|fourth|fifth) time|calling again|contacted you before|last time you said"
    ),
    "transfer": (
        r"转了(?:好几|好幾|[二三四两兩2-9])?(?:次|个|個)|轉了(?:好幾|[二三四兩2-9])?(?:次|個)|转来转去|轉來轉去|"
        r"又(?:被)?(?:转|轉)|(?:转|轉)接(?:了)?(?:好几|好幾|几|幾)次|踢皮球|"
        r"transferred (?:again|twice|me|around|several|multiple)|passed (?:me )?around|another department again|bounced between"
    ),
    "repeat_info": (
        r"(?:说|說|讲|講)了(?:好几|好幾|[二三四两兩2-9])(?:遍|次)|又要我(?:重复|重複|再说|再說|报|報)|重复(?:说|报|提供)|重複(?:說|報|提供)|"
        r"(?:再|重新)(?:核实|核實|验证|驗證)(?:一次|一遍)|"
        r"repeat(?:ed)? (?:my|the) (?:details|information|account|number|story)|(?:explain|explained) (?:it )?again|"
        r"asked (?:me )?(?:for )?(?:the same|again)|told (?:you|them) (?:this )?(?:already|twice)"
    ),
    "long_wait": (
        r"等了(?:半个|半個|一个|一個|[一二三四五六七八九十两兩\d]+)(?:多)?(?:小时|小時|钟|鐘|分钟|分鐘|天|个钟|個鐘)|"
        r"(?:排队|排隊)(?:排)?了?很久|等(?:了)?(?:好|很)久|一直(?:没人接|沒人接|占线|佔線)|"
        r"on hold for|waited (?:for )?(?:over |more than )?(?:an hour|\d+|half an hour|ages|forever)|been waiting|kept me waiting|long wait"
    ),
    "unresolved": (
        r"(?:还是|還是|仍然|依然|一直)(?:没|沒|未)(?:有)?(?:解决|解決|好|修好|处理|處理|到账|到賬|恢复|恢復)|"
        r"(?:没|沒)(?:人)?(?:解决|解決)|问题依旧|問題依舊|(?:根本|完全)(?:没用|沒用)|搞唔掂|未搞掂|"
        r"still (?:not|isn't|hasn't|doesn't|no|hasn't been|not been) ?(?:fixed|resolved|working|sorted|solved)?|"
        r"(?:not|never) (?:been )?(?:fixed|resolved|sorted)|didn't (?:help|fix|solve)|no one (?:fixed|helped)"
    ),
    "channel_switch": (
        r"(?:网上|網上|app|APP|官网|官網|应用|應用|小程序)(?:上)?(?:查不到|找不到|办不了|辦不了|弄不了|搞不定|不行)|"
        r"(?:在线|線上|在線)客服(?:解决不了|解決不了|没用|沒用)|(?:先|已经)(?:在)?(?:app|APP|网上|網上)(?:试|試)过|"
        r"tried the (?:app|website|online|chat)|(?:app|website|chat) (?:didn't|did not|couldn't|could not) (?:help|work)|chatbot (?:was )?useless"
    ),
    "escalation": (
        r"投诉|投訴|(?:找|叫)(?:你们)?(?:经理|經理|主管|领导|領導|上级|上級)|工信部|消协|消委会|消委會|通讯管理局|通訊管理局|"
        r"太过分|太過分|气死|氣死|垃圾服务|垃圾服務|忍无可忍|忍無可忍|离谱|離譜|"
        r"complain(?:t)?|speak to (?:a |your )?(?:manager|supervisor)|escalate|ridiculous|unacceptable|furious|disgusting|regulator|ombudsman"
    ),
}
# The cues are lower case and matched against lower-cased text: the matches of IGNORECASE,
# 2.5x faster on long transcripts (Unicode case-insensitive matching is slow in ``re``).
COMPILED_CUES = {marker: re.compile(pattern.lower()) for marker, pattern in TEXT_CUES.items()}
# How much each marker adds to the score (1 + weighted sum, capped at 5).
WEIGHTS = {
    "repeat_contact": 1.0,
    "transfer": 1.0,
    "repeat_info": 0.5,
    "long_wait": 0.75,
    "unresolved": 1.25,
    "channel_switch": 0.5,
    "escalation": 1.25,
}


def text_markers(texts: pd.Series) -> pd.DataFrame:
    lowered = texts.fillna("").astype(str).str.lower().tolist()
    return pd.DataFrame(
        {marker: [pattern.search(text) is not None for text in lowered] for marker, pattern in COMPILED_CUES.items()},
        index=texts.index, dtype=bool,
    )


def repeat_contacts(contacts: pd.DataFrame, history: pd.DataFrame | None, window_days: int) -> tuple[pd.Series, pd.Series]:
    """Whether each contact's customer had another contact in the previous ``window_days``,
    and whether that one came through a different channel (channel switch)."""
    empty = pd.Series(False, index=contacts.index)
    if s.CUSTOMER_ID not in contacts.columns:
        return empty, empty
    columns = [s.CONTACT_ID, s.CUSTOMER_ID, s.STARTED_AT] + ([s.CHANNEL] if s.CHANNEL in contacts.columns else [])
    current = contacts[columns].assign(_current=True, _index=contacts.index)
    frames = [current]
    if history is not None and len(history) and s.CUSTOMER_ID in history.columns:
        past = history[[c for c in columns if c in history.columns]]
        past = past[~past[s.CONTACT_ID].isin(contacts[s.CONTACT_ID])]
        if len(past):  # a rerun's own stored rows are left out
            frames.append(past.assign(_current=False, _index=-1))
    timeline = pd.concat(frames, ignore_index=True)
    timeline = timeline[timeline[s.CUSTOMER_ID].notna()]
    timeline[s.STARTED_AT] = pd.to_datetime(timeline[s.STARTED_AT], utc=True)
    timeline = timeline.sort_values([s.CUSTOMER_ID, s.STARTED_AT, s.CONTACT_ID], kind="mergesort")
    same_customer = timeline[s.CUSTOMER_ID].eq(timeline[s.CUSTOMER_ID].shift())
    gap = timeline[s.STARTED_AT] - timeline[s.STARTED_AT].shift()
    repeat = same_customer & (gap <= pd.Timedelta(days=window_days))
    if s.CHANNEL in timeline.columns:
        switched = repeat & timeline[s.CHANNEL].ne(timeline[s.CHANNEL].shift()) & timeline[s.CHANNEL].notna()
    else:
        switched = repeat & False
    mine = timeline["_current"].to_numpy(dtype=bool)
    index = timeline["_index"].to_numpy()[mine]
    return (
        pd.Series(repeat.to_numpy()[mine], index=index).reindex(contacts.index, fill_value=False),
        pd.Series(switched.to_numpy()[mine], index=index).reindex(contacts.index, fill_value=False),
    )


def detect_effort(contacts: pd.DataFrame, settings: EffortSettings, history: pd.DataFrame | None = None) -> pd.DataFrame:
    """``effort_<marker>`` flags and ``effort_score`` (1–5) for every contact."""
    effort = effort_markers(contacts, settings)
    repeat, switched = repeat_contacts(contacts, history, settings.repeat_window_days)
    return add_repeat_markers(effort, repeat.to_numpy(), switched.to_numpy())


def effort_markers(contacts: pd.DataFrame, settings: EffortSettings) -> pd.DataFrame:
    """The markers that need only the contact itself (text and metadata), and their score.

    Repeat contacts need the customer's other contacts: :func:`add_repeat_markers` adds them, so
    a large batch can be marked chunk by chunk and the repeats found on its small columns.
    """
    markers = text_markers(contacts[s.TEXT])
    if s.TRANSFERS in contacts.columns:
        markers["transfer"] |= contacts[s.TRANSFERS].fillna(0).astype(float) > 0
    if s.WAIT_TIME_S in contacts.columns:
        markers["long_wait"] |= contacts[s.WAIT_TIME_S].fillna(0).astype(float) >= settings.long_wait_s
    if s.RESOLVED in contacts.columns:
        markers["unresolved"] |= contacts[s.RESOLVED].astype("boolean").eq(False).fillna(False).astype(bool)
    result = markers[list(s.EFFORT_MARKERS)].add_prefix("effort_").astype(bool)
    result[s.EFFORT_SCORE] = effort_scores(result[list(s.EFFORT_COLUMNS)].to_numpy())
    return result


def add_repeat_markers(effort: pd.DataFrame, repeat: np.ndarray, switched: np.ndarray) -> pd.DataFrame:
    """``effort`` (any frame with the effort columns) with repeat contact and channel switch
    set where ``repeat`` / ``switched`` say so, and the score recomputed."""
    effort = effort.copy()
    effort["effort_repeat_contact"] = effort["effort_repeat_contact"].to_numpy(dtype=bool) | repeat
    effort["effort_channel_switch"] = effort["effort_channel_switch"].to_numpy(dtype=bool) | switched
    effort[s.EFFORT_SCORE] = effort_scores(effort[list(s.EFFORT_COLUMNS)].to_numpy())
    return effort


def effort_scores(markers: np.ndarray) -> np.ndarray:
    """1 + the weighted sum of the markers (columns in ``EFFORT_MARKERS`` order), rounded, 1–5."""
    weights = np.array([WEIGHTS[m] for m in s.EFFORT_MARKERS])
    return np.clip(np.rint(1 + markers.astype(float) @ weights), 1, 5).astype(int)

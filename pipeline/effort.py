"""Effort: the customer-effort markers of Dixon, Freeman & Toman, per contact, and a 1–5 score.

Each marker comes from metadata when the column is present and from bilingual text cues otherwise
(or in addition: a customer who *says* they were transferred was transferred). Cues are looked for
where they mean something: the customer's turns for what the customer went through (called again,
waited, was passed around, is angry), the agent's turns for what the agent did to them (sent them
to another channel, passed the case on, promised to get back instead of solving it). A text
without speaker tags counts as the customer's.

The score adds, to 1 (effortless), each marker's points and two graded text signals:

* *unconfirmed*: an agent answered, but no later customer turn confirms it helped (thanks, OK,
  solved) — the weak form of "answered but not solved";
* *length*: how far the customer's own words run past a plain request, in doublings of
  ``effort.reference_length`` (at most three) — explaining a problem at length is effort.

Their two weights come from ``effort`` in the config; benchmarks/bench_effort.py fits them on one
half of a public set of rated helpdesk dialogues and measures the score on the other half.
"""

from __future__ import annotations

import functools
import re
from bisect import bisect_right
from itertools import accumulate

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import re2

from pipeline import schemas as s
from pipeline.config import EffortSettings
from pipeline.fastngrams import text_blocks
from pipeline.normalize import split_turns

N = r"[一二三四五六七八九十两兩几幾好\d]+"  # a count: 三, 好几, 10
# What the customer says they went through (simplified and traditional forms both listed).
CUSTOMER_CUES: dict[str, str] = {
    "repeat_contact": (
        r"第[二三四五六七八九十两兩2-9]次(?:打|来|來|联系|聯繫|聯絡|找|致电|致電|反映|投诉|投訴|问|問)|又打(?:来|來|过来|過來)|又来了|又來了|"
        r"打了(?:好几|好幾|[二三四五两兩2-9])次|(?:已经|已經|都)(?:打|联系|聯繫|反映|反应|投诉|投訴|问|問)(?:过|過|了)|上次(?:说|說|讲|講)|"
        r"(?:多次|屡次|屢次|无数次|無數次|反复|反復|一再)(?:打|联系|聯繫|反映|反应|投诉|投訴|致电|致電|询问|詢問|催)|"
        rf"(?:反映|投诉|投訴|联系|聯繫|问|問)了?(?:好几|好幾|很多|{N})次|每次(?:打|联系|聯繫|问|問)|"
        r"already (?:called|contacted|phoned|emailed|written|reported|complained)|"
        r"called (?:you )?(?:twice|three times|again|several times|multiple times|many times)|"
        r"(?:second|third|fourth|fifth|umpteenth) time|calling again|contacted you before|last time you said|keep (?:calling|chasing)"
    ),
    "transfer": (
        r"转了(?:好几|好幾|[二三四两兩2-9])?(?:次|个|個)|轉了(?:好幾|[二三四兩2-9])?(?:次|個)|转来转去|轉來轉去|推来推去|推來推去|"
        r"又(?:被)?(?:转|轉)|(?:转|轉)接(?:了)?(?:好几|好幾|几|幾)次|踢皮球|互相推(?:诿|諉|脱|脫|托)|"
        r"(?:让|讓|叫)我(?:去)?(?:找|问|問|打)(?:别的|別的|其他|另外)|不归(?:我们|你们)管|不歸(?:我們|你們)管|"
        r"transferred (?:again|twice|me|around|several|multiple)|passed (?:me )?around|another department|bounced between|told me to call"
    ),
    "repeat_info": (
        rf"(?:说|說|讲|講|提供|发|發)了(?:{N})(?:遍|次)|又要我(?:重复|重複|再说|再說|报|報|提供)|重复(?:说|报|提供)|重複(?:說|報|提供)|"
        r"(?:再|重新)(?:核实|核實|验证|驗證)(?:一次|一遍)|(?:已经|已經|早就)(?:私信|发|發|提供|给|給|告诉|告訴)(?:过|過)|"
        r"repeat(?:ed)? (?:my|the) (?:details|information|account|number|story)|(?:explain|explained) (?:it )?again|"
        r"asked (?:me )?(?:for )?(?:the same|again)|told (?:you|them) (?:this )?(?:already|twice)|sent (?:you|it) already"
    ),
    "long_wait": (
        rf"等了(?:半个|半個|一个|一個|{N})(?:多)?(?:小时|小時|钟|鐘|分钟|分鐘|天|个钟|個鐘|周|星期|个月|個月)|"
        rf"(?:拖|等)了?(?:{N}|半)(?:多)?(?:天|周|星期|个月|個月)|(?:已经|已經)(?:{N}|半)(?:多)?(?:天|周|星期|个月|個月)了|"
        r"(?:排队|排隊)(?:排)?了?很久|等(?:了)?(?:好|很|这么|這麼)久|一直(?:没人接|沒人接|占线|佔線|打不通)|打不进|打不進|"
        r"迟迟|遲遲|一拖再拖|至今|到现在(?:都|还)|到現在(?:都|還)|"
        r"on hold for|waited (?:for )?(?:over |more than )?(?:an hour|\d+|half an hour|ages|forever|days|weeks)|been waiting|"
        r"kept me waiting|long wait|still waiting|for (?:days|weeks)"
    ),
    "unresolved": (
        r"(?:还是|還是|仍然|依然|一直|至今|到现在|到現在|还|還)(?:都)?(?:没|沒|未)(?:有)?(?:人)?"
        r"(?:解决|解決|好|修好|处理|處理|到账|到賬|恢复|恢復|回复|回覆|退|联系|聯繫|理)|"
        r"(?:没|沒)(?:有)?(?:人)?(?:解决|解決|回复|回覆|处理|處理|理会|理會|管)|(?:没|沒)(?:有)?(?:下文|结果|結果|消息|回音|动静|動靜)|"
        r"石沉大海|不了了之|问题依旧|問題依舊|(?:根本|完全)(?:没用|沒用)|还是不行|還是不行|还是一样|還是一樣|搞唔掂|未搞掂|"
        r"still (?:not|isn't|hasn't|doesn't|no|hasn't been|not been|broken) ?(?:fixed|resolved|working|sorted|solved)?|"
        r"(?:not|never) (?:been )?(?:fixed|resolved|sorted)|didn't (?:help|fix|solve|work)|no one (?:fixed|helped|replied)|"
        r"no (?:reply|response|answer|update)"
    ),
    "channel_switch": (
        r"(?:网上|網上|app|官网|官網|应用|應用|小程序|营业厅|營業廳|客服电话|客服電話|热线|熱線)(?:上|里|裡)?(?:也)?"
        r"(?:查不到|找不到|办不了|辦不了|弄不了|搞不定|不行)|"
        r"(?:打|拨|撥)(?:了|过|過)(?:客服)?(?:电话|電話|热线|熱線)|(?:去|到)(?:了|过|過)(?:营业厅|營業廳)|"
        r"(?:在线|線上|在線)客服(?:解决不了|解決不了|没用|沒用)|(?:先|已经|已經)(?:在)?(?:app|网上|網上)(?:试|試)过|"
        r"tried the (?:app|website|online|chat|store|phone)|(?:app|website|chat) (?:didn't|did not|couldn't|could not) (?:help|work)|"
        r"chatbot (?:was )?useless|went to the store|called the hotline"
    ),
    # escalation and anger: DESIGN §6 counts both as one marker
    "escalation": (
        r"投诉|投訴|(?:找|叫)(?:你们|你們)?(?:经理|經理|主管|领导|領導|上级|上級)|工信部|消协|消協|消委会|消委會|通讯管理局|通訊管理局|"
        r"12315|曝光|媒体|媒體|律师|律師|起诉|起訴|法院|报警|報警|"
        r"垃圾|骗子|骗人|欺骗|欺騙|欺诈|欺詐|诈骗|詐騙|流氓|无耻|無恥|坑人|坑爹|被坑|恶心|噁心|霸王|太差|差劲|差勁|"
        r"气死|氣死|愤怒|憤怒|忍无可忍|忍無可忍|受够|受夠|失望|无语|無語|敷衍|不负责|不負責|不作为|不作為|太过分|太過分|离谱|離譜|"
        r"凭什么|憑什麼|"
        r"complain(?:t)?|speak to (?:a |your )?(?:manager|supervisor)|escalate|regulator|ombudsman|lawyer|"
        r"scam|rip-?off|fraud|rubbish|terrible|worst|useless|disgust|furious|fed up|ridiculous|unacceptable"
    ),
}
# What the agent did to the customer: sent them to another channel, passed the case on, or
# promised to get back instead of solving it.
AGENT_CUES: dict[str, str] = {
    "channel_switch": (
        r"(?:请|請|麻烦|麻煩|建议|建議)(?:您)?(?:通过|通過)?(?:私信|拨打|撥打|致电|致電|前往|到营业厅|到營業廳|去营业厅|去營業廳)|"
        r"私信|营业厅|營業廳|10000|10086|10010|please (?:dm|direct message|call (?:us|our)|visit (?:a|our) store)"
    ),
    "transfer": (
        r"(?:转|轉)(?:交|给|給|至|到)(?:相关|相關|专业|專業|技术|技術|后台|後台)|(?:相关|相關)部(?:门|門)|"
        r"pass(?:ed)? (?:it|this|your case) (?:on|to)|forward(?:ed)? (?:it|this|your case)"
    ),
    "unresolved": (
        r"(?:已|会|會|将|將)(?:为您|為您|帮您|幫您)?(?:反馈|反饋|记录|記錄|上报|上報|跟进|跟進|登记|登記)|(?:核实|核實)后|(?:核實)後|"
        r"(?:敬请|敬請)(?:耐心)?等待|will (?:get back|follow up|look into)|we have (?:logged|recorded|forwarded)"
    ),
}
# A customer turn after an answer that says it helped.
CONFIRMED = re.compile(
    r"谢谢|謝謝|感谢|感謝|多谢|多謝|辛苦|好的|好滴|嗯嗯|可以了|解决了|解決了|搞定|没问题|沒問題|明白了|知道了|满意|滿意|给力|給力|"
    r"thanks|thank you|thx|cheers|that works|it works now|all sorted|appreciate",
    re.IGNORECASE,
)


def in_re2(pattern: str) -> str:
    """A lower-cased cue in RE2's syntax; a class RE2 would read differently is refused."""
    if re.search(r"\\[wWsSbBDAZ]", pattern):
        raise ValueError(f"effort cue {pattern[:40]!r}… uses a class RE2 reads differently from re")
    return pattern.lower().replace("\\d", "\\p{Nd}")


class CueSet:
    """Every marker's cue matched in one pass over a text, with RE2's set matching (a DFA: 15-20x
    faster than a search per marker with ``re`` on long transcripts, same matches).

    The cues are lower case and matched against lower-cased text: the matches of IGNORECASE.
    They are written in ``re`` syntax; the one class whose meaning differs in RE2 (``\\d``, ASCII
    there) is rewritten to its Unicode form, and the others are refused here rather than
    silently matching something else.
    """

    def __init__(self, cues: dict[str, str]) -> None:
        self.markers = tuple(cues)
        self.set = re2.Set.SearchSet(re2.Options())
        for pattern in cues.values():
            self.set.Add(in_re2(pattern))
        self.set.Compile()

    def flags(self, lowered: list[str]) -> np.ndarray:
        """One row per text, one boolean column per marker: whether its cue occurs."""
        found = np.zeros((len(lowered), len(self.markers)), dtype=bool)
        for row, text in enumerate(lowered):
            hits = self.set.Match(text)
            if hits:
                found[row, hits] = True
        return found


CUSTOMER_CUE_SET = CueSet(CUSTOMER_CUES)
AGENT_CUE_SET = CueSet(AGENT_CUES)
UNRESOLVED = re2.compile(in_re2(CUSTOMER_CUES["unresolved"]))
# Words that count towards the length signal: a Chinese character, a Latin word or a number.
WORD = re.compile(r"[\u3400-\u9fff]|[^\W\d_\u3400-\u9fff]+|\d+")
_CHINESE, _LETTER, _DIGIT = 1, 2, 3  # character classes of WORD's three alternatives


def _character_class(character: str) -> int:
    if WORD.fullmatch(character) is None:
        return 0
    return _CHINESE if "\u3400" <= character <= "\u9fff" else _DIGIT if character.isdecimal() else _LETTER


@functools.cache
def _plane_classes() -> np.ndarray:
    """WORD's class of every character of the basic plane (built once, about 50 ms)."""
    return np.fromiter((_character_class(chr(point)) for point in range(0x10000)), dtype=np.int8, count=0x10000)


def word_counts(texts: list[str]) -> np.ndarray:
    """How many WORD matches each text holds, as ``len(WORD.findall(text))`` (a test checks),
    counted with numpy over blocks of texts at once: a tenth of the regex's time."""
    counts = np.zeros(len(texts), dtype=np.int64)
    for start, stop in text_blocks(texts):
        counts[start:stop] = _block_word_counts(texts[start:stop])
    return counts


def _block_word_counts(texts: list[str]) -> np.ndarray:
    points = np.frombuffer(("\n".join(texts) + "\n").encode("utf-32-le"), dtype=np.uint32)
    classes = _plane_classes()[np.minimum(points, 0xFFFF)]
    beyond = np.flatnonzero(points > 0xFFFF)  # emoji, rare Chinese (CJK extension B …)
    if len(beyond):
        classes[beyond] = [_character_class(chr(point)) for point in points[beyond]]
    # a match starts at each Chinese character and at the first character of a letter or digit run
    before = np.concatenate(([0], classes[:-1]))
    starts = (classes == _CHINESE) | ((classes > _CHINESE) & (classes != before))
    # each text with its "\n" (class 0) is one run of ``starts``, never empty
    firsts = np.cumsum([0] + [len(text) + 1 for text in texts[:-1]])
    return np.add.reduceat(starts, firsts, dtype=np.int64)


MAX_DOUBLINGS = 3
# How much each marker adds to the score.
# The markers that need the customer's other contacts (added to a batch after its chunks).
REPEAT_MARKERS = ("repeat_contact", "channel_switch")
WEIGHTS = {
    "repeat_contact": 1.0,
    "transfer": 1.0,
    "repeat_info": 0.5,
    "long_wait": 0.75,
    "unresolved": 1.25,
    "channel_switch": 0.5,
    "escalation": 1.25,
}


def _sides(text: str) -> tuple[str, str, bool]:
    """The customer's words, the agent's words, and whether an answer went unconfirmed: no
    customer turn after the agent's first one confirms (a thanks, an OK) without also saying
    it is still unresolved."""
    customer, agent = [], []
    answered_at = -1  # the customer turns from this one on came after an answer
    for role, utterance in split_turns(text):
        if role == "agent":
            agent.append(utterance)
            if answered_at < 0:
                answered_at = len(customer)
        else:
            customer.append(utterance)
    said, heard = "\n".join(customer), "\n".join(agent)
    if answered_at < 0:
        return said, heard, False
    # one search over the turns after the answer (a cue never spans the newline between two),
    # then the unresolved check on the turn of each cue found
    starts = list(accumulate((len(u) + 1 for u in customer), initial=0))
    for cue in CONFIRMED.finditer(said, starts[answered_at]):
        turn = customer[bisect_right(starts, cue.start()) - 1]
        if not UNRESOLVED.search(turn.lower()):
            return said, heard, False
    return said, heard, True


def text_signals(texts: pd.Series, reference_length: int = 60) -> pd.DataFrame:
    """The seven marker flags from text cues, ``unconfirmed`` and ``length`` (doublings, 0–3)."""
    sides = [_sides(text) for text in texts.fillna("").astype(str)]
    found = CUSTOMER_CUE_SET.flags([c.lower() for c, _, _ in sides])
    signals = pd.DataFrame(found, columns=list(CUSTOMER_CUE_SET.markers), index=texts.index)
    by_agent = AGENT_CUE_SET.flags([a.lower() for _, a, _ in sides])
    for column, marker in enumerate(AGENT_CUE_SET.markers):
        signals[marker] |= by_agent[:, column]
    words = pd.Series(word_counts([c for c, _, _ in sides]), index=texts.index).clip(lower=1)
    signals["unconfirmed"] = [unconfirmed for _, _, unconfirmed in sides]
    signals["length"] = np.log2(words / reference_length).clip(0, MAX_DOUBLINGS)
    return signals


def text_markers(texts: pd.Series) -> pd.DataFrame:
    return text_signals(texts)[list(s.EFFORT_MARKERS)]


TIMELINE_COLUMNS = (s.CONTACT_ID, s.CUSTOMER_ID, s.STARTED_AT, s.CHANNEL)


def timeline_table(contacts: pd.DataFrame) -> pa.Table:
    """What repeat contacts need of ``contacts`` (id, customer, time, channel when present), as
    Arrow columns: a few dozen bytes a contact where pandas' Python strings take hundreds.
    Times keep the time zone they have (text is read as UTC, as ``pd.to_datetime`` does)."""
    columns = {}
    for column in (c for c in TIMELINE_COLUMNS if c in contacts.columns):
        values = contacts[column]
        if column == s.STARTED_AT:
            times = values if isinstance(values.dtype, pd.DatetimeTZDtype) else pd.to_datetime(values, utc=True)
            columns[column] = pa.array(times, from_pandas=True)
        else:
            text = values if values.map(type).eq(str).all() else values.map(lambda v: None if pd.isna(v) else str(v))
            columns[column] = pa.array(text, type=pa.string(), from_pandas=True)
    return pa.table(columns)


def repeat_contacts(contacts: pd.DataFrame, history: pd.DataFrame | None, window_days: int) -> tuple[pd.Series, pd.Series]:
    """Whether each contact's customer had another contact in the previous ``window_days``,
    and whether that one came through a different channel (channel switch)."""
    if s.CUSTOMER_ID not in contacts.columns:
        empty = pd.Series(False, index=contacts.index)
        return empty, empty
    past = None if history is None or not len(history) or s.CUSTOMER_ID not in history.columns else timeline_table(history)
    repeat, switched = repeat_flags(timeline_table(contacts), past, window_days)
    return pd.Series(repeat, index=contacts.index), pd.Series(switched, index=contacts.index)


def repeat_flags(current: pa.Table, past: pa.Table | None, window_days: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`repeat_contacts` on :func:`timeline_table` columns: the flags of ``current``'s rows.

    Each customer's contacts, ``current``'s and ``past``'s (but those with an id of
    ``current``: a rerun's own), are put in order of time, then id; a contact within
    ``window_days`` of the customer's one before it is a repeat, and a channel switch when
    that one came through another channel.
    """
    if s.CUSTOMER_ID not in current.column_names or s.STARTED_AT not in current.column_names:  # no time, no repeat
        return np.zeros(current.num_rows, dtype=bool), np.zeros(current.num_rows, dtype=bool)
    names = [c for c in TIMELINE_COLUMNS if c in current.column_names]
    tables = [current]
    if past is not None and past.num_rows:
        past = past.filter(pc.invert(pc.is_in(past[s.CONTACT_ID], value_set=current[s.CONTACT_ID].combine_chunks())))
        tables.append(pa.table({c: past[c] if c in past.column_names else pa.nulls(past.num_rows, current.schema.field(c).type) for c in names}))
    codes = {c: _codes(_joined(tables, c)) for c in (s.CUSTOMER_ID, s.CHANNEL) if c in names}
    # times as UTC nanoseconds; a missing time goes last within its customer and repeats nothing
    times = [pc.fill_null(t[s.STARTED_AT].cast(pa.int64()), NO_TIME).to_numpy() for t in tables]
    time = np.concatenate(times) if len(times) > 1 else times[0]
    ids = _joined(tables, s.CONTACT_ID)
    rank = pc.rank(ids, sort_keys="ascending", tiebreaker="dense").to_numpy()
    customer = codes[s.CUSTOMER_ID]
    known = np.flatnonzero(customer >= 0)
    order = known[np.lexsort((rank[known], time[known], customer[known]))]  # stable, as the ties came
    customer, time = customer[order], time[order]
    repeat = np.zeros(len(order), dtype=bool)
    repeat[1:] = (
        (customer[1:] == customer[:-1]) & (time[1:] != NO_TIME) & (time[:-1] != NO_TIME)
        & (time[1:] - time[:-1] <= window_days * DAY_NS)
    )
    switched = np.zeros(len(order), dtype=bool)
    if s.CHANNEL in codes:
        channel = codes[s.CHANNEL][order]
        switched[1:] = repeat[1:] & (channel[1:] != channel[:-1]) & (channel[1:] >= 0)
    flags = np.zeros((2, ids.length()), dtype=bool)
    flags[:, order] = repeat, switched
    return flags[0, : current.num_rows], flags[1, : current.num_rows]


NO_TIME = np.iinfo(np.int64).max
DAY_NS = 86_400 * 10**9


def _joined(tables: list[pa.Table], column: str) -> pa.ChunkedArray:
    return pa.chunked_array([chunk for table in tables for chunk in table[column].chunks], type=tables[0].schema.field(column).type)


def _codes(values: pa.ChunkedArray) -> np.ndarray:
    """One integer per distinct value, -1 for a missing one."""
    encoded = values.combine_chunks().dictionary_encode()
    return pc.fill_null(encoded.indices.cast(pa.int64()), -1).to_numpy()


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
    signals = text_signals(contacts[s.TEXT], settings.reference_length)
    if s.TRANSFERS in contacts.columns:
        signals["transfer"] |= contacts[s.TRANSFERS].fillna(0).astype(float) > 0
    if s.WAIT_TIME_S in contacts.columns:
        signals["long_wait"] |= contacts[s.WAIT_TIME_S].fillna(0).astype(float) >= settings.long_wait_s
    if s.RESOLVED in contacts.columns:
        resolved = contacts[s.RESOLVED].astype("boolean")
        signals["unresolved"] |= resolved.eq(False).fillna(False).astype(bool)
        signals["unconfirmed"] &= ~resolved.eq(True).fillna(False).astype(bool)  # the record says it was solved
    result = signals[list(s.EFFORT_MARKERS)].add_prefix("effort_").astype(bool)
    result[s.EFFORT_SCORE] = effort_score(signals, settings)
    return result


def effort_score(signals: pd.DataFrame, settings: EffortSettings) -> pd.Series:
    """1 plus the points of each marker, of an unconfirmed answer and of length; 1–5, one decimal."""
    weights = np.array([WEIGHTS[m] for m in s.EFFORT_MARKERS])
    raw = (
        signals[list(s.EFFORT_MARKERS)].to_numpy(dtype=float) @ weights
        + settings.unconfirmed_weight * signals["unconfirmed"].to_numpy(dtype=float)
        + settings.length_weight * signals["length"].to_numpy(dtype=float)
    )
    return pd.Series(np.clip(1 + raw, 1, 5).round(1), index=signals.index)


def add_repeat_markers(effort: pd.DataFrame, repeat: np.ndarray, switched: np.ndarray) -> pd.DataFrame:
    """``effort`` (any frame with the effort columns) with repeat contact and channel switch
    set where ``repeat`` / ``switched`` say so, and their points added to the score."""
    effort = effort.copy()
    before = [effort[f"effort_{m}"].to_numpy(dtype=bool) for m in REPEAT_MARKERS]
    effort[s.EFFORT_SCORE] = raised_scores(effort[s.EFFORT_SCORE].to_numpy(dtype=float), before, [repeat, switched])
    for marker, was, flags in zip(REPEAT_MARKERS, before, (repeat, switched), strict=True):
        effort[f"effort_{marker}"] = was | flags
    return effort


def raised_scores(scores: np.ndarray, before: list[np.ndarray], after: list[np.ndarray]) -> np.ndarray:
    """``scores`` plus the points of the :data:`REPEAT_MARKERS` set in ``after`` but not in
    ``before`` (flag arrays in that order), still at most 5 and to one decimal."""
    added = sum(WEIGHTS[m] * (new & ~old) for m, old, new in zip(REPEAT_MARKERS, before, after, strict=True))
    return np.minimum(scores + added, 5).round(1)

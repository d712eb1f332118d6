import importlib.util
from pathlib import Path

import pandas as pd
import pytest

from pipeline.config import EffortSettings
from pipeline.effort import WORD, detect_effort, repeat_contacts, text_markers, text_signals, word_counts
from tests.conftest import shared_data


@pytest.mark.parametrize(
    ("text", "marker"),
    [
        ("这是我第三次打电话了，还是不行", "repeat_contact"),
        ("I already called twice about this", "repeat_contact"),
        ("转了好几次都没人管", "transfer"),
        ("you transferred me again to billing", "transfer"),
        ("我已经说了三遍我的号码", "repeat_info"),
        ("等了半个小时才有人接", "long_wait"),
        ("I was on hold for 40 minutes", "long_wait"),
        ("问题还是没解决", "unresolved"),
        ("問題依舊，仲係搞唔掂", "unresolved"),
        ("my internet is still not fixed", "unresolved"),
        ("网上查不到我的账单", "channel_switch"),
        ("tried the app first but it didn't work", "channel_switch"),
        ("我要投诉，叫你们经理来", "escalation"),
        ("this is unacceptable, I want to speak to a manager", "escalation"),
    ],
)
def test_text_cues_find_each_marker(text, marker):
    flags = text_markers(pd.Series([text])).iloc[0]
    assert flags[marker], flags.to_dict()


@pytest.mark.parametrize("text", ["请问怎么查流量", "How do I top up my prepaid SIM?", "我想办理5G套餐"])
def test_plain_questions_carry_no_effort_marker(text):
    assert not text_markers(pd.Series([text])).iloc[0].any()


def contacts(rows):
    frame = pd.DataFrame(rows, columns=["contact_id", "customer_id", "started_at", "channel", "text"])
    frame["started_at"] = pd.to_datetime(frame["started_at"], utc=True)
    return frame


def test_repeat_contact_across_channels_within_the_window():
    frame = contacts(
        [
            ("1", "u1", "2026-11-01 09:00", "phone", "a"),
            ("2", "u1", "2026-11-05 09:00", "chat", "b"),
            ("3", "u1", "2026-11-20 09:00", "chat", "c"),
            ("4", "u2", "2026-11-05 10:00", "phone", "d"),
        ]
    )
    repeat, switched = repeat_contacts(frame, None, window_days=7)
    assert repeat.tolist() == [False, True, False, False]
    assert switched.tolist() == [False, True, False, False]


def test_repeat_contact_sees_the_history_of_earlier_runs():
    today = contacts([("9", "u1", "2026-11-20 09:00", "phone", "a")])
    history = contacts([("8", "u1", "2026-11-18 09:00", "phone", "b")])
    repeat, switched = repeat_contacts(today, history, window_days=7)
    assert repeat.tolist() == [True] and switched.tolist() == [False]


def test_history_holding_only_todays_own_contacts_is_no_repeat():
    today = contacts([("9", "u1", "2026-11-20 09:00", "phone", "a")])
    repeat, _ = repeat_contacts(today, today.copy(), window_days=7)  # a rerun sees its own rows
    assert repeat.tolist() == [False]


def test_metadata_markers_and_score():
    frame = contacts([("1", "u1", "2026-11-01", "phone", "hello"), ("2", "u2", "2026-11-01", "phone", "hello")])
    frame["transfers"] = [2, 0]
    frame["wait_time_s"] = [900, 10]
    frame["resolved"] = pd.array([False, True], dtype="boolean")
    effort = detect_effort(frame, EffortSettings())
    assert effort.loc[0, ["effort_transfer", "effort_long_wait", "effort_unresolved"]].all()
    assert effort["effort_score"].tolist()[1] == 1
    assert 3 <= effort["effort_score"].tolist()[0] <= 5


@pytest.mark.parametrize(
    ("text", "marker"),
    [
        ("客户：我的宽带断了\n客服：请您私信我们您的宽带账号", "channel_switch"),
        ("客户：流量被多扣了\n客服：已为您反馈，请耐心等待回复", "unresolved"),
        ("Customer: my bill is wrong\nAgent: I've passed this on to billing, they will get back to you", "transfer"),
        ("客户：你们就是骗子，乱扣费", "escalation"),
    ],
)
def test_agent_turns_and_anger_raise_markers(text, marker):
    assert text_markers(pd.Series([text])).iloc[0][marker]


def test_cues_are_read_in_the_right_speaker_turns():
    # the agent offering to file a complaint ticket is not the customer escalating
    flags = text_markers(pd.Series(["客户：手机没信号\n坐席：我这边帮您提交一个投诉工单"])).iloc[0]
    assert not flags["escalation"]


def test_unconfirmed_answers_and_long_messages_are_graded():
    texts = pd.Series([
        "客户：怎么查话费\n客服：发送CXHF到10001\n客户：好的，谢谢",
        "客户：怎么查话费\n客服：发送CXHF到10001",
        "客户：怎么查话费\n客服：发送CXHF到10001\n客户：谢谢，但是还是没解决",
        "怎么查话费",
        "客户：" + "我的宽带" * 60,
        # thanks before the answer count for nothing; a thanks in an unresolved turn neither,
        # a later plain one confirms
        "客户：谢谢，怎么查话费\n客服：发送CXHF到10001\n客户：谢谢，还是没解决\n客服：再试一次\n客户：好的，谢谢",
        "客户：谢谢，怎么查话费\n客服：发送CXHF到10001\n客户：谢谢，还是没解决\n客户：没解决",
    ])
    signals = text_signals(texts, reference_length=60)
    assert signals["unconfirmed"].tolist() == [False, True, True, False, False, False, True]
    assert signals["length"].tolist()[:4] == [0, 0, 0, 0]
    assert signals["length"].iloc[4] == pytest.approx(2.0)  # 240 characters: two doublings of 60


def test_word_counts_are_the_regex_s_match_counts(monkeypatch):
    texts = [
        "", "a", "我的宽带断了", "5G套餐 upgrade_now 128GB!!", "abc123中文x9 😀𠀀𠀁ab", "Ⅻ ½ ٣٤ ab١٢ café",
        "line\nbreak\n\n", "\u33ff\u3400\u9fff\ua000", "__", "x" * 300,
    ]
    assert word_counts(texts).tolist() == [len(WORD.findall(text)) for text in texts]
    assert word_counts([]).tolist() == []
    import pipeline.fastngrams

    monkeypatch.setattr(pipeline.fastngrams, "BLOCK_CHARS", 20)  # in blocks of a few texts, "x" * 300 alone
    assert word_counts(texts).tolist() == [len(WORD.findall(text)) for text in texts]


def test_score_stays_within_1_and_5_and_a_resolved_record_confirms_the_answer():
    frame = contacts([
        ("1", "u1", "2026-11-01", "phone", "客户：网断了\n坐席：已为您上报，请耐心等待"),
        ("2", "u2", "2026-11-01", "phone", "客户：网断了\n坐席：已为您上报，请耐心等待"),
        ("3", "u3", "2026-11-01", "phone", "客户：第三次打电话了，转了好几次，等了一个小时，还是没解决，我要投诉，网上查不到，说了三遍" * 3),
    ])
    frame["resolved"] = pd.array([True, pd.NA, pd.NA], dtype="boolean")
    settings = EffortSettings()
    effort = detect_effort(frame, settings)
    assert effort["effort_score"].between(1, 5).all() and effort["effort_score"].iloc[2] == 5
    # the record says the first was solved: only the unresolved cue counts, not the missing thanks
    assert effort["effort_score"].iloc[1] - effort["effort_score"].iloc[0] == pytest.approx(settings.unconfirmed_weight, abs=0.06)  # scores carry one decimal


def _benchmark():
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_effort.py"
    spec = importlib.util.spec_from_file_location("bench_effort", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_effort_score_tracks_real_satisfaction_on_held_out_dialogues():
    """STC-3: the score (weights fitted on the other half) against the annotators' mean satisfaction."""
    bench = _benchmark()
    figures = bench.held_out_figures(bench.load_dialogues(shared_data("stc3_helpdesk")))
    assert figures["dialogues"] > 1000
    assert figures["effort_score"] <= -0.40
    assert figures["effort_score"] < figures["length_only"] - 0.1


def test_cue_sets_match_exactly_what_re_matches(demo_data):
    """RE2's one-pass set matching gives, marker by marker, the matches of Python's ``re``,
    including Unicode digits (full-width, Arabic-Indic) that RE2's own ``\\d`` would miss."""
    import re

    from pipeline.effort import AGENT_CUE_SET, AGENT_CUES, CUSTOMER_CUE_SET, CUSTOMER_CUES

    texts = demo_data.labelled["text"].str.lower().tolist()[:3000] + [
        "等了３天了", "打了٣次", "等了3个小时", "i waited ４ hours", "called twice", "", "说了２遍",
    ]
    for cue_set, cues in ((CUSTOMER_CUE_SET, CUSTOMER_CUES), (AGENT_CUE_SET, AGENT_CUES)):
        expected = [[bool(re.search(cues[m].lower(), text)) for m in cue_set.markers] for text in texts]
        assert cue_set.flags(texts).tolist() == expected
    assert CUSTOMER_CUE_SET.flags(["等了３天了"])[0, CUSTOMER_CUE_SET.markers.index("long_wait")]


def test_a_cue_re2_would_read_differently_is_refused():
    from pipeline.effort import CueSet

    with pytest.raises(ValueError, match="RE2 reads differently"):
        CueSet({"long_wait": r"waited\s+long"})


def test_no_contacts_have_no_repeats():
    empty = contacts([]).iloc[:0]
    repeat, switched = repeat_contacts(empty, empty, window_days=7)
    assert repeat.empty and switched.empty

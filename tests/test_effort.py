import pandas as pd
import pytest

from pipeline.config import EffortSettings
from pipeline.effort import detect_effort, repeat_contacts, text_markers


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


def test_metadata_markers_and_score():
    frame = contacts([("1", "u1", "2026-11-01", "phone", "hello"), ("2", "u2", "2026-11-01", "phone", "hello")])
    frame["transfers"] = [2, 0]
    frame["wait_time_s"] = [900, 10]
    frame["resolved"] = pd.array([False, True], dtype="boolean")
    effort = detect_effort(frame, EffortSettings())
    assert effort.loc[0, ["effort_transfer", "effort_long_wait", "effort_unresolved"]].all()
    assert effort["effort_score"].tolist()[1] == 1
    assert 3 <= effort["effort_score"].tolist()[0] <= 5

import numpy as np
import pandas as pd
import pytest

from pipeline.config import ColumnSettings, IngestSettings
from pipeline.errors import InputError
from pipeline.ingest import DatedIds, IdSet, ingest_contacts, parse_timestamps


def raw(rows, columns=("contact_id", "text", "started_at")):
    frame = pd.DataFrame(rows, columns=list(columns))
    frame.insert(0, "source_row", range(1, len(frame) + 1))
    frame.insert(0, "source_file", "in.csv")
    return frame


def ingest(frame, **kwargs):
    return ingest_contacts(frame, ColumnSettings(), IngestSettings(**kwargs.pop("settings", {})), **kwargs)


def test_every_row_is_kept_or_rejected_with_a_reason():
    frame = raw(
        [
            ("1", "网络没信号", "2026-11-20T09:00:00+08:00"),
            (None, "text", "2026-11-20"),
            ("3", "   ", "2026-11-20"),
            ("4", "bill wrong", "yesterday"),
            ("1", "duplicate", "2026-11-20"),
            ("6", "fine", "2026-11-20 10:00"),
        ]
    )
    result = ingest(frame)
    assert len(result.contacts) + len(result.rejects) == len(frame)
    reasons = dict(zip(result.rejects["source_row"], result.rejects["reason_rejected"]))
    assert reasons[2] == "missing contact_id"
    assert reasons[3] == "empty text"
    assert reasons[4].startswith("unparseable started_at")
    assert reasons[5] == "duplicate contact_id in this batch (first at row 1)"
    assert result.contacts["contact_id"].tolist() == ["1", "6"]


def test_ids_already_stored_are_rejected():
    result = ingest(raw([("1", "a", "2026-11-20"), ("2", "b", "2026-11-20")]), known_ids=frozenset({"2"}))
    assert result.rejects["reason_rejected"].tolist() == ["contact_id already stored by an earlier run"]


def dated(stored, window_days=1):
    """Ids stored by date, recording which dates were read."""
    read = []

    def load(contact_date):
        read.append(contact_date)
        return IdSet.of(stored[contact_date])

    return DatedIds(stored, load, window_days), read


def test_an_id_stored_under_a_nearby_date_is_rejected_and_far_dates_are_never_read():
    known, read = dated({"2026-11-19": ["a"], "2026-11-20": ["b"], "2026-11-23": ["c"], "2025-01-01": ["d", "e"]})
    rows = [("a", "t", "2026-11-20"), ("b", "t", "2026-11-20T23:30:00+08:00"), ("c", "t", "2026-11-20"),
            ("d", "t", "2026-11-20"), ("e", "t", "2025-01-02"), ("f", "t", "2026-11-20")]
    result = ingest(raw(rows), known_ids=known)
    assert result.rejects["contact_id"].tolist() == ["a", "b", "e"]
    assert set(result.rejects["reason_rejected"]) == {"contact_id already stored by an earlier run"}
    # c is stored three days later, d a year and more earlier: other contacts that reuse an id
    assert result.contacts["contact_id"].tolist() == ["c", "d", "f"]
    assert sorted(read) == ["2025-01-01", "2026-11-19", "2026-11-20"]  # 2026-11-23 is out of every row's window


def test_a_window_of_zero_days_checks_the_same_date_only_and_no_timestamps_check_every_date():
    stored = {"2026-11-19": ["a"], "2026-11-20": ["b"]}
    known, _ = dated(stored, window_days=0)
    result = ingest(raw([("a", "t", "2026-11-20"), ("b", "t", "2026-11-20")]), known_ids=known)
    assert result.rejects["contact_id"].tolist() == ["b"]
    known, read = dated(stored, window_days=0)
    result = ingest(raw([("a", "t"), ("b", "t"), ("z", "t")], columns=("contact_id", "text")), known_ids=known, required=("contact_id", "text"))
    assert result.rejects["contact_id"].tolist() == ["a", "b"] and sorted(read) == ["2026-11-19", "2026-11-20"]


def test_over_long_text_is_truncated_and_flagged_not_rejected():
    result = ingest(raw([("1", "长" * 50, "2026-11-20")]), settings={"max_text_chars": 10})
    assert result.contacts["text"].iloc[0] == "长" * 10
    assert bool(result.contacts["text_truncated"].iloc[0])


def test_missing_required_column_names_the_fix():
    with pytest.raises(InputError, match=r"\['text'\].*columns"):
        ingest(raw([("1", "2026-11-20")], columns=("contact_id", "started_at")))


def test_configured_column_names_are_mapped():
    frame = raw([("1", "话费太贵", "2026-11-20")], columns=("id", "body", "ts"))
    result = ingest_contacts(frame, ColumnSettings(contact_id="id", text="body", started_at="ts"), IngestSettings())
    assert result.contacts["text"].tolist() == ["话费太贵"]


def test_timestamps_with_and_without_offset_land_on_the_local_date():
    parsed = parse_timestamps(pd.Series(["2026-11-20T23:30:00Z", "2026-11-20T23:30:00", "bad", None]), "Asia/Shanghai")
    assert parsed.iloc[0].strftime("%Y-%m-%d %H:%M") == "2026-11-21 07:30"
    assert parsed.iloc[1].strftime("%Y-%m-%d %H:%M") == "2026-11-20 23:30"
    assert parsed.iloc[2:].isna().all()


def test_a_zone_written_as_utc_or_gmt_is_read_as_its_offset():
    values = ["2026-11-20 10:00:00 UTC", "2026-11-20 10:00:00.123456 UTC", "2026-11-20T10:00:00utc",
              "2026-11-20 10:00 GMT+8", "2026-11-20 10:00 UTC-05:00", "2026-11-20 10:00:00 GMT+0530", "UTC", "2026-11-20 UTC"]
    parsed = parse_timestamps(pd.Series(values), "Asia/Shanghai")
    assert [t.strftime("%Y-%m-%d %H:%M:%S.%f") if pd.notna(t) else None for t in parsed] == [
        "2026-11-20 18:00:00.000000", "2026-11-20 18:00:00.123456", "2026-11-20 18:00:00.000000",
        "2026-11-20 10:00:00.000000", "2026-11-20 23:00:00.000000", "2026-11-20 12:30:00.000000", None, None,
    ]


_TIME_COLUMNS = {
    "the usual": ["2026-11-20T05:23:11+08:00", "2026-11-21T00:00:00+08:00", None],
    "aware": ["2026-11-20T05:23:11+08:00", "2026-11-20 05:23:11.123456789-05:30", "2026-11-20T23:30:00Z", "2026-11-20T23:30z", "2026-11-20T01:02:03+0100", None],
    "aware, one impossible": ["2026-11-20T05:23:11+08:00", "2026-02-30T00:00:00+08:00"],
    "naive": ["2026-11-20", "2026-11-20 05:23", "2026-11-20T05:23:11.5", None, None],
    "naive around the clock changes": ["2026-03-29T02:30:00", "2026-10-25T02:30:00", "2026-10-25T03:30:00"],
    "mixed": ["2026-11-20T23:30:00Z", "2026-11-20T23:30:00", "bad", None],
    "padded": [" 2026-11-20T05:23:11+08:00", "2026-11-20T05:23:11+08:00\n"],
    "other shapes": ["2026/11/20 05:23", "20261120T052311Z", "２０２６-11-20"],
    "offsets in hours": ["2026-11-20T05:23:11+08", "2026-11-20T05:23:11 -8", "2026-11-20"],
    "zone names": ["2026-11-20 05:23:11 UTC", "2026-11-20T05:23:11 GMT+8", "2026-11-20T05:23:11"],
    "missing": [None, None],
    "numbers": [20261120, None],
}


@pytest.mark.parametrize("timezone", ["Asia/Shanghai", "Europe/Berlin"])
@pytest.mark.parametrize("values", _TIME_COLUMNS.values(), ids=_TIME_COLUMNS.keys())
def test_arrow_parses_usual_times_as_pandas_does(values, timezone, monkeypatch):
    import pipeline.ingest

    column = pd.Series(values, dtype=object, index=range(10, 10 + len(values)))
    fast = parse_timestamps(column, timezone)
    monkeypatch.setattr(pipeline.ingest, "_arrow_timestamps", lambda *args: None)
    pd.testing.assert_series_equal(fast, parse_timestamps(column, timezone))


def test_arrow_takes_the_usual_columns():
    from pipeline.ingest import _arrow_timestamps

    parsed = _arrow_timestamps(pd.Series(["2026-11-20T23:30:00Z", None], index=[7, 9]), "Asia/Shanghai")
    assert parsed.index.tolist() == [7, 9]
    assert parsed.iloc[0] == pd.Timestamp("2026-11-21 07:30", tz="Asia/Shanghai") and parsed.isna().tolist() == [False, True]
    assert _arrow_timestamps(pd.Series(["2026-11-20 05:23", "2026-11-20"]), "Asia/Shanghai") is not None
    assert _arrow_timestamps(pd.Series(["2026-11-20T23:30:00Z", "2026-11-20T23:30:00"]), "Asia/Shanghai") is None


def test_control_characters_are_removed_and_metadata_typed():
    frame = raw([("1", "a\x00b\x07c", "2026-11-20", "12.5", "yes", "Phone")],
                columns=("contact_id", "text", "started_at", "handle_time_s", "resolved", "channel"))
    contact = ingest(frame).contacts.iloc[0]
    assert contact["text"] == "a b c"
    assert contact["handle_time_s"] == 12.5
    assert contact["resolved"] is True or contact["resolved"] == True  # noqa: E712 (pandas boolean)
    assert contact["channel"] == "phone"


def test_id_set_numbers_the_ids_it_holds_across_many_additions():
    held = IdSet()
    for start in range(0, 1000, 70):  # chunks of a batch: several sorted runs, merged as they grow
        ids = [f"C{i}" for i in range(start, min(start + 70, 1000))]
        held.add(pd.Series(ids, dtype=object), np.arange(start, start + len(ids)) + 2)
    asked = pd.Series(["C0", "C999", "C1000", None, "c5", "C512"], dtype=object)
    numbers = held.numbers(asked)
    assert numbers.isna().tolist() == [False, False, True, True, True, False]
    assert numbers.dropna().astype(int).tolist() == [2, 1001, 514]
    assert len(held) == 1000 and len(held.runs) < 6


def test_id_set_tells_apart_ids_whose_first_hash_halves_collide(monkeypatch):
    import pipeline.ingest

    halves = {"A": (1, 5), "B": (1, 7), "C": (2, 1), "D": (1, 6), "E": (0, 5)}

    def keys(ids: pd.Series) -> np.ndarray:
        return np.array([halves[i] for i in ids], dtype=pipeline.ingest.KEY)

    monkeypatch.setattr(pipeline.ingest, "_keys", keys)
    held = IdSet()
    held.add(pd.Series(["A", "B", "C"], dtype=object), np.array([10, 11, 12]))
    numbers = held.numbers(pd.Series(["B", "A", "D", "C", "E"], dtype=object))
    assert numbers.tolist()[:2] == [11, 10] and numbers.isna().tolist() == [False, False, True, False, True]
    assert numbers[3] == 12


def test_an_id_in_an_earlier_chunk_is_a_duplicate_naming_its_first_row():
    first = ingest(raw([("1", "a", "2026-11-20"), ("2", "b", "2026-11-20")]))
    earlier = IdSet()
    earlier.add(first.first_ids, first.first_rows)
    second = ingest(raw([("2", "c", "2026-11-20"), ("3", "d", "2026-11-20")]), earlier_rows=earlier)
    assert second.rejects["reason_rejected"].tolist() == ["duplicate contact_id in this batch (first at row 2)"]
    assert second.contacts["contact_id"].tolist() == ["3"]


@pytest.mark.parametrize(
    "times",
    [
        pd.Series(pd.date_range("2026-11-20", periods=50, freq="1733s", tz="Asia/Shanghai")),
        pd.Series(pd.date_range("2026-10-24 23:00", periods=50, freq="7min", tz="Europe/Berlin")),  # the clocks go back
        pd.Series(pd.date_range("2026-11-20", periods=5, freq="1500ms", tz="America/St_Johns")),  # fractions, -03:30
        pd.Series(pd.to_datetime(["2026-11-20T05:23:11.000000001Z", None, "1969-12-31T23:59:59.000000000Z"], utc=True)),
        pd.Series(pd.date_range("1969-12-31 23:59:58", periods=3, freq="s", tz="UTC")),
        pd.Series([], dtype="datetime64[ns, Asia/Shanghai]"),
    ],
)
def test_times_are_stored_as_their_isoformat(times):
    from pipeline.ingest import iso_strings

    expected = [t.isoformat() if pd.notna(t) else None for t in times]
    assert iso_strings(times.set_axis(range(3, 3 + len(times)))).tolist() == expected

"""Chunked, multi-process scoring gives exactly what one chunk in one process gives."""

from concurrent.futures.process import BrokenProcessPool
from datetime import timedelta

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.batch import ChunkScorer, _checked, whole
from pipeline.config import RuntimeSettings, load_config
from pipeline.demo import DEMO_END
from pipeline.errors import ScoringError
from pipeline.jobs import Workspace, run_job, score_job
from pipeline.modelstore import LoadedModel, save_model
from pipeline.store import StoredTexts, batch_path, read_store, stored_ids

REPORTS = ["hotspots.csv", "quadrants.csv", "root_causes.csv", "trend.csv", "review_queue.csv", "self_service.csv",
           "rejects.csv", "report.html"]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, trained):
    folder = tmp_path_factory.mktemp("model")
    return save_model(trained.model, folder / "1", {"name": "m", "version": "1", "unknown_threshold": 0.3, "labels": list(trained.model.classes_)})


@pytest.fixture(scope="module")
def batch_input(demo_data):
    """Five demo days with customers (repeat contacts) and the bad rows a real export holds:
    duplicates within a chunk and across chunks, a missing id, an empty text, a bad time."""
    contacts = demo_data.contacts
    days = contacts["started_at"].str[:10]
    recent = contacts[days >= (DEMO_END - timedelta(days=4)).isoformat()].reset_index(drop=True)
    bad = pd.DataFrame(
        [
            {**recent.iloc[5].to_dict()},  # a duplicate of an early row, far away: another chunk
            {**recent.iloc[len(recent) - 3].to_dict()},  # a duplicate within the last chunk
            {**recent.iloc[7].to_dict(), "contact_id": ""},
            {**recent.iloc[8].to_dict(), "contact_id": "x-empty", "text": "  "},
            {**recent.iloc[9].to_dict(), "contact_id": "x-time", "started_at": "yesterday"},
        ]
    )
    return pd.concat([recent, bad], ignore_index=True)


def nightly(tmp_path, model_dir, batch_input, **runtime):
    config = load_config()
    config = config.model_copy(update={"runtime": RuntimeSettings(**runtime)})
    tmp_path.mkdir(parents=True, exist_ok=True)
    workspace = Workspace(config, tmp_path)
    source = tmp_path / "input.csv"
    batch_input.to_csv(source, index=False)
    # a batch of an earlier night already holds one of today's ids: rejected as already stored
    earlier = tmp_path / "earlier.csv"
    batch_input.iloc[[11]].to_csv(earlier, index=False)
    run_job(workspace, DEMO_END - timedelta(days=1), source=earlier, model_dir=model_dir)
    return run_job(workspace, DEMO_END, source=source, model_dir=model_dir)


def test_chunks_on_two_processes_give_the_store_and_reports_of_one_chunk(tmp_path, model_dir, batch_input):
    one = nightly(tmp_path / "one", model_dir, batch_input, chunk_rows=10**6, workers=1)
    many = nightly(tmp_path / "many", model_dir, batch_input, chunk_rows=800, workers=2)
    assert one.counts == many.counts
    assert one.counts["rows_read"] == len(batch_input) and one.counts["rows_rejected"] == 6
    for name in REPORTS:
        assert (one.reports / name).read_bytes() == (many.reports / name).read_bytes(), name
    rejects = pd.read_csv(many.reports / "rejects.csv", encoding="utf-8-sig")
    assert rejects["reason_rejected"].str.startswith("duplicate contact_id in this batch (first at row 6)").sum() == 1
    assert rejects["reason_rejected"].str.contains("already stored").sum() == 1
    stored_one = sorted((tmp_path / "one" / "store").rglob("*.parquet"))
    stored_many = sorted((tmp_path / "many" / "store").rglob("*.parquet"))
    assert [p.relative_to(tmp_path / "one") for p in stored_one] == [p.relative_to(tmp_path / "many") for p in stored_many]
    for left, right in zip(stored_one, stored_many):
        pd.testing.assert_frame_equal(pd.read_parquet(left), pd.read_parquet(right))
    assert pd.read_parquet(tmp_path / "many" / "store")["effort_repeat_contact"].any()
    assert not list((tmp_path / "many" / "store").glob(".spill-*"))  # the spilled chunks are gone


def test_score_job_in_chunks_writes_what_one_chunk_writes(tmp_path, model_dir, batch_input):
    source = tmp_path / "input.csv"
    batch_input.to_csv(source, index=False)
    outputs = {}
    for name, runtime in {"one": RuntimeSettings(chunk_rows=10**6, workers=1), "many": RuntimeSettings(chunk_rows=900, workers=1)}.items():
        (tmp_path / name).mkdir()
        workspace = Workspace(load_config().model_copy(update={"runtime": runtime}), tmp_path / name)
        for suffix in ("parquet", "csv"):
            output = tmp_path / name / f"scored.{suffix}"
            summary = score_job(workspace, model_dir, source, output)
            outputs[name, suffix] = output
    assert summary["scored"] + summary["rejected"] == summary["read"] == len(batch_input)
    pd.testing.assert_frame_equal(pd.read_parquet(outputs["one", "parquet"]), pd.read_parquet(outputs["many", "parquet"]))
    assert outputs["one", "csv"].read_bytes() == outputs["many", "csv"].read_bytes()


def test_stored_texts_fetch_the_rows_asked_for(tmp_path, model_dir, batch_input):
    outcome = nightly(tmp_path, model_dir, batch_input, chunk_rows=500, workers=1)
    store = tmp_path / "store"
    full = read_store(store)
    light = read_store(store, skip=("text",))
    assert "text" not in light.columns and len(light) == len(full) == outcome.counts["rows_scored"] + 1
    asked = pd.Index([len(full) - 1, 3, 0, 1234, 611])
    pd.testing.assert_series_equal(StoredTexts(store)(asked), full.loc[asked, "text"], check_names=False)
    assert StoredTexts(store)(pd.Index([], dtype="int64")).empty


def test_stored_ids_read_the_partitions_near_the_rows_dates_without_the_rerun_batch(tmp_path):
    store = tmp_path / "store"
    for contact_date, batch, ids in [("2026-11-20", "2026-11-20", ["rerun"]), ("2026-11-20", "2026-11-19", ["late"]),
                                     ("2026-11-19", "2026-11-19", ["x"]), ("2026-01-05", "2026-01-05", ["old"])]:
        path = batch_path(store, contact_date, batch)
        path.parent.mkdir(parents=True, exist_ok=True)
        pd.DataFrame({"contact_id": ids, "text": "t"}).to_parquet(path)
    known = stored_ids(store, "2026-11-20", window_days=1)
    ids = pd.Series(["rerun", "late", "x", "old", "new"])
    days = pd.to_datetime(["2026-11-20"] * 5).to_numpy().astype("datetime64[D]")
    assert known.contains(ids, days).tolist() == [False, True, True, False, False]
    assert sorted(str(day) for day in known.loaded) == ["2026-11-19", "2026-11-20"]  # January is never read
    assert known.contains(ids, None).tolist() == [False, True, True, True, False]


def test_worker_failures_become_a_scoring_error(tmp_path, model_dir):
    def broken():
        raise BrokenProcessPool("gone")

    with pytest.raises(ScoringError, match="a scoring process died"):
        _checked(broken)
    workspace = Workspace(load_config(), model_dir.parent)
    model = LoadedModel(pipeline=object(), metadata={"unknown_threshold": 0.3}, path=model_dir)
    chunk = pd.DataFrame({"contact_id": ["1"], "text": ["我要查话费"]})
    with pytest.raises(ScoringError, match="scoring a chunk failed"):
        list(ChunkScorer(workspace, model, workers=1).spill([chunk], tmp_path, whole))


def test_progress_is_a_log_line_when_nobody_watches(monkeypatch, caplog):
    import logging

    import pipeline.batch

    monkeypatch.setattr(pipeline.batch, "LOG_EVERY_S", 0.0)
    with caplog.at_level(logging.INFO, logger="pipeline"):
        progress = pipeline.batch.Progress("score")  # pytest's stderr is not a terminal
        progress.update(5000)
        progress.update(2500)
        progress.close()
    lines = [r.getMessage() for r in caplog.records if r.name == "pipeline.batch"]
    assert lines[-1].startswith("score - 7500 contacts so far") and progress.bar is None
    with caplog.at_level(logging.INFO, logger="pipeline"):
        quiet = pipeline.batch.Progress("score", quiet=True)
        quiet.update(10)
    assert len([r for r in caplog.records if r.name == "pipeline.batch"]) == len(lines)


def test_a_repeat_is_found_against_the_stored_nights_of_the_batch_customers_only(tmp_path, model_dir):
    workspace = Workspace(load_config(), tmp_path)
    day, before = DEMO_END, DEMO_END - timedelta(days=1)
    nights = {
        before: [("A1", "U1", f"{before}T10:00:00", "phone"), ("A2", "U3", f"{before}T11:00:00", "chat")],
        day: [("B1", "U1", f"{day}T09:00:00", "chat"), ("B2", "U2", f"{day}T09:30:00", "phone")],
    }
    for night, rows in nights.items():
        source = tmp_path / f"{night}.csv"
        pd.DataFrame(rows, columns=["contact_id", "customer_id", "started_at", "channel"]).assign(text="我的宽带断了").to_csv(source, index=False)
        run_job(workspace, night, source=source, model_dir=model_dir)
    stored = read_store(tmp_path / "store", dates=[day.isoformat()]).set_index("contact_id")
    assert stored.loc["B1", "effort_repeat_contact"] and stored.loc["B1", "effort_channel_switch"]
    assert not stored.loc["B2", "effort_repeat_contact"]


def test_read_store_gives_labels_as_plain_strings_shared_per_value(tmp_path):
    partition = tmp_path / "contact_date=2026-11-20"
    partition.mkdir()
    stored = pd.DataFrame({"contact_id": ["a", "b", "c", "d"], "channel": ["phone", None, "phone", "chat"], "reason": ["x", "y", None, "x"]})
    stored.to_parquet(partition / "batch=1.parquet", index=False)
    frame = read_store(tmp_path)
    assert frame["channel"].tolist() == ["phone", None, "phone", "chat"] and frame["reason"].tolist() == ["x", "y", None, "x"]
    assert frame["channel"].dtype == object and frame["channel"][0] is frame["channel"][2]  # one object per value


def test_read_store_can_give_labels_as_categoricals_on_one_set_of_categories(tmp_path):
    days = {
        "2026-11-19": pa.table({"contact_id": ["a", "b"], "reason": ["y", "x"], "channel": ["phone", None], "n": [1, 2]}),
        # a channel never filled (Arrow null type); customer_id in one file only
        "2026-11-20": pa.table({"contact_id": ["c", "d", "e"], "reason": ["z", "x", None], "channel": pa.nulls(3),
                                "customer_id": ["u1", "u2", "u1"], "n": [3, 4, 5]}),
    }
    for day, table in days.items():
        (tmp_path / f"contact_date={day}").mkdir()
        pq.write_table(table, tmp_path / f"contact_date={day}" / "batch=1.parquet")
    plain = read_store(tmp_path, arrow_ids=True)
    coded = read_store(tmp_path, arrow_ids=True, label_categories=True)
    labels = ["reason", "channel", "contact_date"]
    for name in labels:
        assert isinstance(coded[name].dtype, pd.CategoricalDtype), name
        assert coded[name].astype(object).where(coded[name].notna(), None).tolist() == plain[name].tolist()
    assert list(coded["reason"].cat.categories) == ["y", "x", "z"]  # the files' order, not sorted
    assert coded["reason"].isna().tolist() == [False, False, False, False, True]
    assert list(coded["channel"].cat.categories) == ["phone"] and coded["channel"].isna().sum() == 4
    pd.testing.assert_frame_equal(coded.drop(columns=labels), plain.drop(columns=labels))

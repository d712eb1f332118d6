from datetime import timedelta

import pandas as pd

from pipeline.config import load_config
from pipeline.jobs import Timer, Workspace, run_job
from pipeline.demo import DEMO_END
from pipeline.modelstore import save_model


def test_nightly_runs_on_minimal_input_with_a_store_already_there(tmp_path, trained, demo_data):
    """Only the required columns (no customer_id, no channel), two nights in a row."""
    workspace = Workspace(load_config(), tmp_path)
    model = save_model(trained.model, workspace.model_root / "1", {"name": "m", "version": "1", "unknown_threshold": 0.3, "labels": list(trained.model.classes_)})
    contacts = demo_data.contacts[["contact_id", "text", "started_at"]]
    day = contacts["started_at"].str[:10]
    for night in (DEMO_END - timedelta(days=1), DEMO_END):
        source = tmp_path / f"{night.isoformat()}.csv"
        contacts[day == night.isoformat()].to_csv(source, index=False)
        outcome = run_job(workspace, night, source=source, model_dir=model)
        assert outcome.counts["rows_scored"] == (day == night.isoformat()).sum() > 300
    stored = pd.read_parquet(tmp_path / "store")
    assert len(stored) == day.isin([(DEMO_END - timedelta(days=1)).isoformat(), DEMO_END.isoformat()]).sum()


def test_timer_records_each_stage():
    timer = Timer()
    with timer("ingest"):
        pass
    assert set(timer.seconds) == {"ingest"} and timer.seconds["ingest"] >= 0

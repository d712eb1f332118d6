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


def test_nightly_run_without_any_model_falls_back_to_keyword_rules(tmp_path, demo_data, caplog):
    """Day one: no labels, no model; the reports still come, and say the rules decided."""
    day = demo_data.contacts[demo_data.contacts["started_at"].str[:10] == DEMO_END.isoformat()]
    source = tmp_path / "incoming.csv"
    day.to_csv(source, index=False)
    with caplog.at_level("WARNING", logger="pipeline.jobs"):
        outcome = run_job(Workspace(load_config(), tmp_path), DEMO_END, source=source)
    assert "scoring with the taxonomy's keyword rules (cold start)" in caplog.text
    hotspots = pd.read_csv(outcome.reports / "hotspots.csv", encoding="utf-8-sig")
    assert set(hotspots.loc[hotspots["contacts"] > 0, "predicted_by"]) == {"rules"}
    assert "predicted_by = rules" in (outcome.reports / "report.html").read_text(encoding="utf-8")
    stored = pd.read_parquet(tmp_path / "store")
    assert len(stored) == len(day) and set(stored["predicted_by"]) == {"rules"}
    assert (outcome.reports / "new_reasons.csv").exists() and (outcome.reports / "run_manifest.json").exists()


def test_a_rules_model_directory_scores_like_a_trained_one(tmp_path, demo_data):
    from pipeline.jobs import save_rule_model
    from pipeline.modelstore import load_model

    workspace = Workspace(load_config(), tmp_path)
    model = load_model(save_rule_model(workspace))
    assert model.metadata["kind"] == "rules" and model.threshold == workspace.config.review.rules_threshold
    texts = demo_data.contacts["text"].head(50)
    assert set(model.pipeline.predict(texts)) <= {reason.id for reason in workspace.taxonomy.reasons}
    assert model.pipeline.predict_proba(texts).shape == (50, len(workspace.taxonomy.reasons))


def test_a_night_whose_rows_are_all_rejected_still_reports_when_the_tolerance_allows(tmp_path, model_dir):
    """Nothing scored and nothing stored yet: empty report tables, every row in rejects.csv."""
    config = load_config().model_copy(update={"ingest": load_config().ingest.model_copy(update={"reject_tolerance": 1.0})})
    source = tmp_path / "in.csv"
    pd.DataFrame({"contact_id": ["A1", "A2"], "text": ["", " "], "started_at": [DEMO_END.isoformat()] * 2}).to_csv(source, index=False)
    outcome = run_job(Workspace(config, tmp_path), DEMO_END, source=source, model_dir=model_dir)
    assert outcome.counts == {"rows_read": 2, "rows_scored": 0, "rows_rejected": 2}
    assert len(pd.read_csv(outcome.reports / "rejects.csv", encoding="utf-8-sig")) == 2
    assert pd.read_csv(outcome.reports / "hotspots.csv", encoding="utf-8-sig")["contacts"].sum() == 0

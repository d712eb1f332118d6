import numpy as np
import pandas as pd
import pytest

from pipeline.cli import main
from pipeline.config import load_config
from pipeline.demo import DEMO_END
from pipeline.jobs import Workspace
from pipeline.review import (
    check_labels,
    disagreement_value,
    find_label_issues,
    label_error_model,
    validate_reviews,
)
from pipeline.review_jobs import review_import_job
from pipeline.simulate import flip_labels
from tests.conftest import fast_config, shared_data


def test_confident_learning_flags_the_row_whose_label_the_model_contradicts():
    classes = np.array(["a", "b"])
    labels = np.array(["a", "a", "a", "b", "b", "a"])
    probabilities = np.array([[0.9, 0.1], [0.8, 0.2], [0.7, 0.3], [0.2, 0.8], [0.1, 0.9], [0.05, 0.95]])
    issues = find_label_issues(labels, probabilities, classes)
    assert issues["likely_error"].tolist() == [False, False, False, False, False, True]
    assert issues.loc[5, "suggested_reason"] == "b" and issues["self_confidence"].idxmin() == 5


def test_disagreement_value_grows_with_the_rules_and_shrinks_with_the_model():
    assert disagreement_value(np.array([0.5]), np.array([0.5]))[0] == pytest.approx(0.5)
    low, high = disagreement_value(np.array([0.9, 0.6]), np.array([0.6, 0.9]))
    assert low < 0.5 < high


def test_label_error_check_finds_flipped_banking77_labels(config):
    """10 % of the labels flipped at random: >= 70 % of them among the 15 % most suspect rows."""
    train = pd.read_csv(shared_data("banking77") / "train.csv").dropna(subset=["text"]).sample(n=3000, random_state=3)
    noisy, flipped = flip_labels(train["category"].astype(str), 0.10, seed=3)
    issues = check_labels(train["text"], noisy, label_error_model(config.model, config.normalize), 3, 42)
    suspect = np.argsort(issues["self_confidence"].to_numpy(), kind="stable")[: int(0.15 * len(train))]
    assert flipped[suspect].sum() / flipped.sum() >= 0.70
    flagged = issues["likely_error"].to_numpy(dtype=bool)
    assert flipped[flagged].mean() > 0.5  # most flagged rows really were flipped


@pytest.fixture
def night_with_labels(tmp_path, demo_data):
    """A home after a cold-start night, with a small labelled set beside it."""
    day = demo_data.contacts[demo_data.contacts["started_at"].str[:10] == DEMO_END.isoformat()]
    day.to_csv(tmp_path / "night.csv", index=False)
    config = fast_config(tmp_path)
    assert main(["run", "--date", DEMO_END.isoformat(), "--input", str(tmp_path / "night.csv"), "--home", str(tmp_path), "--config", str(config), "--quiet"]) == 0
    labelled = demo_data.labelled.groupby("reason").head(25)[["contact_id", "text", "reason"]].reset_index(drop=True)
    labelled.loc[:9, "reason"] = labelled.loc[:9, "reason"].map(lambda r: "billing_dispute" if r != "billing_dispute" else "top_up")
    labelled.to_csv(tmp_path / "labelled.csv", index=False)
    return tmp_path, config


def test_review_export_then_import_adds_reviewed_rows_with_provenance(night_with_labels):
    home, config = night_with_labels
    common = ["--home", str(home), "--config", str(config), "--quiet"]
    queue_file = home / "queue.csv"
    assert main(["review", "export", "--data", str(home / "labelled.csv"), "--out", str(queue_file), *common]) == 0
    queue = pd.read_csv(queue_file, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert {"label_error", "low_confidence"} <= set(queue["kind"])
    assert queue["value"].astype(float).is_monotonic_decreasing
    assert (queue[["correct_reason", "reviewer", "comment"]] == "").all().all()
    assert queue_file.read_bytes().startswith(b"\xef\xbb\xbf")

    label_error = queue.index[queue["kind"] == "label_error"][0]
    contact = queue.index[queue["kind"] != "label_error"][0]
    queue.loc[label_error, ["correct_reason", "reviewer"]] = ["how_to", "wang.li"]
    queue.loc[contact, "correct_reason"] = "Roaming"  # the English name works too
    queue.to_csv(queue_file, index=False, encoding="utf-8-sig")
    before = pd.read_csv(home / "labelled.csv")
    workspace = Workspace(load_config(config), home)
    summary, trained = review_import_job(workspace, queue_file, home / "labelled.csv", reviewer="chen.yu", retrain=True, track=False)
    assert summary == {"reviewed": 2, "relabelled": 1, "added": 1, "data": str(home / "labelled.csv")}
    after = pd.read_csv(home / "labelled.csv", encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert len(after) == len(before) + 1
    relabelled = after[after["contact_id"] == queue.loc[label_error, "contact_id"]].iloc[0]
    assert relabelled["reason"] == "how_to" and relabelled["reviewer"] == "wang.li" and relabelled["review_queue"] == "queue.csv"
    assert relabelled["previous_reason"] == queue.loc[label_error, "current_reason"]
    added = after.iloc[-1]
    assert added["reason"] == "roaming_charges" and added["reviewer"] == "chen.yu" and added["reviewed_at"].startswith("20")
    assert trained is not None and (trained.model_dir / "model.json").exists()


def test_import_names_every_bad_row_and_writes_nothing(night_with_labels, capsys):
    home, config = night_with_labels
    queue_file = home / "queue.csv"
    assert main(["review", "export", "--out", str(queue_file), "--home", str(home), "--config", str(config), "--quiet"]) == 0
    queue = pd.read_csv(queue_file, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    queue.loc[0, ["correct_reason", "reviewer"]] = ["biling_dispute", "wang.li"]
    queue.loc[2, "correct_reason"] = "unknown"
    queue.to_csv(queue_file, index=False, encoding="utf-8-sig")
    before = (home / "labelled.csv").read_bytes()
    assert main(["review", "import", "--queue", str(queue_file), "--data", str(home / "labelled.csv"), "--home", str(home), "--config", str(config), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "row 2 (contact" in err and "did you mean 'billing_dispute'" in err
    assert "row 4 (contact" in err and "'unknown' is not a reason" in err
    assert "2 reviewed row(s)" in err and "Nothing was imported" in err
    assert (home / "labelled.csv").read_bytes() == before


def test_a_reviewed_row_needs_a_reviewer(taxonomy):
    queue = pd.DataFrame({"contact_id": ["C1"], "kind": ["low_confidence"], "text_masked": ["x"], "current_reason": ["unknown"],
                          "correct_reason": ["top_up"], "reviewer": [""], "source_row": [1]})
    reviewed, problems = validate_reviews(queue, taxonomy, None)
    assert reviewed.empty and problems == ["row 2 (contact C1): no reviewer; fill the reviewer column or pass --reviewer"]
    reviewed, problems = validate_reviews(queue, taxonomy, "wang.li")
    assert problems == [] and reviewed.loc[0, "reason_id"] == "top_up"


def test_scored_night_gives_disagreements_and_low_confidence(config):
    from pipeline.review import build_queue, scored_candidates

    scored = pd.DataFrame({
        "contact_id": ["C1", "C2", "C3"], "text": ["my bill is wrong", "top up please", "hmm"],
        "reason": ["top_up", "top_up", "unknown"], "reason_candidate": ["top_up", "top_up", "how_to"],
        "confidence": [0.8, 0.9, 0.1], "predicted_by": "model",
    })
    classes = np.array(["billing_dispute", "top_up"])
    rules = np.array([[0.7, 0.3], [0.2, 0.8], [0.5, 0.5]])
    entries = scored_candidates(scored, rules, classes, None, config.review, "scored 2026-11-20")
    queue = build_queue([entries], 10, [])
    assert queue.set_index("contact_id")["kind"].to_dict() == {"C1": "disagreement", "C2": "low_confidence", "C3": "low_confidence"}
    first = queue.iloc[0]
    assert first["contact_id"] == "C3" and "not recognised" in first["why"]
    assert queue.set_index("contact_id").loc["C1", "suggested_reason"] == "billing_dispute"


def test_the_nightly_review_queue_imports_too(tmp_path, demo_data):
    """The reports' review_queue.csv (predicted_reason, no kind) is a queue like the exported one."""
    from pipeline.jobs import run_job

    day = demo_data.contacts[demo_data.contacts["started_at"].str[:10] == DEMO_END.isoformat()]
    day.head(150).to_csv(tmp_path / "night.csv", index=False)
    workspace = Workspace(load_config(), tmp_path)
    outcome = run_job(workspace, DEMO_END, source=tmp_path / "night.csv")
    queue = pd.read_csv(outcome.reports / "review_queue.csv", encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert {"correct_reason", "reviewer", "comment"} <= set(queue.columns)
    queue.loc[:2, "correct_reason"] = "top_up"
    queue.to_csv(tmp_path / "filled.csv", index=False, encoding="utf-8-sig")
    summary, _ = review_import_job(workspace, tmp_path / "filled.csv", tmp_path / "new_labels.csv", reviewer="wang.li")
    assert summary["added"] == 3
    labels = pd.read_csv(tmp_path / "new_labels.csv", encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert labels["reason"].tolist() == ["top_up"] * 3 and (labels["previous_reason"] == queue.loc[:2, "predicted_reason"].to_numpy()).all()
    assert (labels["text"] != "").all() and set(labels["reviewer"]) == {"wang.li"}

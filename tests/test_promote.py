"""Promotion: a candidate becomes the champion only when it beats the current one."""

import json

import pytest

from pipeline.cli import main
from pipeline.config import load_config
from pipeline.errors import PromotionRefused
from pipeline.jobs import Workspace, promote_job, train_job
from pipeline.modelstore import champion_dir, nightly_model_dir, save_model
from pipeline.train import train_classifier


@pytest.fixture
def workspace(tmp_path):
    return Workspace(load_config(), tmp_path)


@pytest.fixture(scope="module")
def weak_model(small_training, config):
    """Trained on a handful of examples per reason: clearly worse than the `trained` fixture."""
    few = small_training.groupby("reason", group_keys=False).head(8)
    return train_classifier(few["text"], few["reason"], config.model.model_copy(update={"cv_folds": 0}), config.normalize)


@pytest.fixture
def evaluation_file(tmp_path, demo_data):
    path = tmp_path / "holdout.csv"
    demo_data.labelled.tail(800)[["text", "reason"]].to_csv(path, index=False)
    return path


def save(result, workspace, version):
    return save_model(result.model, workspace.model_root / str(version), {"name": "contact-reasons", "version": str(version), "unknown_threshold": 0.3, "labels": list(result.model.classes_)})


def test_a_worse_model_is_refused_and_the_champion_stays(workspace, trained, weak_model, evaluation_file):
    good = save(trained, workspace, 1)
    weak = save(weak_model, workspace, 2)
    first = promote_job(workspace, good, evaluation_file)
    assert first["previous"] is None
    assert champion_dir(workspace.model_root) == good.resolve()
    with pytest.raises(PromotionRefused, match=r"does not beat the champion .* by the margin"):
        promote_job(workspace, weak, evaluation_file)
    assert champion_dir(workspace.model_root) == good.resolve()
    assert nightly_model_dir(workspace.model_root) == good.resolve()  # not the newer, weaker version 2


def test_a_better_model_replaces_the_champion(workspace, trained, weak_model, evaluation_file):
    weak = save(weak_model, workspace, 1)
    good = save(trained, workspace, 2)
    promote_job(workspace, weak, evaluation_file)
    evidence = promote_job(workspace, good, evaluation_file)
    assert evidence["candidate"] >= evidence["previous"] + evidence["margin"]
    assert json.loads((workspace.model_root / "champion.json").read_text())["path"] == str(good.resolve())


def test_cli_refusal_is_one_line_and_exit_1(workspace, trained, weak_model, evaluation_file, capsys):
    promote_job(workspace, save(trained, workspace, 1), evaluation_file)
    weak = save(weak_model, workspace, 2)
    code = main(["promote", "--model", str(weak), "--data", str(evaluation_file), "--home", str(workspace.home), "--quiet"])
    assert code == 1
    error = capsys.readouterr().err.strip()
    assert error.startswith("contact-reasons: refused:") and "\n" not in error


def test_training_registers_the_model_and_promotion_sets_the_mlflow_alias(workspace, small_training, evaluation_file, tmp_path):
    from mlflow import MlflowClient

    data = tmp_path / "train.csv"
    small_training.groupby("reason", group_keys=False).head(20).to_csv(data, index=False)
    fast = workspace.config.model_copy(update={"model": workspace.config.model.model_copy(update={"cv_folds": 0})})
    workspace = Workspace(fast, workspace.home)
    outcome = train_job(workspace, data)
    tracking = json.loads((outcome.model_dir / "tracking.json").read_text())
    assert tracking["registered_version"] == "1"
    promote_job(workspace, outcome.model_dir, evaluation_file)
    client = MlflowClient(tracking_uri=tracking["tracking_uri"])
    assert str(client.get_model_version_by_alias("contact-reasons", "champion").version) == "1"

"""Shared, session-scoped fixtures: the demo data and one small fitted model."""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path

import pytest

from pipeline.config import DEFAULT_CONFIG_DIR, load_config, load_taxonomy, write_config

# MLflow's own stderr handler, made when a test first imports it, would keep that test's captured
# (then closed) stream and break the logging of later tests in the same worker; the CLI does the same.
os.environ.setdefault("MLFLOW_CONFIGURE_LOGGING", "false")

@pytest.fixture(autouse=True)
def _no_handler_on_a_closed_stream():
    """A library that adds its own stderr handler when first imported (jieba, transformers …)
    binds it to the captured stream of the test that imported it; pytest closes that stream, and a
    later record would print '--- Logging error ---' into another test's stderr. Point such
    handlers back at the real stderr after each test."""
    yield
    for logger in [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]:
        for handler in getattr(logger, "handlers", []):
            if isinstance(handler, logging.StreamHandler) and getattr(handler.stream, "closed", False):
                handler.stream = sys.__stderr__  # setStream would flush the closed one


SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(autouse=True)
def _no_stray_mlflow(monkeypatch, tmp_path):
    """MLflow never writes into the checkout: every test gets its own tracking home."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)


@pytest.fixture(scope="session")
def config():
    return load_config()


@pytest.fixture(scope="session")
def taxonomy():
    return load_taxonomy(DEFAULT_CONFIG_DIR / "taxonomy.yaml")


@pytest.fixture(scope="session")
def demo_data(taxonomy):
    from pipeline.demo import generate_demo

    return generate_demo(taxonomy)


@pytest.fixture(scope="session")
def small_training(demo_data):
    """A stratified slice of the demo's labelled share: fast to fit, still bilingual."""
    labelled = demo_data.labelled
    return labelled.groupby("reason", group_keys=False).head(60).reset_index(drop=True)


@pytest.fixture(scope="session")
def trained(small_training, config):
    from pipeline.tokenize import read_user_words
    from pipeline.train import train_classifier

    settings = config.model.model_copy(update={"cv_folds": 0})
    return train_classifier(
        small_training["text"], small_training["reason"], settings, config.normalize,
        read_user_words(config.userdict),
    )


def shared_data(name: str) -> Path:
    path = SHARED_DATA / name
    if not path.exists():
        pytest.skip(f"{path} not present (evaluation data lives beside the project only on team machines)")
    return path


def fast_config(folder, **model):
    """The shipped config without cross-validation and without the open-set fit that sets the
    abstention threshold: fewer fits, and the test-set figures do not depend on either."""
    return write_config(folder / "pipeline.yaml", model={"cv_folds": 0, "open_set_share": 0, **model})


def train_and_evaluate(name, folder, **model_settings):
    """Train and evaluate through the CLI on a public data set; returns the model dir and metrics."""
    from pipeline.cli import main

    data = shared_data(name)
    model = folder / "model"
    common = ["--config", str(fast_config(folder, **model_settings)), "--home", str(folder), "--quiet", "--text-col", "text", "--label-col", "category"]
    assert main(["train", "--data", str(data / "train.csv"), "--out", str(model), "--no-tracking", *common]) == 0
    assert main(["evaluate", "--model", str(model), "--data", str(data / "test.csv"), *common]) == 0
    return model, json.loads((model / "metrics.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory, trained):
    """The small fitted model saved as a model directory, for runs through the CLI."""
    from pipeline.modelstore import save_model

    labels = list(trained.model.classes_)
    metadata = {"name": "test", "version": "1", "unknown_threshold": trained.threshold, "labels": labels}
    return save_model(trained.model, tmp_path_factory.mktemp("model") / "1", metadata)

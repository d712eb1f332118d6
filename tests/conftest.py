"""Shared, session-scoped fixtures: the demo data and one small fitted model."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pipeline.config import DEFAULT_CONFIG_DIR, ModelSettings, NormalizeSettings, load_config, load_taxonomy

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

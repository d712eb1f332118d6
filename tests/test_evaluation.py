"""Accuracy on real public data through the CLI, as a data scientist would run it.

The data sets live in ../shared/data on team machines only; elsewhere these tests skip.
"""

import json

import pytest
import yaml

from pipeline.cli import main
from pipeline.config import DEFAULT_CONFIG_DIR

from .conftest import shared_data


def fast_config(tmp_path):
    """The shipped config without cross-validation (the held-out and test figures are unchanged)."""
    config = yaml.safe_load((DEFAULT_CONFIG_DIR / "pipeline.yaml").read_text(encoding="utf-8"))
    config["model"]["cv_folds"] = 0
    for key in ("taxonomy", "userdict", "stopwords"):
        config[key] = str(DEFAULT_CONFIG_DIR / config[key])
    path = tmp_path / "pipeline.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("name", "metric", "minimum"),
    [("banking77", "accuracy", 0.90), ("online_shopping_10_cats", "macro_f1", 0.88)],
)
def test_train_then_evaluate_on_public_data(tmp_path, name, metric, minimum):
    data = shared_data(name)
    config = fast_config(tmp_path)
    model = tmp_path / "model"
    common = ["--config", str(config), "--home", str(tmp_path), "--quiet", "--text-col", "text", "--label-col", "category"]
    assert main(["train", "--data", str(data / "train.csv"), "--out", str(model), "--no-tracking", *common]) == 0
    assert main(["evaluate", "--model", str(model), "--data", str(data / "test.csv"), *common]) == 0
    metrics = json.loads((model / "metrics.json").read_text(encoding="utf-8"))
    assert metrics[metric] >= minimum, metrics

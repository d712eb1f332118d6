"""Accuracy on real public data through the CLI, as a data scientist would run it.

The data sets live in ../shared/data on team machines only; elsewhere these tests skip.
"""

import json

import pandas as pd
import pytest
import yaml
from sklearn.metrics import f1_score

from pipeline.cli import main
from pipeline.config import DEFAULT_CONFIG_DIR
from pipeline.modelstore import load_model

from .conftest import shared_data


def fast_config(folder, **model):
    """The shipped config without cross-validation (the held-out and test figures are unchanged)."""
    config = yaml.safe_load((DEFAULT_CONFIG_DIR / "pipeline.yaml").read_text(encoding="utf-8"))
    config["model"].update(cv_folds=0, **model)
    for key in ("taxonomy", "userdict", "stopwords"):
        config[key] = str(DEFAULT_CONFIG_DIR / config[key])
    path = folder / "pipeline.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


def train_and_evaluate(name, folder, **model_settings):
    data = shared_data(name)
    model = folder / "model"
    common = ["--config", str(fast_config(folder, **model_settings)), "--home", str(folder), "--quiet", "--text-col", "text", "--label-col", "category"]
    assert main(["train", "--data", str(data / "train.csv"), "--out", str(model), "--no-tracking", *common]) == 0
    assert main(["evaluate", "--model", str(model), "--data", str(data / "test.csv"), *common]) == 0
    return model, json.loads((model / "metrics.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def shopping(tmp_path_factory):
    return train_and_evaluate("online_shopping_10_cats", tmp_path_factory.mktemp("shopping"))


def test_banking77_accuracy(tmp_path):
    _, metrics = train_and_evaluate("banking77", tmp_path)
    assert metrics["accuracy"] >= 0.90, metrics


def test_banking77_accuracy_with_sentence_embeddings(tmp_path):
    pytest.importorskip("sentence_transformers")
    _, metrics = train_and_evaluate("banking77", tmp_path, embeddings="all-MiniLM-L6-v2")
    assert metrics["accuracy"] >= 0.93, metrics


def test_chinese_reviews_macro_f1(shopping):
    _, metrics = shopping
    assert metrics["macro_f1"] >= 0.88, metrics


@pytest.mark.parametrize("conversion", ["s2twp", "s2hk"])
def test_traditional_script_scores_like_simplified(shopping, conversion):
    """The same reviews in Taiwan or Hong Kong script lose less than one point of macro-F1."""
    from opencc import OpenCC

    model_dir, metrics = shopping
    model = load_model(model_dir).pipeline
    test = pd.read_csv(shared_data("online_shopping_10_cats") / "test.csv").dropna(subset=["text"])
    converted = test["text"].map(OpenCC(conversion).convert)
    assert (converted != test["text"]).mean() > 0.5  # the conversion really changed the texts
    traditional = f1_score(test["category"], model.predict(converted), average="macro")
    assert traditional >= metrics["macro_f1"] - 0.01, (traditional, metrics["macro_f1"])

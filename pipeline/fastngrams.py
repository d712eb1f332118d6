"""Fast scoring of a fitted ``TfidfVectorizer(analyzer="char_wb")``: the same matrix, vectorised.

scikit-learn's character analyzer builds every n-gram as a Python string and looks each one up
in the vocabulary: on long transcripts that was half of the scoring time. :class:`FastCharNgrams`
wraps the fitted vectorizer and computes the identical matrix with numpy: each character becomes
a small id (characters outside the vocabulary become 0, so no n-gram holding one can match), an
n-gram of at most four characters packs into one 64-bit key, and keys are matched against the
vocabulary's keys with a hash index. Counts then get the vectorizer's own TF-IDF steps
(sublinear tf, idf, norm) in the same order, so the floats are the same too.

The n-grams are those of ``_char_wb_ngrams``: each whitespace-separated word, padded with one
space each side, gives its n-grams for each n of ``ngram_range``; a word no longer than n gives
itself once and no longer n-grams. Anything the fast path does not cover (other analyzers,
preprocessing, more than four characters, a vocabulary of more than 65,535 characters) is left
to the vectorizer itself.
"""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

BITS = 16
UNICODE_SIZE = 0x110000


def can_accelerate(vectorizer: object) -> bool:
    return (
        isinstance(vectorizer, TfidfVectorizer)
        and vectorizer.analyzer == "char_wb"
        and vectorizer.input == "content"
        and vectorizer.preprocessor is None
        and not vectorizer.lowercase
        and vectorizer.strip_accents is None
        and not vectorizer.binary
        and vectorizer.ngram_range[1] * BITS <= 64
        and hasattr(vectorizer, "vocabulary_")
    )


class FastCharNgrams(TransformerMixin, BaseEstimator):
    """A fitted char_wb ``TfidfVectorizer``'s ``transform``, vectorised; same output."""

    def __init__(self, vectorizer: TfidfVectorizer):
        self.vectorizer = vectorizer

    def fit(self, texts, y=None):
        self._index()
        return self

    def _index(self) -> None:
        features = list(self.vectorizer.vocabulary_)
        characters = sorted({ch for feature in features for ch in feature})
        if len(characters) >= 2**BITS:
            self.table_ = None
            return
        table = np.zeros(UNICODE_SIZE, dtype=np.uint64)
        table[[ord(ch) for ch in characters]] = np.arange(1, len(characters) + 1, dtype=np.uint64)
        self.table_ = table
        keys = np.array([_pack_text(feature, table) for feature in features], dtype=np.uint64)
        self.keys_ = pd.Index(keys)
        self.columns_ = np.array([self.vectorizer.vocabulary_[f] for f in features], dtype=np.int64)
        self.matrix_type_ = type(self.vectorizer.transform([""]))

    def transform(self, texts):
        if not hasattr(self, "table_"):
            self._index()
        texts = list(texts)
        if self.table_ is None or not all(isinstance(t, str) for t in texts):
            return self.vectorizer.transform(texts)
        counts = self._counts(texts)
        vectorizer = self.vectorizer
        if vectorizer.sublinear_tf:
            np.log(counts.data, counts.data)
            counts.data += 1.0
        if vectorizer.use_idf:
            counts.data *= vectorizer.idf_[counts.indices]
        if vectorizer.norm is not None:
            counts = normalize(counts, norm=vectorizer.norm, copy=False)
        return counts if isinstance(counts, self.matrix_type_) else self.matrix_type_(counts)

    def _counts(self, texts: list[str]) -> sp.csr_array:
        low, high = self.vectorizer.ngram_range
        words = [text.split() for text in texts]
        lengths = np.array([len(word) + 2 for split in words for word in split], dtype=np.int64)
        document = np.repeat(np.arange(len(texts)), [len(split) for split in words])
        padded = "".join(" " + word + " " for split in words for word in split)
        ids = self.table_[np.frombuffer(padded.encode("utf-32-le"), dtype=np.uint32)]
        starts = np.cumsum(lengths) - lengths
        rows, keys = [], []
        for n in range(low, high + 1):
            longer = lengths > n  # words giving all their n-grams
            count = lengths[longer] - n + 1
            first = np.repeat(starts[longer], count)
            offset = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
            rows.append(np.repeat(document[longer], count))
            keys.append(_pack(ids, first + offset, np.full(len(first), n)))
        whole = lengths <= high  # a word no longer than some n gives itself once, then stops
        rows.append(document[whole])
        keys.append(_pack(ids, starts[whole], lengths[whole]))
        rows, keys = np.concatenate(rows), np.concatenate(keys)
        found = self.keys_.get_indexer(keys)
        matched = found >= 0
        columns = self.columns_[found[matched]]
        shape = (len(texts), len(self.vectorizer.vocabulary_))
        counts = sp.csr_array((np.ones(int(matched.sum())), (rows[matched], columns)), shape=shape, dtype=self.vectorizer.dtype)
        counts.sum_duplicates()
        counts.sort_indices()
        return counts

    def get_feature_names_out(self, input_features=None):
        return self.vectorizer.get_feature_names_out(input_features)


def _pack(ids: np.ndarray, first: np.ndarray, size: np.ndarray) -> np.ndarray:
    """One key per n-gram (``size`` characters from ``first``); 0 for one holding an unknown
    character, which no vocabulary key is."""
    keys = np.zeros(len(first), dtype=np.uint64)
    known = np.ones(len(first), dtype=bool)
    for k in range(int(size.max()) if len(size) else 0):
        inside = k < size
        value = np.where(inside, ids[np.minimum(first + k, len(ids) - 1)], 0).astype(np.uint64)
        known &= ~inside | (value > 0)
        keys |= value << np.uint64(BITS * (3 - k))
    keys[~known] = 0
    return keys


def _pack_text(feature: str, table: np.ndarray) -> int:
    key = 0
    for k, ch in enumerate(feature):
        key |= int(table[ord(ch)]) << (BITS * (3 - k))
    return key


def accelerate(pipeline: object) -> object:
    """A copy of a fitted text pipeline whose char_wb vectorizers score through
    :class:`FastCharNgrams`; anything else is left as it is."""
    fast = copy.deepcopy(pipeline)
    for step in getattr(fast, "named_steps", {}).values():
        for name, transformer in list(getattr(step, "transformer_list", [])):
            if can_accelerate(transformer):
                step.set_params(**{name: FastCharNgrams(transformer).fit(None)})
    return fast

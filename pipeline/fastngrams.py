"""Fast scoring of fitted ``TfidfVectorizer``\\ s: the same matrices, vectorised.

scikit-learn's analyzers build every n-gram as a Python string and look each one up in the
vocabulary: on long transcripts that was most of the scoring time. :class:`FastCharNgrams`
(``analyzer="char_wb"``) and :class:`FastWordNgrams` (word n-grams of our
:class:`~pipeline.tokenize.Tokenizer`) wrap a fitted vectorizer and compute the identical matrix:
each unit (a character, a token) becomes a small id, one outside the vocabulary marked so that
no n-gram holding it can match; an n-gram packs into one 64-bit key; keys are matched against
the vocabulary's keys with a hash index (characters: in the compiled loop of
:mod:`pipeline.ngramkernel`; words: with numpy). Counts then get the vectorizer's own TF-IDF
steps (sublinear tf, idf, norm) in the same order, so the floats are the same too.

Character n-grams are those of ``_char_wb_ngrams``: each whitespace-separated word, padded with
one space each side, gives its n-grams for each n of ``ngram_range``; a word no longer than n
gives itself once and no longer n-grams. Word n-grams are those of ``_word_ngrams``: the
tokenizer's tokens, then each run of n tokens joined by a space. Anything the fast path does
not cover (other analyzers, preprocessing, stop-word lists in the vectorizer, keys that would
not fit 64 bits, tokens holding a space) is left to the vectorizer itself.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from itertools import chain, repeat

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

from pipeline.tokenize import Tokenizer

BITS = 16
# A character outside the vocabulary: a key holding it matches no feature's key
OUTSIDE = 2**BITS - 1
UNICODE_SIZE = 0x110000
# Characters a vectorised pass takes at once (its arrays take about 100 bytes a character).
BLOCK_CHARS = 1 << 20


def _plain(vectorizer: object) -> bool:
    return (
        isinstance(vectorizer, TfidfVectorizer)
        and vectorizer.input == "content"
        and vectorizer.preprocessor is None
        and not vectorizer.lowercase
        and vectorizer.strip_accents is None
        and not vectorizer.binary
        and hasattr(vectorizer, "vocabulary_")
    )


def can_accelerate(vectorizer: object) -> bool:
    return _plain(vectorizer) and vectorizer.analyzer == "char_wb" and vectorizer.ngram_range[1] * BITS <= 64


def can_accelerate_words(vectorizer: object) -> bool:
    return (
        _plain(vectorizer)
        and vectorizer.analyzer == "word"
        and isinstance(vectorizer.tokenizer, Tokenizer)
        and vectorizer.stop_words is None
        and not any(" " in word for word in vectorizer.tokenizer.user_words)  # a token never holds a space
    )


class _FastTfidf(TransformerMixin, BaseEstimator):
    """A fitted ``TfidfVectorizer``'s ``transform`` from n-gram counts; subclasses count them."""

    def __init__(self, vectorizer: TfidfVectorizer):
        self.vectorizer = vectorizer

    def fit(self, texts, y=None):
        self._index()
        return self

    def _index(self) -> None:
        raise NotImplementedError

    def _block_counts(self, texts: list[str]) -> sp.csr_array:
        """The n-gram counts of a block of texts."""
        raise NotImplementedError

    def _set_keys(self, keys: list[int], features: list[str]) -> None:
        self.keys_ = np.array(keys, dtype=np.uint64)
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
        blocks = text_blocks(texts)
        if len(blocks) <= 1:
            return self._block_counts(texts)
        return sp.vstack([self._block_counts(texts[start:stop]) for start, stop in blocks], format="csr")

    def _vocabulary(self) -> tuple[np.ndarray, np.ndarray, np.uint64]:
        """The vocabulary's keys as :func:`pipeline.ngramkernel.hash_table` gives them."""
        if not hasattr(self, "hash_"):
            slots, found, shift = ngramkernel().hash_table(self.keys_, self.columns_)
            self.hash_ = slots, found, np.uint64(shift)
        return self.hash_

    def _matrix(self, counted: tuple[np.ndarray, np.ndarray, np.ndarray], rows: int) -> sp.csr_array:
        indptr, indices, counts = counted
        width = len(self.vectorizer.vocabulary_)
        index_type = np.int32 if max(width, len(indices)) < 2**31 else np.int64
        return sp.csr_array((counts.astype(self.vectorizer.dtype), indices.astype(index_type), indptr.astype(index_type)), shape=(rows, width))

    def get_feature_names_out(self, input_features=None):
        return self.vectorizer.get_feature_names_out(input_features)


def text_blocks(texts: list[str], limit: int | None = None) -> list[tuple[int, int]]:
    """``(start, stop)`` runs of ``texts`` of about ``limit`` characters each (a longer text on its
    own): the vectorised paths hold tens of bytes a character, so a chunk of 5,000 texts of
    20,000 characters is taken in blocks rather than at once."""
    limit = limit or BLOCK_CHARS
    ends = np.cumsum(np.fromiter(map(len, texts), dtype=np.int64, count=len(texts)) + 1)
    blocks, start = [], 0
    while start < len(texts):
        reach = (ends[start - 1] if start else 0) + limit
        stop = max(start + 1, int(np.searchsorted(ends, reach, side="right")))
        blocks.append((start, stop))
        start = stop
    return blocks


def _starts(lengths: Iterable[int], count: int, gap: int = 0) -> np.ndarray:
    """Where each of ``count`` items of these lengths starts when laid end to end (``gap`` apart),
    and where the last one ends."""
    starts = np.zeros(count + 1, dtype=np.int64)
    np.cumsum(np.fromiter(lengths, dtype=np.int64, count=count) + gap, out=starts[1:])
    return starts


def ngramkernel():
    """:mod:`pipeline.ngramkernel`, imported when first needed: only processes that score load numba."""
    from pipeline import ngramkernel

    return ngramkernel


class FastCharNgrams(_FastTfidf):
    """A fitted char_wb ``TfidfVectorizer``'s ``transform``, vectorised; same output."""

    def _index(self) -> None:
        features = list(self.vectorizer.vocabulary_)
        characters = sorted({ch for feature in features for ch in feature})
        if len(characters) >= OUTSIDE:
            self.table_ = None
            return
        table = np.full(UNICODE_SIZE, OUTSIDE, dtype=np.uint64)
        table[[ord(ch) for ch in characters]] = np.arange(1, len(characters) + 1, dtype=np.uint64)
        self.table_ = table
        self._set_keys([_pack_text(feature, table) for feature in features], features)

    def _block_counts(self, texts: list[str]) -> sp.csr_array:
        kernel = ngramkernel()
        low, high = self.vectorizer.ngram_range
        codes = np.frombuffer(("\n".join(texts) + "\n").encode("utf-32-le"), dtype=np.uint32)
        counted = kernel.char_wb_counts(
            codes, _starts(map(len, texts), len(texts), 1), kernel.WHITESPACE, self.table_, self.table_[ord(" ")],
            low, high, *self._vocabulary(), len(self.vectorizer.vocabulary_),
        )
        return self._matrix(counted, len(texts))


class FastWordNgrams(_FastTfidf):
    """A fitted word ``TfidfVectorizer``'s ``transform`` (our tokenizer), vectorised; same output."""

    def _index(self) -> None:
        low, high = self.vectorizer.ngram_range
        features = list(self.vectorizer.vocabulary_)
        parts = [feature.split(" ") for feature in features]
        tokens = sorted({token for tokens in parts for token in tokens})
        self.base_ = len(tokens) + 1
        if any(not low <= len(tokens) <= high for tokens in parts) or self.base_**high >= 2**64:
            self.table_ = None  # a token holding a space, or keys too long for 64 bits
            return
        self.table_ = dict(zip(tokens, range(1, self.base_), strict=True))
        self._set_keys([_word_key([self.table_[t] for t in tokens], self.base_) for tokens in parts], features)

    def _block_counts(self, texts: list[str]) -> sp.csr_array:
        low, high = self.vectorizer.ngram_range
        tokenize, known = self.vectorizer.tokenizer, self.table_.get
        tokens = [list(map(known, tokenize(text), repeat(0))) for text in texts]
        starts = _starts(map(len, tokens), len(tokens))
        ids = np.fromiter(chain.from_iterable(tokens), dtype=np.uint64, count=int(starts[-1]))
        counted = ngramkernel().word_counts(ids, starts, low, high, np.uint64(self.base_), *self._vocabulary(), len(self.vectorizer.vocabulary_))
        return self._matrix(counted, len(texts))


def _pack_text(feature: str, table: np.ndarray) -> int:
    key = 0
    for k, ch in enumerate(feature):
        key |= int(table[ord(ch)]) << (BITS * (3 - k))
    return key


def _word_key(ids: list[int], base: int) -> int:
    key = 0
    for unit in ids:
        key = key * base + unit
    return key


def accelerate(pipeline: object) -> object:
    """A copy of a fitted text pipeline whose char_wb and word vectorizers score through
    :class:`FastCharNgrams` and :class:`FastWordNgrams`; anything else is left as it is."""
    fast = copy.deepcopy(pipeline)
    for step in getattr(fast, "named_steps", {}).values():
        for name, transformer in list(getattr(step, "transformer_list", [])):
            if can_accelerate(transformer):
                step.set_params(**{name: FastCharNgrams(transformer).fit(None)})
            elif can_accelerate_words(transformer):
                step.set_params(**{name: FastWordNgrams(transformer).fit(None)})
    return fast

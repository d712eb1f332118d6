"""Fast scoring of fitted ``TfidfVectorizer``\\ s: the same matrices, vectorised.

scikit-learn's analyzers build every n-gram as a Python string and look each one up in the
vocabulary: on long transcripts that was most of the scoring time. :class:`FastCharNgrams`
(``analyzer="char_wb"``) and :class:`FastWordNgrams` (word n-grams of our
:class:`~pipeline.tokenize.Tokenizer`) wrap a fitted vectorizer and compute the identical matrix
with numpy: each unit (a character, a token) becomes a small id, one outside the vocabulary
marked so that no n-gram holding it can match; an n-gram packs into one 64-bit key; keys are
matched against the vocabulary's keys with a hash index. Counts then get the vectorizer's own
TF-IDF steps (sublinear tf, idf, norm) in the same order, so the floats are the same too.

Character n-grams are those of ``_char_wb_ngrams``: each whitespace-separated word, padded with
one space each side, gives its n-grams for each n of ``ngram_range``; a word no longer than n
gives itself once and no longer n-grams. Word n-grams are those of ``_word_ngrams``: the
tokenizer's tokens, then each run of n tokens joined by a space. Anything the fast path does
not cover (other analyzers, preprocessing, stop-word lists in the vectorizer, keys that would
not fit 64 bits, tokens holding a space) is left to the vectorizer itself.
"""

from __future__ import annotations

import copy
from itertools import chain, repeat

import numpy as np
import pandas as pd
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
    """A fitted ``TfidfVectorizer``'s ``transform`` from n-gram keys; subclasses make the keys."""

    def __init__(self, vectorizer: TfidfVectorizer):
        self.vectorizer = vectorizer

    def fit(self, texts, y=None):
        self._index()
        return self

    def _index(self) -> None:
        raise NotImplementedError

    def _keys(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Each n-gram's document and key (one no feature has where it cannot be in the vocabulary)."""
        raise NotImplementedError

    def _set_keys(self, keys: list[int], features: list[str]) -> None:
        self.keys_ = pd.Index(np.array(keys, dtype=np.uint64))
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

    def _block_counts(self, texts: list[str]) -> sp.csr_array:
        rows, keys = self._keys(texts)
        found = self.keys_.get_indexer(keys)
        matched = found >= 0
        width = len(self.vectorizer.vocabulary_)
        # (row, column) as one number, sorted: equal cells become runs, each run one count (plain
        # integers, so any sort gives the same array; numpy's SIMD quicksort is 3x its stable
        # one, and twice as fast again on 32 bits, which a chunk's cells fit in)
        cell_type = np.uint32 if len(texts) * width < 2**32 else np.int64
        cells = np.sort(rows[matched].astype(cell_type) * cell_type(width) + self.columns_[found[matched]].astype(cell_type))
        starts = np.flatnonzero(np.r_[True, cells[1:] != cells[:-1]]) if len(cells) else np.zeros(0, dtype=np.int64)
        unique = cells[starts]
        data = np.diff(np.r_[starts, len(cells)]).astype(self.vectorizer.dtype)
        indptr = np.r_[0, np.cumsum(np.bincount(unique // width, minlength=len(texts)))]
        index_type = np.int32 if max(width, len(unique)) < 2**31 else np.int64
        shape = (len(texts), width)
        return sp.csr_array((data, (unique % width).astype(index_type), indptr.astype(index_type)), shape=shape)

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


def _windows(starts: np.ndarray, lengths: np.ndarray, n: int, at_least: int) -> tuple[np.ndarray, np.ndarray]:
    """For each run (``lengths`` units from ``starts``) of at least ``at_least`` units, the
    positions of its n-grams, and which run each belongs to."""
    longer = lengths >= at_least
    count = lengths[longer] - n + 1
    offset = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    return np.repeat(np.flatnonzero(longer), count), np.repeat(starts[longer], count) + offset


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

    def _keys(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        low, high = self.vectorizer.ngram_range
        words = [text.split() for text in texts]
        lengths = np.fromiter(map(len, chain.from_iterable(words)), dtype=np.int64) + 2
        document = np.repeat(np.arange(len(texts)), [len(split) for split in words])
        padded = " " + "  ".join(chain.from_iterable(words)) + " " if len(lengths) else ""  # each word padded
        ids = self.table_[np.frombuffer(padded.encode("utf-32-le"), dtype=np.uint32)]
        starts = np.cumsum(lengths) - lengths
        room = np.repeat(starts + lengths, lengths) - np.arange(len(ids))  # characters left in the word
        of_position = np.repeat(document, lengths)
        rolling = np.zeros(len(ids), dtype=np.uint64)  # at step n: the key of the n characters from each position
        rows, keys = [], []
        for n in range(1, high + 1):
            rolling[: len(ids) - n + 1] |= ids[n - 1 :] << np.uint64(BITS * (4 - n))
            # from n = low every n-gram inside a word; below low only a word of n characters, whole
            # (a word no longer than n gives itself once, then stops)
            first = np.flatnonzero(room >= n) if n >= low else starts[lengths == n]
            rows.append(of_position[first])
            keys.append(rolling[first])
        return np.concatenate(rows), np.concatenate(keys)


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

    def _keys(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        low, high = self.vectorizer.ngram_range
        tokenize, known = self.vectorizer.tokenizer, self.table_.get
        tokens = [list(map(known, tokenize(text), repeat(0))) for text in texts]
        lengths = np.fromiter(map(len, tokens), dtype=np.int64, count=len(tokens))
        ids = np.fromiter(chain.from_iterable(tokens), dtype=np.uint64, count=int(lengths.sum()))
        starts = np.cumsum(lengths) - lengths
        base = np.uint64(self.base_)
        rows, keys = [], []
        for n in range(low, high + 1):
            document, first = _windows(starts, lengths, n, n)
            key, known_all = np.zeros(len(first), dtype=np.uint64), np.ones(len(first), dtype=bool)
            for k in range(n):
                unit = ids[first + k]
                known_all &= unit > 0
                key = key * base + unit
            key[~known_all] = 0
            rows.append(document)
            keys.append(key)
        return np.concatenate(rows), np.concatenate(keys)


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

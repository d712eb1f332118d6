"""The n-gram counting loops of :mod:`pipeline.fastngrams`, compiled.

numpy's vectorised version of these loops made every n-gram of a block an array element several
times over (its key, its document, its place in the vocabulary, a sort to gather equal cells):
about 40 µs a contact, a fifth of a scoring worker's time. Compiled with numba, each is one
pass over a block's characters or tokens with a hash lookup per n-gram, and a text's columns
come out in order from a bitmap. numba compiles it on first use and keeps the
machine code in its cache (``__pycache__`` beside this file, or ``NUMBA_CACHE_DIR``), so only
the first run on a machine pays the few seconds of compiling. Only the processes that score
import it (the scoring pool's fork server among them, so its workers start with it ready).
"""

from __future__ import annotations

import numba
import numpy as np

MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing: the key times 2^64/phi, top bits
EMPTY = np.uint64(0)  # no n-gram key is 0: every character's id is at least 1
# A 64-bit word's lowest set bit, isolated, times a de Bruijn number: its top 6 bits name the bit
DE_BRUIJN = np.uint64(0x03F79D71B4CB0A89)
LOWEST_BIT = np.zeros(64, dtype=np.int64)
LOWEST_BIT[[((1 << bit) * int(DE_BRUIJN) % 2**64) >> 58 for bit in range(64)]] = np.arange(64)


def hash_table(keys: np.ndarray, columns: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """An open-addressing table of the vocabulary's keys: slots of keys and their columns, and
    the shift that takes a hashed key to its slot (the table is at least twice the keys)."""
    bits = max(4, int(2 * len(keys) - 1).bit_length() + 1)
    slots = np.zeros(1 << bits, dtype=np.uint64)
    found = np.full(1 << bits, -1, dtype=np.int32)
    _fill(slots, found, keys.astype(np.uint64), columns.astype(np.int32), np.uint64(64 - bits))
    return slots, found, 64 - bits


@numba.njit(cache=True, nogil=True)
def _fill(slots, found, keys, columns, shift):  # pragma: no cover - compiled
    mask = np.uint64(slots.shape[0] - 1)
    for i in range(keys.shape[0]):
        slot = (keys[i] * MULTIPLIER) >> shift
        while slots[slot] != EMPTY:
            slot = (slot + np.uint64(1)) & mask
        slots[slot] = keys[i]
        found[slot] = columns[i]


def _whitespace() -> np.ndarray:
    """Whether each code point is whitespace to ``str.split()``."""
    return np.fromiter(map(str.isspace, map(chr, range(0x110000))), dtype=np.bool_, count=0x110000)


WHITESPACE = _whitespace()


@numba.njit(cache=True, nogil=True)
def _column(key, slots, found, shift):  # pragma: no cover - compiled
    """The vocabulary column of ``key``, or -1."""
    mask = np.uint64(slots.shape[0] - 1)
    slot = (key * MULTIPLIER) >> shift
    while slots[slot] != key and slots[slot] != EMPTY:
        slot = (slot + np.uint64(1)) & mask
    return found[slot] if slots[slot] == key else -1


@numba.njit(cache=True, nogil=True)
def _count(column, counts, touched):  # pragma: no cover - compiled
    """One more of ``column`` in the current text; 1 when it is the text's first."""
    counts[column] += 1
    if counts[column] == 1:
        touched[column >> 6] |= np.uint64(1) << np.uint64(column & 63)
        return 1
    return 0


@numba.njit(cache=True, nogil=True)
def _emit(touched, counts, indices, values, cells, distinct):  # pragma: no cover - compiled
    """The current text's cells, columns ascending, appended at ``cells`` (the arrays grown when
    they do not fit); ``counts`` and ``touched`` cleared for the next text."""
    if cells + distinct > indices.shape[0]:
        size = max(2 * indices.shape[0], cells + distinct)
        grown = np.empty(size, dtype=np.int32)
        grown[:cells] = indices[:cells]
        indices = grown
        grown = np.empty(size, dtype=np.int32)
        grown[:cells] = values[:cells]
        values = grown
    for word in range(touched.shape[0]):
        bits = touched[word]
        if bits == EMPTY:
            continue
        touched[word] = EMPTY
        while bits != EMPTY:
            lowest = bits & (~bits + np.uint64(1))
            column = word * 64 + LOWEST_BIT[(lowest * DE_BRUIJN) >> np.uint64(58)]
            indices[cells] = column
            values[cells] = counts[column]
            counts[column] = 0
            cells += 1
            bits ^= lowest
    return indices, values, cells


@numba.njit(cache=True, nogil=True)
def char_wb_counts(codes, starts, is_space, table, space, low, high, slots, found, shift, width):  # pragma: no cover - compiled
    """Counts of the vocabulary's char_wb n-grams in each text, as CSR arrays (indptr, indices,
    counts; columns ascending within a row).

    ``codes`` are the texts' code points, text ``d`` at ``starts[d]:starts[d + 1]``; ``table``
    gives each code point's id (``space`` that of " "), ``slots``/``found``/``shift`` the
    vocabulary from :func:`hash_table`. The n-grams are ``_char_wb_ngrams``': each
    whitespace-separated word padded with one space each side gives, for each n from ``low``, its
    n-grams, and a word no longer than n gives itself once and no longer n-grams; an n-gram
    packs into a key of 16 bits a character, the first character highest.
    """
    texts = starts.shape[0] - 1
    indptr = np.zeros(texts + 1, dtype=np.int64)
    indices = np.empty(codes.shape[0] + 16, dtype=np.int32)  # grown when a text's cells do not fit
    values = np.empty(codes.shape[0] + 16, dtype=np.int32)
    counts = np.zeros(width, dtype=np.int32)
    # the columns a text has, as bits: read out in ascending order without sorting them
    touched = np.zeros((width + 63) // 64, dtype=np.uint64)
    padded = np.empty(codes.shape[0] + 2, dtype=np.uint64)
    cells = 0
    for text in range(texts):
        distinct = 0
        position = starts[text]
        stop = starts[text + 1]
        while position < stop:
            if is_space[codes[position]]:
                position += 1
                continue
            end = position
            while end < stop and not is_space[codes[end]]:
                end += 1
            length = end - position + 2
            padded[0] = space
            for k in range(position, end):
                padded[k - position + 1] = table[codes[k]]
            padded[length - 1] = space
            for n in range(1, high + 1):
                if n > length:
                    break
                if n < low and n != length:
                    continue
                for first in range(length - n + 1):
                    key = np.uint64(0)
                    for k in range(n):
                        key |= padded[first + k] << np.uint64(16 * (3 - k))
                    column = _column(key, slots, found, shift)
                    if column >= 0:
                        distinct += _count(column, counts, touched)
            position = end
        indices, values, cells = _emit(touched, counts, indices, values, cells, distinct)
        indptr[text + 1] = cells
    return indptr, indices[:cells].copy(), values[:cells].copy()


@numba.njit(cache=True, nogil=True)
def word_counts(ids, starts, low, high, base, slots, found, shift, width):  # pragma: no cover - compiled
    """Counts of the vocabulary's word n-grams in each text, as :func:`char_wb_counts` gives
    them. ``ids`` are the texts' token ids (0 for a token outside the vocabulary: no n-gram
    holding one is counted), text ``d`` at ``starts[d]:starts[d + 1]``; an n-gram's key is its
    ids as the digits of a number in ``base``, the first highest (as ``_word_ngrams`` joins
    them)."""
    texts = starts.shape[0] - 1
    indptr = np.zeros(texts + 1, dtype=np.int64)
    indices = np.empty(ids.shape[0] + 16, dtype=np.int32)
    values = np.empty(ids.shape[0] + 16, dtype=np.int32)
    counts = np.zeros(width, dtype=np.int32)
    touched = np.zeros((width + 63) // 64, dtype=np.uint64)
    cells = 0
    for text in range(texts):
        distinct = 0
        first_token = starts[text]
        stop = starts[text + 1]
        for n in range(low, high + 1):
            for first in range(first_token, stop - n + 1):
                key = np.uint64(0)
                for k in range(n):
                    unit = ids[first + k]
                    if unit == EMPTY:
                        key = EMPTY
                        break
                    key = key * base + unit
                if key != EMPTY:
                    column = _column(key, slots, found, shift)
                    if column >= 0:
                        distinct += _count(column, counts, touched)
        indices, values, cells = _emit(touched, counts, indices, values, cells, distinct)
        indptr[text + 1] = cells
    return indptr, indices[:cells].copy(), values[:cells].copy()


def _warm() -> None:
    """Compile the kernels, or load them from numba's cache, at import: the scoring pool's fork
    server imports this module, so its workers start with them ready."""
    slots, found, shift = hash_table(np.array([1], dtype=np.uint64), np.array([0]))
    shift = np.uint64(shift)
    char_wb_counts(np.zeros(1, dtype=np.uint32), np.array([0, 1]), WHITESPACE, np.ones(1, dtype=np.uint64), np.uint64(1), 1, 1, slots, found, shift, 1)
    word_counts(np.ones(1, dtype=np.uint64), np.array([0, 1]), 1, 1, np.uint64(2), slots, found, shift, 1)


_warm()

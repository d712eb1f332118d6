"""Tokenize: jieba's dictionary and segmentation, with rjieba (jieba-rs) as the fast engine.

``Tokenizer`` is what ``TfidfVectorizer(tokenizer=Tokenizer(...), token_pattern=None,
lowercase=False)`` calls on the output of :func:`pipeline.normalize.normalize_text`:

1. lower case (and NFKC when the text is not normalized yet), so user words match whatever the
   casing of the input (``5G套餐`` and ``5g套餐`` are one word);
2. the text is reduced to runs of Chinese characters, ASCII letters and digits, joined by
   spaces: punctuation, emoji and symbols never reach the engine. Characters outside jieba's
   Chinese range (\\u4E00–\\u9FD5) stand alone. This exists because jieba and jieba-rs treat
   punctuation and rare CJK blocks differently (``add-on``, ``john.doe``, ``010-12345678``:
   jieba splits at the ``-``/``.``, jieba-rs keeps one token — a third of raw contact texts
   differ; ``係咪㗎``: jieba-rs joins the extension-A character to its neighbours): on the
   reduced text the two engines give the same tokens. The output of ``normalize_text`` already
   is such runs, so steps 1–2 are skipped for it (one character-class scan decides);
3. the engine segments (HMM on, as ``jieba.lcut``); English words and number+unit runs
   (``activate``, ``10gb``, ``5g``) and the placeholders of ``normalize`` (``xxphone``) stay
   whole, because jieba keeps runs of ASCII letters and digits together;
4. spaces and stop words are dropped.

The engine (an ``rjieba.Jieba`` or a ``jieba.Tokenizer`` with the user words added) lives in a
per-process cache keyed by engine and user-word hash, and is never pickled: a model loaded in a
new process or on a Spark worker rebuilds it on first use (rjieba ~0.2 s, jieba ~1 s).
User words get the frequency the engine suggests (``add_word(word)`` without a frequency, as
``jieba.add_word`` does), which keeps each word whole; words already in the dictionary are left
alone, so the two engines keep identical dictionaries.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import unicodedata
from collections.abc import Callable, Iterable
from itertools import filterfalse
from pathlib import Path

from pipeline.errors import ConfigError

log = logging.getLogger(__name__)

ENGINES = ("rjieba", "jieba")

# jieba's own Chinese range; other letters (CJK extensions, kana, é) become one-character tokens.
_RUN_RE = re.compile(r"[\u4E00-\u9FD5a-z0-9]+|[^\W\d_]")
# Text that is already such runs and spaces (the output of normalize_text) goes to the engine as is.
_FOREIGN_CHAR_RE = re.compile(r"[^\u4E00-\u9FD5a-z0-9 ]")

_COMMENT_RE = re.compile(r"(?:^|\s)#.*")  # "c#" stays a word; "# …" and "word  # …" are comments

_engines: dict[tuple[str, str], Callable[[str], list[str]]] = {}
_engines_lock = threading.Lock()


def words_hash(words: Iterable[str]) -> str:
    """SHA-256 of the sorted, de-duplicated words (one per line): the dictionary's identity."""
    return hashlib.sha256("\n".join(sorted(set(words))).encode("utf-8")).hexdigest()


def _engine_words(user_words: Iterable[str]) -> tuple[str, ...]:
    """The words as the engine sees them: lower-cased (text is lower-cased), sorted, unique."""
    return tuple(sorted({word.strip().lower() for word in user_words if word and word.strip()}))


def _build_rjieba(words: tuple[str, ...]) -> Callable[[str], list[str]]:
    import rjieba

    engine = rjieba.Jieba()
    for word in words:
        if not engine.has_word(word):
            engine.add_word(word, None, None)
    return engine.cut  # hmm=True by default, as jieba.lcut


def _build_jieba(words: tuple[str, ...]) -> Callable[[str], list[str]]:
    import jieba

    jieba.setLogLevel(logging.WARNING)  # the dictionary load logs at DEBUG/INFO otherwise
    logging.getLogger("jieba").handlers.clear()  # its own stderr handler: records go through ours
    engine = jieba.Tokenizer()
    engine.initialize()
    for word in words:
        if not engine.FREQ.get(word):
            engine.add_word(word)
    return lambda text: engine.lcut(text, HMM=True)


_BUILDERS = {"rjieba": _build_rjieba, "jieba": _build_jieba}


def _segmenter(engine: str, words: tuple[str, ...]) -> Callable[[str], list[str]]:
    key = (engine, words_hash(words))
    cut = _engines.get(key)
    if cut is None:
        with _engines_lock:
            cut = _engines.get(key)
            if cut is None:
                cut = _BUILDERS[engine](words)
                _engines[key] = cut
                log.debug("tokenize - %s engine ready with %d user words", engine, len(words))
    return cut


class Tokenizer:
    """Callable text → tokens for ``TfidfVectorizer(tokenizer=..., token_pattern=None)``.

    ``__init__`` only stores its arguments; the engine is built lazily in each process.
    """

    def __init__(
        self,
        user_words: tuple[str, ...] = (),
        stopwords: frozenset[str] | tuple[str, ...] = (),
        engine: str = "rjieba",
    ) -> None:
        self.user_words = user_words
        self.stopwords = stopwords
        self.engine = engine

    def _prepare(self) -> None:
        if self.engine not in _BUILDERS:
            raise ConfigError(f"tokenizer engine must be one of {list(ENGINES)}, got {self.engine!r}")
        self._cut = _segmenter(self.engine, _engine_words(self.user_words))
        self._drop = frozenset(word.lower() for word in self.stopwords) | {" "}

    def __call__(self, text: str) -> list[str]:
        if not text:
            return []
        try:
            cut, drop = self._cut, self._drop
        except AttributeError:
            self._prepare()
            cut, drop = self._cut, self._drop
        if _FOREIGN_CHAR_RE.search(text) is not None:
            text = text.lower()
            if not text.isascii() and not unicodedata.is_normalized("NFKC", text):
                text = unicodedata.normalize("NFKC", text).lower()
            text = " ".join(_RUN_RE.findall(text))
        return list(filterfalse(drop.__contains__, cut(text)))

    def __getstate__(self) -> dict:
        # the engine is process state (and rjieba/jieba objects do not pickle)
        return {key: value for key, value in self.__dict__.items() if key not in ("_cut", "_drop")}

    def __repr__(self) -> str:
        return (
            f"Tokenizer(user_words=<{len(self.user_words)} words>, "
            f"stopwords=<{len(self.stopwords)} words>, engine={self.engine!r})"
        )


def read_user_words(path: Path | str) -> tuple[str, ...]:
    """Words of a jieba user dictionary (``word [freq] [tag]`` per line, ``#`` comments).

    Frequencies and tags are not used: the tokenizer gives each word the frequency the engine
    suggests, which is what ``jieba.add_word(word)`` does.
    """
    words = []
    for number, line in _read_lines(path):
        fields = line.split()
        if len(fields) > 1 and not fields[1].isdigit():
            raise ConfigError(
                f"{path}:{number}: expected 'word [frequency] [tag]', got {line!r}; "
                "the frequency must be a whole number"
            )
        words.append(fields[0])
    return tuple(dict.fromkeys(words))


def read_stopwords(path: Path | str) -> frozenset[str]:
    """Stop words, one per line (``#`` comments), lower-cased as the text is."""
    return frozenset(line.lower() for _, line in _read_lines(path))


def _read_lines(path: Path | str) -> list[tuple[int, str]]:
    """(line number, content) of the lines that hold something besides a comment."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"word list not found: {path}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot read word list {path}: {error}") from None
    lines = ((number, _COMMENT_RE.sub("", line).strip()) for number, line in enumerate(text.splitlines(), start=1))
    return [(number, line) for number, line in lines if line]

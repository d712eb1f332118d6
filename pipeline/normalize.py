"""Normalize: speaker turns, boilerplate, width, and the text that feeds the features.

:func:`normalize_text` / :func:`prepare_texts` run these steps::

    speaker view → boilerplate (agent turns, untagged text) → NFKC → traditional→simplified
    → PII and number placeholders → lower case → punctuation dropped, whitespace collapsed

Two steps live in their own modules: traditional→simplified in :mod:`pipeline.simplify`, and
PII masking with the placeholder scheme (``xxphone xxemail … xxnum``) in :mod:`pipeline.pii`.
:func:`~pipeline.pii.mask_pii`, :func:`~pipeline.pii.mask_pii_series`,
:data:`~pipeline.pii.PLACEHOLDERS` and :func:`~pipeline.simplify.convert_to_simplified` are
importable from here as well.

Speed (``benchmarks/bench_text.py``)
    normalize_text runs at ~7–8 M chars/s. With the tokenizer the pair is ~12× jieba.lcut on the
    demo contacts (tagged transcripts: only the customer's turns reach rjieba), but only ~7–9×
    on untagged real chat windows (JDDC, ~270 characters of dense Chinese), where rjieba
    segments every character and takes over half the time; ~6–8× on one-line notes, where
    per-call overhead dominates. Python's ``re`` is fast only when a pattern starts with a
    literal or a character class it can skip to, so the patterns are written that way: speaker
    tags are searched in the reversed text (they end with a colon), boilerplate alternatives
    start with literals and match a lower-cased copy.

Everything here is a pure function of its arguments: no paths, clock or environment.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Literal

import pandas as pd

from pipeline.errors import ConfigError, InputError
from pipeline.pii import PLACEHOLDERS, is_missing, mask_pii, mask_pii_series, replace_with_placeholders
from pipeline.simplify import convert_to_simplified

__all__ = [
    "AGENT_BOILERPLATE_PATTERNS",
    "EMAIL_FORMULA_PATTERNS",
    "PLACEHOLDERS",
    "ROLES",
    "VIEWS",
    "View",
    "convert_to_simplified",
    "mask_pii",
    "mask_pii_series",
    "normalize_text",
    "prepare_texts",
    "remove_boilerplate",
    "select_view",
    "shared_turns",
    "split_turns",
    "to_halfwidth",
]

View = Literal["customer", "agent", "all"]
VIEWS: tuple[str, ...] = ("customer", "agent", "all")
ROLES: tuple[str, ...] = ("customer", "agent", "other")

# ---------------------------------------------------------------------------------------------
# Speaker turns
# ---------------------------------------------------------------------------------------------

_ROLE_TAGS: dict[str, tuple[str, ...]] = {
    "customer": ("客户", "客戶", "顾客", "顧客", "用户", "用戶", "Customer", "Client", "User"),
    "agent": (
        "坐席", "座席", "客服", "客服代表", "客服人员", "客服人員", "店员", "店員", "工作人员",
        "工作人員", "话务员", "話務員", "Agent", "Rep", "Representative", "CSR", "Operator",
        "Customer Service", "Customer Care",
    ),
    "other": ("系统", "系統", "机器人", "機器人", "機械人", "System", "IVR", "Bot"),
}
# One-letter tags ("C: … A: …") are only trusted at the start of a line, or inline in a one-line
# text that itself starts with one: "Plan A: 129元" must not become an agent turn.
_LETTER_TAGS = {"C": "customer", "A": "agent"}


def _tag_variants() -> dict[str, str]:
    variants: dict[str, str] = {}
    for role, tags in _ROLE_TAGS.items():
        for tag in tags:
            for form in (tag, tag.upper(), tag.lower(), tag.title()):
                variants[form] = role
    variants.update(_LETTER_TAGS)
    return variants


_TAG_ROLES = _tag_variants()
# Every tag ends with a colon, so tags are found in the reversed text: the pattern then starts
# with the colon class and ``re`` skips from colon to colon (a forward alternation of ~80 tags is
# tried at every letter and costs ~10 µs a transcript). Groups: the whole tag, the tag word.
_REVERSED_TAG_RE = re.compile(
    r"([:：﹕][ \t]*(?:[)）\]】][^(（\[【\n]{0,24}[(（\[【]|\d{1,6}#?)?[ \t]*("
    + "|".join(re.escape(tag[::-1]) for tag in sorted(_TAG_ROLES, key=len, reverse=True))
    + r"))(?!\w)"
)
_LEADING_LETTER_TAG_RE = re.compile(r"\s*[CA][ \t]*[:：﹕]")


_REVERSED_TAG_ROLES = {tag[::-1]: role for tag, role in _TAG_ROLES.items()}


def _one_turn(text: str) -> list[tuple[str, str]]:
    stripped = text.strip()
    return [("other", stripped)] if stripped else []


def _tagged_pieces(text: str) -> list[list[str]] | None:
    """``[role, reversed body]`` in text order, or None for a text without speaker tags."""
    if ":" not in text and "：" not in text and "﹕" not in text:
        return None
    parts = _REVERSED_TAG_RE.split(text[::-1])
    if len(parts) == 1:
        return None
    parts.reverse()  # [preamble, tag word, whole tag, body, tag word, whole tag, body …], all reversed
    pieces = [["other", parts[0]]]
    letters_inline = None
    for index in range(1, len(parts), 3):
        word = parts[index]
        if word in _LETTER_TAGS:
            before = pieces[-1][1]  # reversed: its start is the text just before the tag
            line = before.split("\n", 1)
            if line[0].strip() or (len(line) == 1 and len(pieces) > 1):  # not at a line start
                if letters_inline is None:
                    letters_inline = bool(_LEADING_LETTER_TAG_RE.match(text)) and "\n" not in text.strip()
                if not (letters_inline and before[:1].isspace()):
                    pieces[-1][1] = parts[index + 2] + parts[index + 1] + before
                    continue
        pieces.append([_REVERSED_TAG_ROLES[word], parts[index + 2]])
    return pieces


def split_turns(text: str | None) -> list[tuple[str, str]]:
    """Speaker turns as ``(role, utterance)``, role in ``customer``, ``agent``, ``other``.

    Tags such as ``客户：``, ``坐席:``, ``Customer (John):``, ``Agent 1023:`` start a turn, on
    their own line or inline (``客户：… 坐席：…``); a tag must not continue a word (``联系客服：``
    is not a tag). One-letter tags (``C:``, ``A:``) count at the start of a line, or inline in a
    one-line text that starts with one (``Plan A: 129元`` is not a turn). Text before the first
    tag, and text without tags, is one ``other`` turn. Empty turns are dropped.

    Inside :func:`shared_turns` each text is split once, however many stages ask.
    """
    if not text:
        return []
    memo = _TURN_MEMO.get()
    if memo is not None and (turns := memo.get(text)) is not None:
        return turns
    pieces = _tagged_pieces(text)
    if pieces is None:
        turns = _one_turn(text)
    else:
        turns = [(role, stripped) for role, body in pieces if (stripped := body[::-1].strip())]
    if memo is not None:
        memo[text] = turns
    return turns


_TURN_MEMO: ContextVar[dict[str, list[tuple[str, str]]] | None] = ContextVar("turn_memo", default=None)


@contextmanager
def shared_turns() -> Iterator[None]:
    """Within the block, :func:`split_turns` remembers each text's turns: scoring a chunk splits
    every transcript for the features and again for the effort cues (about 18 µs a transcript
    of 500 characters). The memo lives as long as the block, for this context only."""
    token = _TURN_MEMO.set({})
    try:
        yield
    finally:
        _TURN_MEMO.reset(token)


def _check_view(view: str) -> None:
    if view not in VIEWS:
        raise ConfigError(f"normalize view must be one of {list(VIEWS)}, got {view!r}")


def _view_turns(text: str | None, view: str) -> list[tuple[str, str]]:
    turns = split_turns(text)
    if view != "all":
        chosen = [turn for turn in turns if turn[0] == view]
        if chosen:
            return chosen
        # No turn of that role (an agent's note, a system log): the whole text is the story.
    return turns


def select_view(text: str | None, view: View = "customer") -> str:
    """The customer's turns, the agent's turns, or all turns, joined by newlines, tags removed.

    A text without tags — or without any turn of the requested role — is returned whole: a
    one-line note is the customer's story whoever typed it.
    """
    _check_view(view)
    return "\n".join(utterance for _, utterance in _view_turns(text, view))


# ---------------------------------------------------------------------------------------------
# Boilerplate
# ---------------------------------------------------------------------------------------------


def _heads(heads: str, rest: str, *, word: bool = False) -> str:
    """``heads`` (space-separated literals) each followed by ``rest``: every alternative of the
    combined pattern then starts with a literal, which lets ``re`` skip other positions fast
    (``_`` in a head stands for a space).
    ``word``: a head must not continue a preceding word ("bye" in "standbye")."""
    heads_ = [head.replace("_", " ") for head in heads.split()]
    return "|".join(
        re.escape(head) + (f"(?<![a-z]{re.escape(head)})" if word else "") + rest for head in heads_
    )


_ASK_HEADS = "请问您 請問您 请问 請問 您 你"

# Matched on a lower-cased copy of the text, so the English formulas are written in lower case.
AGENT_BOILERPLATE_PATTERNS: tuple[re.Pattern[str], ...] = tuple(
    re.compile(pattern)
    for pattern in (
        # greetings and self-introduction
        _heads("早上好 上午好 中午好 下午好 晚上好 您好 你好", ""),
        _heads("很高 好高 非常高 高", r"[兴興](?:能)?[为為][您你]服[务務]"),
        _heads("这里是 這裏是 這裡是", r"[^\n,，。!！?？]{0,12}?(?:客服|热线|熱線)(?:中心)?"),
        _heads("工号 工號", r"[为為]?\s*#?\d{1,6}[号號]?"),
        _heads("为您服务 為您服務 为你服务 為你服務", ""),
        # offers of further help
        _heads(" ".join(ask + more for ask in (*_ASK_HEADS.split(), "") for more in ("还有", "還有", "仲有")),
               r"(?:没有|沒有|冇)?(?:什[么麼]|甚[么麼]|其他|其它|别的|別的|乜嘢)(?:[问問]题|事情|事|地方|业务|業務)?"
               r"(?:可以|需要|要)?(?:[帮幫](?:到|助)?|[为為])[您你](?:的|嘅)?(?:地方)?(?:吗|嗎|呢|呀)?"),
        _heads(" ".join(ask + "有" for ask in (*_ASK_HEADS.split(), "")),
               r"(?:什[么麼]|甚[么麼]|咩|乜嘢)(?:[问問]题|事情|事)?(?:可以|需要)?(?:[帮幫](?:到|助)?|[为為])[您你](?:的|嘅)?(?:吗|嗎|呢|呀)?"),
        # thanks, wishes, goodbye
        _heads("感谢 感謝 多谢 多謝 谢谢 謝謝", r"[您你](?:的|嘅)?(?:[来來][电電]|致[电電]|耐心等待|耐心|等待|支持|理解|配合)"),
        _heads("感谢 感謝", r"[您你]?致[电電][^\n,，。!！?？]{0,12}"),
        _heads("祝您 祝你", r"(?:生活愉快|工作[顺順]利|一切[顺順]利|[周週]末愉快|[节節]日快[乐樂]|身[体體]健康|[开開]心|愉快|有[个個]?美好的一天)"),
        _heads("再见 再見 再会 再會 拜拜 不客气 不客氣 唔使客气 唔使客氣 唔该等等 唔該等等", ""),
        _heads("请 請", r"[您你]?稍[等候](?:一下|片刻)?"),
        _heads("请 請", r"[您你]?[对對](?:我的|本次)服[务務](?:[进進]行)?[评評][价價]"),
        _heads("来电 來電 通话 通話", r"(?:可能)?(?:[会會]|将|將)?被(?:[录錄]音|[录錄][制製])"),
        # English (lower case)
        _heads("thank_you thanks", r"(?: so much| very much)? for (?:calling|contacting(?: us)?|your (?:call|patience|time|message|email)"
               r"|waiting|holding|choosing)(?:[^\n.,!?]{1,30}(?=[.,!?\n]))?"),
        _heads("how_can how_may how_could", r" i (?:help|assist) you(?: today)?"),
        _heads("what_can", r" i do for you(?: today)?"),
        _heads("is_there_anything_else", r"(?: (?:that )?i (?:can|could|may) (?:help|assist|do)(?: you)?(?: with| for you)?)?(?: today)?"),
        _heads("have_a", r" (?:nice|good|great|wonderful|lovely|pleasant) (?:day|evening|afternoon|weekend|night|one)"),
        _heads("good_morning good_afternoon good_evening you're_welcome you_are_welcome", ""),
        _heads("my_name_is", r" [a-z]+"),
        _heads("you're_speaking you_are_speaking", r" (?:to|with) [a-z]+"),
        _heads("please_hold hold_on bear_with_me one_moment give_me_a_moment", r"(?: please)?"),
        _heads("this_call your_call calls", r" (?:may|will|might|are) (?:be )?(?:recorded|monitored)[^.!?\n]*"),
        _heads("it's_my it_is_my my", r" pleasure(?: to (?:help|assist|serve)(?: you)?)?"),
        _heads("goodbye good_bye bye", r"(?![a-z])", word=True),
    )
)
EMAIL_FORMULA_PATTERNS: tuple[re.Pattern[str], ...] = tuple(
    re.compile(pattern)
    for pattern in (
        _heads("dear", r" [^\n,:;.!?]{1,40}[,:;]", word=True),
        _heads("dear", r" (?:sir|madam|sir/madam|sir or madam|team|all|customer service|support)(?![a-z])", word=True),
        _heads("hi hello", r"(?: there| team| all)?[ \t]*[,!:]", word=True),
        _heads("best kind warm warmest", r" regards(?![a-z])[^\n]*", word=True),
        _heads("regards sincerely cheers", r",?[ \t]*(?:[a-z]+[ \t]*)?(?=\n|\Z)", word=True),
        _heads("yours", r" (?:sincerely|faithfully|truly)(?![a-z])[^\n]*"),
        _heads("sent_from_my", r" (?:iphone|ipad|android|huawei|mobile|phone)[^\n]*"),
        _heads("此致", r"[ \t\n]*敬[礼禮]"),
        _heads("敬礼 敬禮", r"(?=[\s!！。.]*(?:\n|\Z))"),
        _heads("顺颂商祺 順頌商祺 顺祝商祺 順祝商祺 谨上 謹上", ""),
        _heads("尊敬的", r"[^\n，,：:]{0,12}[：:，,]"),
        _heads("您好 你好", r"[ \t]*[：:，,!！]"),
    )
)
_AGENT_BOILERPLATE_RE = re.compile("|".join(p.pattern for p in (*EMAIL_FORMULA_PATTERNS, *AGENT_BOILERPLATE_PATTERNS)))
_EMAIL_FORMULA_RE = re.compile("|".join(p.pattern for p in EMAIL_FORMULA_PATTERNS))


def remove_boilerplate(text: str, role: str = "agent") -> str:
    """Drop greeting and closing formulas (case-insensitive), each replaced by a space.

    Agent turns and untagged text (``role`` ``agent`` or ``other``) lose the agent formulas
    (您好很高兴为您服务, 请问还有什么可以帮您, Thank you for calling …) and e-mail greetings and
    sign-offs; customer turns lose only the e-mail formulas (Dear Sir/Madam, Best regards, 此致敬礼).
    """
    pattern = _EMAIL_FORMULA_RE if role == "customer" else _AGENT_BOILERPLATE_RE
    lowered = text.lower()
    if len(lowered) != len(text):  # a rare character (İ) changed length: match on the original
        lowered = text
    match = pattern.search(lowered)
    if match is None:
        return text
    pieces, last = [], 0
    while match is not None:
        pieces.append(text[last : match.start()])
        last = match.end()
        match = pattern.search(lowered, last)
    pieces.append(text[last:])
    return " ".join(pieces)


# ---------------------------------------------------------------------------------------------
# Width (NFKC)
# ---------------------------------------------------------------------------------------------

_ZERO_WIDTH = ("\u200b", "\u200c", "\u200d", "\u2060", "\ufeff")
# Full-width punctuation that the feature text drops anyway, and that masking reads in both
# widths (（021）, ＋86, 138－1234): no reason to pay for NFKC on almost every Chinese text.
_PUNCTUATION_KEPT_WIDE = frozenset("，；！？：（）－＋～\u3000…")


def to_halfwidth(text: str) -> str:
    """NFKC: full-width ASCII becomes half-width, compatibility characters their plain form
    (①→1, ㎡→m2), zero-width characters are removed."""
    if text.isascii():
        return text
    for char in _ZERO_WIDTH:
        text = text.replace(char, "")
    return unicodedata.normalize("NFKC", text)


@functools.cache
def _width_regex() -> re.Pattern[str]:
    """The BMP characters NFKC changes, except the punctuation above (built on first use)."""
    changing = (
        chr(code)
        for code in range(0x80, 0x10000)
        if not 0xD800 <= code < 0xE000
        and chr(code) not in _PUNCTUATION_KEPT_WIDE
        and unicodedata.normalize("NFKC", chr(code)) != chr(code)
    )
    return re.compile("[" + re.escape("".join(sorted([*changing, *_ZERO_WIDTH]))) + "]")


def _fold_width(text: str) -> str:
    """:func:`to_halfwidth` for the feature text, skipped when only dropped punctuation is wide."""
    if text.isascii() or _width_regex().search(text) is None:
        return text
    return to_halfwidth(text)


# ---------------------------------------------------------------------------------------------
# Feature text
# ---------------------------------------------------------------------------------------------

# can't → can not, won't → will not, doesn't → does not: the negation survives as a word.
_WONT_RE = re.compile(r"[wW][oO][nN][’'][tT](?![A-Za-z])")
_NEGATION_RE = re.compile(r"[nN][’'][tT](?![A-Za-z])")
# it's, I'm, you'll, they've, I'd → it, I, you, they, I
_CLITIC_RE = re.compile(r"[’'](?<=[A-Za-z][’'])(?:s|re|ve|ll|d|m)(?![A-Za-z])", re.IGNORECASE)
_INNER_HYPHEN_RE = re.compile(r"-(?<=[A-Za-z]-)(?=[A-Za-z])")  # wi-fi → wifi, e-sim → esim
# Runs of jieba's Chinese range, ASCII letters and digits; any other letter (CJK extensions,
# kana, é) stands alone; punctuation, symbols, emoji and _ drop out. The tokenizer reads text
# made of these runs as is (see pipeline.tokenize).
_WORD_RE = re.compile(r"[\u4E00-\u9FD5A-Za-z0-9]+|[^\W\d_]")


def _negation(match: re.Match[str]) -> str:
    start = match.start()
    return "n not" if match.string[max(0, start - 2) : start].lower() == "ca" else " not"


def _english_contractions(text: str) -> str:
    text = _NEGATION_RE.sub(_negation, _WONT_RE.sub("will not", text))
    return _CLITIC_RE.sub(" ", text)


def normalize_text(
    text: str | None,
    *,
    view: View = "customer",
    to_simplified: bool = True,
    lowercase: bool = True,
    drop_boilerplate: bool = True,
    order_patterns: Sequence[str] = (),
) -> str:
    """The text that feeds the features (see the module docstring for the steps and placeholders)."""
    _check_view(view)
    return _normalize(text, view, to_simplified, lowercase, drop_boilerplate, tuple(order_patterns))


def _normalize(
    text: str | None, view: str, to_simplified: bool, lowercase: bool, drop_boilerplate: bool, order_patterns: tuple[str, ...]
) -> str:
    turns = _view_turns(text, view)
    if not turns:
        return ""
    if drop_boilerplate:
        # Customer turns keep their words: formulas are the agent's (and e-mails', which have
        # no tags and arrive here as "other"); a customer's 你好/谢谢 are stop words anyway.
        text = "\n".join(utterance if role == "customer" else remove_boilerplate(utterance, role) for role, utterance in turns)
    else:
        text = "\n".join(utterance for _, utterance in turns)
    text = _fold_width(text)
    if to_simplified:
        text = convert_to_simplified(text)
    text = replace_with_placeholders(text, order_patterns)
    if "'" in text or "’" in text:
        text = _english_contractions(text)
    if "-" in text:
        text = _INNER_HYPHEN_RE.sub("", text)
    if lowercase:
        text = text.lower()
    return " ".join(_WORD_RE.findall(text))


def prepare_texts(
    texts: Iterable[object],
    view: View = "customer",
    to_simplified: bool = True,
    lowercase: bool = True,
    drop_boilerplate: bool = True,
    order_patterns: Sequence[str] = (),
) -> list[str]:
    """:func:`normalize_text` over a list, array or Series (None/NaN → ``""``).

    Module-level with plain keyword arguments, so ``FunctionTransformer(prepare_texts,
    kw_args={...})`` pickles. A one-column DataFrame or ``(n, 1)`` array is read as its column.
    """
    _check_view(view)
    options = (view, to_simplified, lowercase, drop_boilerplate, tuple(order_patterns))
    prepared = []
    for value in _one_column(texts):
        if not isinstance(value, str):
            value = "" if is_missing(value) else str(value)
        prepared.append(_normalize(value, *options))
    return prepared


def _one_column(texts: Iterable[object]) -> Iterable[object]:
    if isinstance(texts, str):
        raise InputError("prepare_texts expects a sequence of texts, got a single string")
    if isinstance(texts, pd.DataFrame):
        if texts.shape[1] != 1:
            raise InputError(f"prepare_texts expects one text column, got {texts.shape[1]}: {list(texts.columns)}")
        return texts.iloc[:, 0]
    shape = getattr(texts, "shape", None)
    if shape is not None and len(shape) == 2:
        if shape[1] != 1:
            raise InputError(f"prepare_texts expects one text column, got an array of shape {shape}")
        return texts.ravel()  # type: ignore[attr-defined]
    return texts
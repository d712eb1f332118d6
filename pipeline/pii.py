"""PII: personal data masked for people, and number placeholders for the feature text.

Two modes share one pass over the numbers of a text:

* :func:`mask_pii` — the text people may see (reports, review queue, the store): personal data
  replaced by ``[PHONE]``, ``[EMAIL]``, ``[ID]``, ``[CARD]``, ``[ORDER]``; everything else
  untouched (only full-width letters and digits come back half-width).
* :func:`replace_with_placeholders` — the feature text (:func:`pipeline.normalize.normalize_text`
  calls it on NFKC, simplified text): every replaced span becomes one lower-case ASCII word,
  surrounded by spaces, so that the tokenizer (jieba keeps runs of ASCII letters whole) and
  ``char_wb`` n-grams see one unit: ``xxphone xxemail xxid xxcard xxorder xxurl xxamount
  xxdate xxnum`` (:data:`PLACEHOLDERS`). ``xxnum`` is any other run of 5+ digits, and also an
  18-digit number whose PRC-ID checksum fails or a 13–19 digit number that fails Luhn: those
  are not IDs or cards, only long numbers (:func:`mask_pii` leaves them as they are).

Speed: Python's ``re`` is fast only when a pattern starts with a literal or a character class
it can skip to, so the number alternatives are tried only at digit runs that can start one
(see :func:`_mask_numbers`).

Everything here is a pure function of its arguments: no paths, clock or environment.
"""

from __future__ import annotations

import functools
import math
import operator
import re
from collections.abc import Sequence

import pandas as pd

from pipeline.errors import ConfigError

MASK_LABELS: dict[str, str] = {
    "phone": "[PHONE]",
    "email": "[EMAIL]",
    "id": "[ID]",
    "card": "[CARD]",
    "order": "[ORDER]",
}
FEATURE_PLACEHOLDERS: dict[str, str] = {
    "phone": "xxphone",
    "email": "xxemail",
    "id": "xxid",
    "card": "xxcard",
    "order": "xxorder",
    "url": "xxurl",
    "amount": "xxamount",
    "date": "xxdate",
    "number": "xxnum",
}
PLACEHOLDERS: frozenset[str] = frozenset(FEATURE_PLACEHOLDERS.values())

_SEP = r"[ \-‐－]"  # one separator inside a number
_D = r"\d"  # \d also matches full-width digits, so raw text is masked too
_PLUS = r"(?:\+|＋|00)"
_OPEN, _CLOSE = r"[(（]", r"[)）]"

_URL_RE = re.compile(r"(?:https?://|www\.)[A-Za-z0-9\-._~:/?#\[\]@!$&'*+,;=%]+", re.IGNORECASE)
_EMAIL_RE = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")

# Alternatives in priority order (an earlier one wins at the same position): IDs and cards
# before phones, phones before amounts and dates (no phone shape is also a price or a date, and
# a phone is matched without trying them), amounts and dates before bare long numbers.
# Possessive quantifiers (*+, {m,n}+) stop backtracking over digit runs that fail later.
_NUMBER_ALTERNATIVES = (
    # PRC resident ID: 6-digit area, birth date, 3 digits, check digit (validated later)
    ("prc_id", rf"(?<![\dA-Za-z]){_D}{{6}} ?(?:18|19|20){_D}{{2}}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01]) ?{_D}{{3}}[\dXx](?![\dA-Za-z])"),
    # bank cards: 13–19 digits, contiguous or in groups (Luhn validated later)
    ("card", rf"(?<!\d)(?:{_D}{{13,19}}+|{_D}{{4}}(?:{_SEP}{_D}{{4}}){{2}}(?:{_SEP}{_D}{{1,4}}){{1,2}}|{_D}{{4}}{_SEP}{_D}{{6}}{_SEP}{_D}{{4,5}})(?!\d)"),
    # HK ID: one or two letters, six digits, check digit in parentheses or not
    ("hk_id", rf"(?<![A-Za-z\d])[A-Z]{{1,2}}{_D}{{6}}(?:{_OPEN}[\dA]{_CLOSE}|[\dA])(?![A-Za-z\d])"),
    # TW ID: a letter, 1 or 2, eight digits
    ("tw_id", rf"(?<![A-Za-z\d])[A-Z][12]{_D}{{8}}(?![A-Za-z\d])"),
    # HK numbers with the country code; bare 8-digit ones are checked for a phone cue later
    ("phone", rf"(?<!\d){_OPEN}?{_PLUS}852{_CLOSE}?{_SEP}?[2-9]{_D}{{3}}{_SEP}?{_D}{{4}}(?!\d)"
              rf"|(?<![\d+＋])(?:852|{_OPEN}852{_CLOSE}){_SEP}?[2-9]{_D}{{3}}{_SEP}?{_D}{{4}}(?!\d)"),
    # TW mobiles: 0912-345-678, +886 912 345 678, 886 912345678
    ("phone", rf"(?<!\d)(?:{_OPEN}?{_PLUS}?886{_CLOSE}?{_SEP}?9{_D}{{2}}|09{_D}{{2}}){_SEP}?{_D}{{3}}{_SEP}?{_D}{{3}}(?!\d)"),
    # TW landlines: (02) 2345-6789, 07-123-4567, +886 2 2345 6789, (089) 123-456. A one-digit
    # area code needs parentheses or a separator (mainland codes have two or three digits after
    # the 0); 0XX codes with 7–8 digits are the mainland shape below.
    ("phone", rf"(?<!\d)(?:{_OPEN}?{_PLUS}886{_CLOSE}?{_SEP}?{_OPEN}?[2-8]{_CLOSE}?|{_OPEN}0[2-8]{_CLOSE}|0[2-8](?={_SEP}))"
              rf"{_SEP}?{_D}{{3,4}}{_SEP}?{_D}{{4}}(?!\d)"
              rf"|(?<!\d)(?:{_OPEN}0(?:37|8[29]){_CLOSE}|0(?:37|8[29])){_SEP}?{_D}{{3}}{_SEP}?{_D}{{3}}(?!\d)"),
    # mainland mobiles: 13812345678, 138 1234 5678, +86 138-1234-5678, 86 13812345678
    ("phone", rf"(?<!\d)(?:{_OPEN}?{_PLUS}?86{_CLOSE}?{_SEP}?)?1[3-9]{_D}(?:{_SEP}?{_D}{{4}}){{2}}(?!\d)"),
    # mainland landlines: 010-12345678, 0755 1234 5678, (021)12345678, +86 755 12345678
    ("phone", rf"(?<!\d)(?:{_OPEN}?{_PLUS}86{_CLOSE}?{_SEP}?(?:{_OPEN}0?{_D}{{2,3}}{_CLOSE}|0?[1-9]{_D}{{1,2}})|{_OPEN}0{_D}{{2,3}}{_CLOSE}|0[1-9]{_D}{{1,2}})"
              rf"{_SEP}?{_D}{{3,4}}{_SEP}?{_D}{{4}}(?!\d)"),
    # any other number written with an international prefix: +44 20 7946 0958
    ("phone", rf"(?<!\d)(?:\+|＋){_D}{{1,3}}(?:{_SEP}?{_D}{{2,5}}){{2,5}}(?!\d)"),
    # amounts stay amounts: ¥58, HK$168, NT$499, $12.50, 58元, 100块, 30蚊
    ("amount", r"(?:(?<![A-Za-z])(?:HK|NT|US|S|A|C)?\$|¥|￥|€|£|(?<![A-Za-z])(?:RMB|CNY|HKD|TWD|USD) ?) ?\d[\d,]*+(?:\.\d++)?"
               r"|(?<![\d.])\d[\d,]*+(?:\.\d++)? ?(?:元|块钱|塊錢|块|塊|圆|圓|蚊|毛钱|毛|角|港元|港币|港幣|新台币|新台幣|台币|台幣|美元|人民币|人民幣"
               r"|(?i:dollars?|yuan|rmb|hkd)(?![A-Za-z]))"),
    # dates stay dates: 2026-11-03, 2026/11/3, 2026年11月3日, 11月3日, 3/11, 11/3/2026
    ("date", r"(?<!\d)(?:(?:19|20)\d{2}[-/.年](?:0?[1-9]|1[0-2])(?:[-/.月](?:0?[1-9]|[12]\d|3[01])[日号號]?)?(?!\d)"
             r"|(?:0?[1-9]|1[0-2])月(?:(?:0?[1-9]|[12]\d|3[01])[日号號])?"
             r"|(?:0?[1-9]|[12]\d|3[01])/(?:0?[1-9]|1[0-2])(?:/(?:19|20)?\d{2})?(?![\d/])"
             r"|(?:0?[1-9]|1[0-2])/(?:0?[1-9]|[12]\d|3[01])(?:/(?:19|20)?\d{2})?(?![\d/]))"),
    # 8-digit HK-style number, mobile or fixed (see _local_kind), and any other
    # long number
    ("hk_local", rf"(?<!\d)[2-9]{_D}{{3}}{_SEP}?{_D}{{4}}(?!\d)"),
    ("number", r"(?<!\d)\d{5,}+(?:\.\d++)?"),
)
_PHONE_CUE_RE = re.compile(
    r"(?:电话|電話|手机|手機|号码|號碼|联系|聯絡|聯繫|致电|致電|call|tel|phone|mobile|whatsapp|contact|text|sms)",
    re.IGNORECASE,
)
_ORDER_CUE_RE = re.compile(r"订单|訂單|单号|單號|工单|工單|编号|編號|order|ticket|case|ref", re.IGNORECASE)
_COMPACT_DATE_RE = re.compile(r"(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])")
_UNIT_AFTER_RE = re.compile(r"[\u3400-\u9fffA-Za-z%]")
_CUE_WINDOW = 20  # characters before the number that may hold the cue ("WhatsApp me at ")
_CUE_AFTER = 6  # and after it ("97681700 这个号码")
_PRC_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def _prc_id_valid(characters: str) -> bool:
    """Check digit of an 18-character PRC resident ID (GB 11643)."""
    total = sum(map(operator.mul, map(int, characters[:17]), _PRC_ID_WEIGHTS))
    return "10X98765432"[total % 11] == characters[17].upper()


_LUHN_DOUBLED = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)


def _card_valid(digits: str) -> bool:
    """13–19 digits, a card-network first digit (2–6) and a valid Luhn check digit."""
    if not 13 <= len(digits) <= 19:
        return False
    values = list(map(int, digits))  # int() also reads full-width digits
    if not 2 <= values[0] <= 6:
        return False
    return (sum(values[-1::-2]) + sum(_LUHN_DOUBLED[value] for value in values[-2::-2])) % 10 == 0


_PHONE_RE = re.compile("|".join(f"(?:{pattern})" for name, pattern in _NUMBER_ALTERNATIVES if name == "phone"))
_DIGIT_RE = re.compile(r"\d")
# Full-width digits, letters and ＠ (NFKC handles them in the feature text; mask_pii reads raw
# text, where they come back half-width).
_FULLWIDTH_ALNUM = {code: code - 0xFEE0 for code in (*range(0xFF10, 0xFF1A), *range(0xFF20, 0xFF3B), *range(0xFF41, 0xFF5B))}
_FULLWIDTH_ALNUM_RE = re.compile("[０-９＠-Ｚａ-ｚ]")
_SEPARATOR_RE = re.compile(r"([ \-‐－])")
_URL_SPLIT_RE = re.compile(f"({_URL_RE.pattern})", re.IGNORECASE)


def _classify_number(found: str) -> str:
    """An ID-shaped or card-shaped number: ``id``, ``card``, ``phone`` or a plain ``number``."""
    compact = found.replace(" ", "")
    if len(compact) == 18 and _prc_id_valid(compact):
        return "id"
    if compact.isdigit() and _card_valid(compact):
        return "card"
    if _PHONE_RE.fullmatch(found):  # 0086 138…, 86138…: long enough to look like a card
        return "phone"
    return "number"


@functools.lru_cache(maxsize=32)
def _order_regexes(order_patterns: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    compiled = []
    for pattern in order_patterns:
        try:
            # ASCII classes: in "订单号AB1234567890" \b must see 号|A as a word boundary.
            compiled.append(re.compile(pattern, re.ASCII))
        except re.error as error:
            raise ConfigError(f"order number pattern {pattern!r} is not a valid regular expression: {error}") from None
    return tuple(compiled)


_NUMBER_RE = re.compile("|".join(f"(?P<{name}__{index}>{pattern})" for index, (name, pattern) in enumerate(_NUMBER_ALTERNATIVES)))
# Digit runs that can start a number worth replacing: 5+ digits, or a short run next to a
# prefix (+86, (021), HK$, RMB 30, A123…) or a separator/unit (138 1234, 2026-11, 3/11, 58元,
# 12 dollars).
# "3个月", "24小时", "5G", "10GB" are skipped without a Python-level look.
_CANDIDATE_RUN_RE = re.compile(
    r"\d(?<!\d\d)(?:(?<=[+＋(（$¥￥€£A-Z]\d)|(?<=[$¥￥€£A-Z] \d)|\d{4}|\d{0,3}(?=[ \-‐－/.,年月日号號元块塊圆圓蚊毛角港新台美人dDyYrRhH]))"
)
_MATCH_STARTS = frozenset("+＋(（$¥￥€£ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_PREFIX_CHARS = _MATCH_STARTS | {" "}


def _substitute(match: re.Match[str], labels: dict[str, str | None]) -> str:
    kind = match.lastgroup.partition("__")[0]  # type: ignore[union-attr]
    found = match.group()
    if kind in ("prc_id", "card"):
        if kind == "card" and not found.isdigit():
            return _substitute_card_groups(found, labels)
        kind = _classify_number(found)
    elif kind in ("hk_id", "tw_id"):
        kind = "id"
    elif kind == "hk_local":
        kind = _local_kind(match)
    return labels[kind] or found


def _local_kind(match: re.Match[str]) -> str:
    """A bare 8-digit HK-shaped number: a phone next to a phone cue; a number after an order cue,
    before a unit (积分, GB) or as a compact date (20261120); otherwise ``local``: masked like a phone (a customer giving
    a number the agent asked for: "It's 9768 1700"), but read as a plain number by the features."""
    start = match.start()
    window = max(0, start - _CUE_WINDOW), start
    if _PHONE_CUE_RE.search(match.string, *window) or _PHONE_CUE_RE.search(match.string, match.end(), match.end() + _CUE_AFTER):
        return "phone"  # 電話係 9768 1700; 登记在 97681700 这个号码下面
    if (
        _ORDER_CUE_RE.search(match.string, *window)
        or _COMPACT_DATE_RE.fullmatch(match.group())
        or _UNIT_AFTER_RE.match(match.string, match.end())  # 91234567积分, 30000000GB
    ):
        return "number"
    return "local"


def _substitute_card_groups(found: str, labels: dict[str, str | None]) -> str:
    """Digit groups such as ``6222 0202 …``: the longest Luhn-valid prefix of groups is the card."""
    groups = _SEPARATOR_RE.split(found)
    for stop in range(len(groups), 0, -2):
        candidate = "".join(groups[:stop])
        if _card_valid(_SEPARATOR_RE.sub("", candidate)):
            return (labels["card"] or candidate) + "".join(groups[stop:])
    return labels["number"] or found


def _mask_numbers(text: str, labels: dict[str, str | None]) -> str:
    """Every number kind in one pass over the digit runs.

    ``_NUMBER_RE`` is tried (anchored) only where a digit run, or the prefix just before it
    (``+86``, ``(021)``, ``HK$``, ``A123456``), could start a match: scanning the whole text
    with a 13-way alternation costs ~0.8 µs a character, this costs one attempt per number.
    """
    pieces: list[str] = []
    last = 0
    for run in _CANDIDATE_RUN_RE.finditer(text):
        start = run.start()
        if start < last:
            continue
        match = None
        if start > last and text[start - 1] in _PREFIX_CHARS:  # +86, (021), HK$, A123456(7) …
            begin = start - 1
            while begin > last and start - begin < 5 and text[begin - 1] in _PREFIX_CHARS:
                begin -= 1
            for position in range(begin, start):
                if text[position] in _MATCH_STARTS and (match := _NUMBER_RE.match(text, position)):
                    break
        if match is None and (match := _NUMBER_RE.match(text, start)) is None:
            continue
        pieces.append(text[last : match.start()])
        pieces.append(_substitute(match, labels))
        last = match.end()
    if not pieces:
        return text
    pieces.append(text[last:])
    return "".join(pieces)


def _is_id_or_card(found: str) -> bool:
    match = _NUMBER_RE.fullmatch(found)
    kind = match.lastgroup.partition("__")[0] if match else ""  # type: ignore[union-attr]
    if kind in ("prc_id", "card"):
        return _classify_number(found) in ("id", "card")
    return kind in ("hk_id", "tw_id")


def _mask_orders(text: str, order_patterns: tuple[str, ...], label: str) -> str:
    def substitute(match: re.Match[str]) -> str:
        found = match.group()
        # IDs and cards come first: an order pattern that also matches one leaves it to them
        return found if _is_id_or_card(found) else label

    for regex in _order_regexes(order_patterns):
        text = regex.sub(substitute, text)
    return text


_MASK_MODE: dict[str, str | None] = {**dict.fromkeys(FEATURE_PLACEHOLDERS), **MASK_LABELS, "local": MASK_LABELS["phone"]}
_FEATURE_MODE: dict[str, str | None] = {
    **{kind: f" {label} " for kind, label in FEATURE_PLACEHOLDERS.items()}, "local": f" {FEATURE_PLACEHOLDERS['number']} "
}


def _mask_segment(text: str, order_patterns: tuple[str, ...], labels: dict[str, str | None]) -> str:
    if _DIGIT_RE.search(text) is None:  # every kind, order numbers included, has a digit
        return text
    if order_patterns:
        text = _mask_orders(text, order_patterns, labels["order"])  # type: ignore[arg-type]
    return _mask_numbers(text, labels)


def _mask(text: str, order_patterns: tuple[str, ...], labels: dict[str, str | None]) -> str:
    if "@" in text:
        text = _EMAIL_RE.sub(labels["email"], text)  # type: ignore[arg-type]
    if "://" in text or "www." in text or "WWW." in text:
        if labels["url"] is None:  # keep URLs intact: mask only the text between them
            parts = _URL_SPLIT_RE.split(text)
            parts[::2] = [_mask_segment(part, order_patterns, labels) for part in parts[::2]]
            return "".join(parts)
        text = _URL_RE.sub(labels["url"], text)
    return _mask_segment(text, order_patterns, labels)


def mask_pii(text: str | None, order_patterns: Sequence[str] = ()) -> str:
    """Replace personal data with ``[PHONE]``, ``[EMAIL]``, ``[ID]``, ``[CARD]``, ``[ORDER]``.

    Phones (mainland and TW mobile and landline, HK, any ``+``-prefixed number; a bare 8-digit HK
    number unless an order cue comes before it, a unit after it, or it is a compact date), e-mail addresses, PRC IDs (check
    digit validated), HK and TW IDs, bank cards (13–19 digits passing Luhn) and order numbers
    matching ``order_patterns`` (compiled with ASCII word boundaries, so ``\\b`` works next to
    Chinese). URLs, prices, dates, times, quantities and plan names are left as they are, and so
    are numbers that fail the ID or card checksums; full-width letters and digits come back
    half-width.
    """
    if not text:
        return ""
    return _mask_raw(text, tuple(order_patterns))


def _mask_raw(text: str, order_patterns: tuple[str, ...]) -> str:
    if _FULLWIDTH_ALNUM_RE.search(text):  # raw text: １３８… must be found too
        text = text.translate(_FULLWIDTH_ALNUM)
    return _mask(text, order_patterns, _MASK_MODE)


def is_missing(value: object) -> bool:
    """A missing cell of a text column: None, ``pd.NA``, ``pd.NaT`` or a float NaN."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


def mask_pii_series(texts: pd.Series, order_patterns: Sequence[str] = ()) -> pd.Series:
    """:func:`mask_pii` over a Series; missing values stay missing, index and name are kept."""
    patterns = tuple(order_patterns)

    def mask_one(value: object) -> object:
        if isinstance(value, str):
            return _mask_raw(value, patterns) if value else value
        if is_missing(value):
            return value
        return _mask_raw(str(value), patterns)

    return texts.map(mask_one)


def replace_with_placeholders(text: str, order_patterns: tuple[str, ...] = ()) -> str:
    """The feature-text mode: personal data, URLs, amounts, dates and other long numbers become
    their :data:`FEATURE_PLACEHOLDERS` word, with a space on each side.

    ``text`` is expected NFKC-normalized (full-width digits are read as digits either way).
    """
    return _mask(text, order_patterns, _FEATURE_MODE)

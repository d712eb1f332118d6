"""Normalize: speaker turns, boilerplate, width, script, PII and placeholders.

Two outputs come from here:

* :func:`mask_pii` — the text people may see (reports, review queue): personal data replaced by
  ``[PHONE]``, ``[EMAIL]``, ``[ID]``, ``[CARD]``, ``[ORDER]``; everything else untouched (only
  full-width letters and digits come back half-width).
* :func:`normalize_text` / :func:`prepare_texts` — the text that feeds the features::

      speaker view → boilerplate (agent turns, untagged text) → NFKC → traditional→simplified
      → PII and number placeholders → lower case → punctuation dropped, whitespace collapsed

Placeholder scheme (feature text)
    Every replaced span becomes one lower-case ASCII word, surrounded by spaces, so that the
    tokenizer (jieba keeps runs of ASCII letters whole) and ``char_wb`` n-grams see one unit:
    ``xxphone xxemail xxid xxcard xxorder xxurl xxamount xxdate xxnum`` (:data:`PLACEHOLDERS`).
    ``xxnum`` is any other run of 5+ digits, and also an 18-digit number whose PRC-ID checksum
    fails or a 13–19 digit number that fails Luhn: those are not IDs or cards, only long numbers
    (:func:`mask_pii` leaves them as they are).

Traditional → simplified
    Real input does not say whether it is Hong Kong or Taiwan wording, so one converter serves
    both: OpenCC's character table (``TSCharacters``) and phrase table (``TSPhrases``), plus the
    Taiwan phrase table of ``tw2sp`` (網路→网络, 寬頻→宽带, 登入→登录, 簡訊→短信) without the
    entries that hurt contact-centre text (查詢→查找, 呼叫→调用, 通話記錄→联系历史, 程序→进程,
    資料→数据 …), plus a small telecom table for both regions (帳單→账单, 攜碼→携号, 短訊→短信,
    轉台→转网 …). The dictionaries are OpenCC's own files (``opencc-python-reimplemented``),
    read once per process on first use; matching is leftmost-longest like OpenCC's C++ converter
    (the pure-Python ``OpenCC.convert`` runs at ~0.35 M chars/s, far too slow for a nightly run).
    Only texts holding a character that the table changes are converted at all.

Speed
    normalize_text runs at ~5–6 M chars/s on mixed contact texts of ~120 characters (rjieba then
    segments the shorter result at ~15 M chars/s): the pair is 11–13× jieba.lcut there, ~6–8×
    on one-line notes, where per-call overhead dominates. Python's ``re`` is fast
    only when a pattern starts with a literal or a character class it can skip to, so the
    patterns are written that way: speaker tags are searched in the reversed text (they end
    with a colon), boilerplate alternatives start with literals and match a lower-cased copy,
    and the number alternatives are tried only at digit runs that can start one.

Everything here is a pure function of its arguments: no paths, clock or environment (OpenCC's
dictionary files are package data, read once per process on first use).
"""

from __future__ import annotations

import functools
import math
import operator
import re
import unicodedata
from collections.abc import Iterable, Sequence
from importlib import resources
from typing import Literal

import numpy as np
import pandas as pd

from pipeline.errors import ConfigError, InputError, PipelineError

View = Literal["customer", "agent", "all"]
VIEWS: tuple[str, ...] = ("customer", "agent", "all")
ROLES: tuple[str, ...] = ("customer", "agent", "other")

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
    """``[role, reversed body]`` in text order, or None for a text without speaker tags.

    Bodies stay reversed until a caller picks them: the customer view never pays for the
    agent's turns.
    """
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
    """
    if not text:
        return []
    pieces = _tagged_pieces(text)
    if pieces is None:
        return _one_turn(text)
    return [(role, stripped) for role, body in pieces if (stripped := body[::-1].strip())]


def _check_view(view: str) -> None:
    if view not in VIEWS:
        raise ConfigError(f"normalize view must be one of {list(VIEWS)}, got {view!r}")


def _view_turns(text: str | None, view: str) -> list[tuple[str, str]]:
    if not text:
        return []
    pieces = _tagged_pieces(text)
    if pieces is None:
        return _one_turn(text)
    if view != "all":
        chosen = [(role, stripped) for role, body in pieces if role == view and (stripped := body[::-1].strip())]
        if chosen:
            return chosen
        # No turn of that role (an agent's note, a system log): the whole text is the story.
    return [(role, stripped) for role, body in pieces if (stripped := body[::-1].strip())]


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

def _char_class(chars: Iterable[str]) -> str:
    return "[" + "".join(re.escape(char) for char in sorted(chars)) + "]"


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
    return re.compile(_char_class([*changing, *_ZERO_WIDTH]))


def _fold_width(text: str) -> str:
    """:func:`to_halfwidth` for the feature text, skipped when only dropped punctuation is wide."""
    if text.isascii() or _width_regex().search(text) is None:
        return text
    return to_halfwidth(text)


# ---------------------------------------------------------------------------------------------
# Traditional → simplified
# ---------------------------------------------------------------------------------------------

# tw2sp phrase entries that are wrong for contact-centre text (TW computing vocabulary whose
# everyday meaning differs, or that would rewrite words HK and mainland customers also use).
_EXCLUDED_TW_PHRASES = frozenset(
    "查詢 呼叫 通話記錄 程序 資料 核心 單核心 模擬 序列 通道 建立 文字 文件 互動 互動式 新增 向量 執行 "
    "整合 專案 高階 進階 指標 介面 離線 複製 外接 預設 登出 通話卡 物件 埠 尤拉 那杜 查德 永珍 夏農".split()
)
# Telecom wording of Hong Kong and Taiwan, to mainland simplified (applied with the phrases).
_TELECOM_PHRASES: dict[str, str] = {
    "帳單": "账单", "賬單": "账单", "帳號": "账号", "賬號": "账号", "帳戶": "账户", "賬戶": "账户",
    "帳務": "账务", "對帳": "对账", "轉帳": "转账", "攜碼": "携号", "攜碼移轉": "携号转网",
    "攜號轉台": "携号转网", "轉台": "转网", "短訊": "短信", "簡訊": "短信", "手提電話": "手机",
    "流動電話": "手机", "流動數據": "移动数据", "行動數據": "移动数据", "行動資料": "移动数据",
    "行動網路": "移动网络", "電訊": "电信", "電郵": "电子邮件", "儲值": "充值", "儲值卡": "充值卡",
    "門市": "营业厅", "吃到飽": "不限量", "收訊": "信号", "訊號": "信号", "綁約": "合约",
    "客訴": "投诉", "申辦": "办理", "停話": "停机", "復話": "复机", "預設": "默认", "預設值": "默认值",
    "登出": "退出登录", "個人資料": "个人信息", "上網數據": "上网流量", "重新開機": "重启",
}
# Mainland spellings that mean the same account words (applied to every simplified text).
_SIMPLIFIED_VARIANTS: dict[str, str] = {"帐单": "账单", "帐号": "账号", "帐户": "账户", "帐务": "账务"}
_SIMPLIFIED_VARIANTS_RE = re.compile("|".join(_SIMPLIFIED_VARIANTS))


def _read_opencc_dictionary(name: str) -> dict[str, str]:
    """One OpenCC dictionary file: key → first candidate (as ``OpenCC.convert`` picks)."""
    try:
        text = resources.files("opencc").joinpath("dictionary", name).read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError, NotADirectoryError):
        raise PipelineError(
            f"OpenCC dictionary {name} not found: install opencc-python-reimplemented "
            "(the binary 'opencc' package installs the same module name without these files)"
        ) from None
    table = {}
    for line in text.splitlines():
        key, _, values = line.partition("\t")
        if key and values:
            table[key] = values.split(" ")[0]
    return table


class _Simplifier:
    """Traditional (HK or TW wording) → simplified, from OpenCC's dictionaries.

    Characters go through a lookup table indexed by code point (numpy: ~4× faster than
    ``str.translate`` on CJK text, and length-preserving), then phrases are matched
    leftmost-longest on the original text at the few positions where a phrase can start.
    """

    def __init__(self) -> None:
        characters = _read_opencc_dictionary("TSCharacters.txt")
        changed = {key: value for key, value in characters.items() if key != value}
        table = str.maketrans(changed)
        phrases: dict[str, str] = {}
        for key, value in _read_opencc_dictionary("TSPhrases.txt").items():
            if key.translate(table) != value:
                phrases[key] = value
        for key, value in _read_opencc_dictionary("TWPhrasesRev.txt").items():
            if key in _EXCLUDED_TW_PHRASES:
                continue
            value = phrases.get(value, value.translate(table))
            if key.translate(table) != value:
                phrases[key] = value
        phrases.update(_TELECOM_PHRASES)
        table.update(str.maketrans({key: value for key, value in phrases.items() if len(key) == 1}))
        self.table = table
        self.phrases = {key: value for key, value in phrases.items() if len(key) > 1}
        self.lookup = np.arange(0x110000, dtype=np.uint32)
        for code, value in table.items():
            self.lookup[code] = ord(value)  # every OpenCC character entry maps to one character
        # Astral characters are left out of the classes: they make ``re`` test a character
        # class member by member instead of with a bitmap (8× slower scans).
        self.traditional_re = re.compile(_char_class(chr(code) for code in table if code < 0x10000))
        lengths: dict[str, set[int]] = {}
        for key in self.phrases:
            lengths.setdefault(key[:2], set()).add(len(key))
        self.phrase_lengths = {prefix: sorted(sizes, reverse=True) for prefix, sizes in lengths.items()}
        self.phrase_start_re = re.compile(
            _char_class({key[0] for key in self.phrases}) + "(?=" + _char_class({key[1] for key in self.phrases}) + ")"
        )

    def needs_conversion(self, text: str) -> bool:
        return self.traditional_re.search(text) is not None

    def convert_characters(self, text: str) -> str:
        if len(text) < 24:
            return text.translate(self.table)
        try:
            codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
        except UnicodeEncodeError:  # a lone surrogate left by a lossy decode
            return text.translate(self.table)
        return self.lookup[codes].tobytes().decode("utf-32-le")

    def __call__(self, text: str) -> str:
        converted = self.convert_characters(text)
        pieces: list[str] = []
        last = 0
        for start in self.phrase_start_re.finditer(text):
            index = start.start()
            if index < last:
                continue
            for size in self.phrase_lengths.get(text[index : index + 2], ()):
                value = self.phrases.get(text[index : index + size])
                if value is not None:
                    pieces.append(converted[last:index])
                    pieces.append(value)
                    last = index + size
                    break
        if not pieces:
            return converted
        pieces.append(converted[last:])
        return "".join(pieces)


@functools.cache
def _simplifier() -> _Simplifier:
    return _Simplifier()


@functools.lru_cache(maxsize=4096)
def _convert_short(text: str) -> str:
    return _simplifier()(text)


def convert_to_simplified(text: str) -> str:
    """Traditional Chinese (HK or TW wording) to mainland simplified, phrase-aware.

    A text without a character that the conversion changes is left as it is (apart from the
    mainland account-word spellings 帐单→账单 …): mainland text is never rewritten by the Taiwan
    phrase table. Short texts repeat (greetings, one-line notes), so their conversion is cached.
    """
    simplifier = _simplifier()
    if simplifier.needs_conversion(text):
        text = _convert_short(text) if len(text) <= 32 else simplifier(text)
    if "帐" in text:
        text = _SIMPLIFIED_VARIANTS_RE.sub(lambda match: _SIMPLIFIED_VARIANTS[match.group()], text)
    return text


# ---------------------------------------------------------------------------------------------
# PII and number placeholders
# ---------------------------------------------------------------------------------------------

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
              rf"|(?<![\d+＋])852{_SEP}?[5-9]{_D}{{3}}{_SEP}?{_D}{{4}}(?!\d)"),
    # TW mobiles: 0912-345-678, +886 912 345 678
    ("phone", rf"(?<!\d)(?:{_OPEN}?{_PLUS}886{_CLOSE}?{_SEP}?9{_D}{{2}}|09{_D}{{2}}){_SEP}?{_D}{{3}}{_SEP}?{_D}{{3}}(?!\d)"),
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
    # 8-digit HK-style number (a phone only near a phone cue) and any other long number
    ("hk_local", rf"(?<!\d)[569]{_D}{{3}}{_SEP}?{_D}{{4}}(?!\d)"),
    ("number", r"(?<!\d)\d{5,}+(?:\.\d++)?"),
)
_PHONE_CUE_RE = re.compile(
    r"(?:电话|電話|手机|手機|号码|號碼|联系|聯絡|聯繫|致电|致電|call|tel|phone|mobile|whatsapp|contact|text|sms)",
    re.IGNORECASE,
)
_CUE_WINDOW = 20  # characters before the number that may hold the cue ("WhatsApp me at ")
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
        start = match.start()
        near_cue = _PHONE_CUE_RE.search(match.string, max(0, start - _CUE_WINDOW), start)
        kind = "phone" if near_cue else "number"
    return labels[kind] or found


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


_MASK_MODE: dict[str, str | None] = {**dict.fromkeys(FEATURE_PLACEHOLDERS), **MASK_LABELS}
_FEATURE_MODE: dict[str, str | None] = {kind: f" {label} " for kind, label in FEATURE_PLACEHOLDERS.items()}


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

    Phones (mainland mobile and landline, HK, TW, any ``+``-prefixed number; a bare 8-digit HK
    number only near a phone cue such as 電話/call/whatsapp), e-mail addresses, PRC IDs (check
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


def mask_pii_series(texts: pd.Series, order_patterns: Sequence[str] = ()) -> pd.Series:
    """:func:`mask_pii` over a Series; missing values stay missing, index and name are kept."""
    patterns = tuple(order_patterns)

    def mask_one(value: object) -> object:
        if isinstance(value, str):
            return _mask_raw(value, patterns) if value else value
        if _is_missing(value):
            return value
        return _mask_raw(str(value), patterns)

    return texts.map(mask_one)


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
    text = _mask(text, order_patterns, _FEATURE_MODE)
    if "'" in text or "’" in text:
        text = _english_contractions(text)
    if "-" in text:
        text = _INNER_HYPHEN_RE.sub("", text)
    if lowercase:
        text = text.lower()
    return " ".join(_WORD_RE.findall(text))


def _is_missing(value: object) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


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
            value = "" if _is_missing(value) else str(value)
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

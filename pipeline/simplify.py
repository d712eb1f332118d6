"""Simplify: traditional Chinese (Hong Kong or Taiwan wording) to mainland simplified.

Real input does not say whether it is Hong Kong or Taiwan wording, so one converter serves
both: OpenCC's character table (``TSCharacters``) and phrase table (``TSPhrases``), plus the
Taiwan phrase table of ``tw2sp`` (網路→网络, 寬頻→宽带, 登入→登录, 簡訊→短信) without the
entries that hurt contact-centre text (查詢→查找, 呼叫→调用, 通話記錄→联系历史, 程序→进程,
資料→数据 …), plus a small telecom table for both regions (帳單→账单, 攜碼→携号, 短訊→短信,
轉台→转网 …). The dictionaries are OpenCC's own files (``opencc-python-reimplemented``),
read once per process on first use; matching is leftmost-longest like OpenCC's C++ converter
(the pure-Python ``OpenCC.convert`` runs at ~0.35 M chars/s, far too slow for a nightly run).
Only texts holding a character that the table changes are converted at all.

A pure function of its argument: no paths, clock or environment (the dictionary files are
package data).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from importlib import resources

import numpy as np

from pipeline.errors import PipelineError


def _char_class(chars: Iterable[str]) -> str:
    return "[" + "".join(re.escape(char) for char in sorted(chars)) + "]"


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

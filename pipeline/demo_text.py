"""Demo transcripts: the text composer behind :func:`pipeline.demo.generate_demo`.

:class:`Composer` turns a contact's reason, channel, language and effort into a transcript from
the phrase banks of :mod:`pipeline.demo_phrases`: phone/chat turns, e-mails, store notes and
app/social messages, in simplified Chinese, traditional Chinese with Hong Kong or Taiwan
wording, English and code-switched text, with typing slips, small talk, second reasons, vague
contacts, effort cues and generated (never real) personal data. :class:`Stream` hands out the
seeded Generator's draws one by one, so the same seed gives the same texts.
"""

from __future__ import annotations

import functools
from datetime import timedelta

import numpy as np

from pipeline.demo_phrases import (
    AGENT_NAMES, AMBIGUOUS, AREAS, COUNTRIES, EMAIL_DOMAINS, EMAIL_NAMES, HANDSETS, HOTSPOT_THEMES, MAINLAND_LANDLINE_CODES, MAINLAND_MOBILE_PREFIXES, MIX_SWAPS, PRC_AREA_CODES, REASONS, TYPOS, VOICES,
)

LANGUAGES = ("zh", "hk", "tw", "en", "mix")  # simplified, HK traditional, TW traditional, English, code-switched


class Stream:
    """Uniform draws from the seeded Generator, handed out one by one (cheap per-word choices)."""

    def __init__(self, rng: np.random.Generator, block: int = 1 << 16):
        self._rng, self._block, self._buffer, self._next = rng, block, [], 0

    def random(self) -> float:
        if self._next == len(self._buffer):
            self._buffer, self._next = self._rng.random(self._block).tolist(), 0
        self._next += 1
        return self._buffer[self._next - 1]

    def chance(self, p: float) -> bool:
        return self.random() < p

    def pick(self, options):
        return options[int(self.random() * len(options))]

    def integer(self, low: int, high: int) -> int:
        return low + int(self.random() * (high - low))

    def digits(self, count: int) -> str:
        return "".join(str(int(self.random() * 10)) for _ in range(count))


@functools.lru_cache(maxsize=None)
def _converter(config: str):
    from opencc import OpenCC

    return OpenCC(config)


@functools.lru_cache(maxsize=8192)
def _convert(text: str, config: str) -> str:
    return _converter(config).convert(text)


_TRADITIONAL = {"hk": "s2hk", "tw": "s2twp"}
_ASCII_HANDSETS = tuple(name for name in HANDSETS if name.isascii())
_AMBIGUOUS_GROUP = {
    reason: tuple(f"ambiguous{k}" for k, group in enumerate(AMBIGUOUS) if reason in group["reasons"])
    for group in AMBIGUOUS for reason in group["reasons"]
}


@functools.lru_cache(maxsize=1)
def _banks() -> dict[tuple[str, str, str], tuple[str, ...]]:
    """(reason or theme, kind, language) -> templates; HK/TW also get OpenCC-converted variants."""
    banks = {}
    groups = {f"ambiguous{k}": group for k, group in enumerate(AMBIGUOUS)}
    for name, bank in (*REASONS.items(), *HOTSPOT_THEMES.items(), *groups.items()):
        for lang in LANGUAGES:
            family = "en" if lang == "en" else "zh"
            config = _TRADITIONAL.get(lang)
            banks[name, "own", lang] = bank.get(lang, ())
            if config:
                banks[name, "alt", lang] = tuple(_convert(t, config) for t in bank.get("zh", ()))
            else:
                banks[name, "alt", lang] = bank.get("zh", ()) if lang == "mix" else ()
            for kind in ("detail", "agent", "topic"):
                source = bank.get(f"{family}_{kind}", ())
                banks[name, kind, lang] = tuple(_convert(t, config) for t in source) if config else source
    return banks


_EN_QUESTION = ("how", "what", "can", "could", "is", "are", "do", "does", "will", "why", "where", "when", "has", "am", "would")
_ZH_QUESTION = ("吗", "呢", "多少", "怎么办", "什么", "嗎", "幾多", "點算", "點做", "什麼", "怎麼辦", "多久")


class _Slots(dict):
    def __init__(self, make):
        super().__init__()
        self._make = make

    def __missing__(self, key):
        value = self[key] = self._make(key)
        return value


class Composer:
    """Turns (reason, language, channel, …) into one contact's text, drawing from one stream."""

    def __init__(self, stream: Stream):
        self.s, self.banks = stream, _banks()

    def text(self, reason, lang, channel, region, day, theme, repeat, long_wait, transfers, all_reasons) -> str:
        s = self.s
        self.lang, self.region, self.day, self.reason = lang, region, day, reason
        self.slots = _Slots(self._slot)
        voice = VOICES[lang]
        vague = s.chance(0.03)
        statement = self._fill(s.pick(voice["vague"])) if vague else self._statement(reason, theme)
        if s.chance(0.25):
            statement = self._slip(statement)
        if lang == "zh" and s.chance(0.03):
            statement = _convert(statement, "s2t")  # typed on a traditional keyboard
        cues = []
        if repeat and s.chance(0.45):
            cues.append(s.pick(voice["repeat"]))
        if long_wait and channel in ("phone", "chat") and s.chance(0.5):
            cues.append(s.pick(voice["wait"]))
        if transfers >= 2 and s.chance(0.35):
            cues.append(s.pick(voice["transfer"]))
        detail = None if vague or not s.chance(0.6) else self._fill(self._variant(s.pick(self.banks[reason, "detail", lang])))
        second = None
        if s.chance(0.05):
            other = s.pick([r for r in all_reasons if r != reason])
            second = s.pick(voice["also"]) + self._statement(other, None)
        if channel in ("phone", "chat"):
            return self._transcript(voice, channel, statement, cues, detail, second, vague, theme)
        if channel == "email":
            return self._email(voice, statement, cues, detail, second)
        if channel == "store":
            return self._store(voice, statement, detail)
        return self._message(voice, channel, statement, cues, detail, second)

    # -- pieces
    def _statement(self, reason, theme) -> str:
        s, lang = self.s, self.lang
        name = theme if theme and s.chance(0.85) else reason
        if name == reason and reason in _AMBIGUOUS_GROUP and s.chance(0.1):
            name = s.pick(_AMBIGUOUS_GROUP[reason])
        own, alt = self.banks[name, "own", lang], self.banks[name, "alt", lang]
        if lang == "mix" and alt and (not own or s.chance(0.55)):
            return self._fill(self._code_switch(s.pick(alt), force=True))
        template = s.pick(alt) if alt and lang != "mix" and (not own or s.chance(0.45)) else s.pick(own)
        return self._fill(template)

    def _variant(self, template: str) -> str:
        return self._code_switch(template) if self.lang == "mix" and self.s.chance(0.5) else template

    def _answer(self, theme, vague) -> str:
        voice = VOICES[self.lang]
        if vague:
            return self.s.pick(voice["vague_agent"])
        name = theme if theme and self.s.chance(0.7) else self.reason
        bank = self.banks[name, "agent", self.lang] or self.banks[self.reason, "agent", self.lang]
        return self._fill(self._variant(self.s.pick(bank)))

    def _customer(self, voice, statement, cues) -> str:
        s, english = self.s, self.lang == "en"
        opener = self._fill(s.pick(voice["opener"]))
        filler = s.pick(voice["filler"]) if s.chance(0.25) else ""
        if english and (opener or filler) and statement[:1].isupper() and not statement.startswith(("I ", "I'")):
            statement = statement[0].lower() + statement[1:]
        before = [cue for cue in cues if s.chance(0.5)]
        after = [cue for cue in cues if cue not in before] + ([s.pick(voice["emotion"])] if s.chance(0.3) else [])
        return self._join([*before, opener + filler + self._punctuate(statement, final=not after), *after])

    def _transcript(self, voice, channel, statement, cues, detail, second, vague, theme) -> str:
        s = self.s
        customer, agent = voice["customer"][0], voice["agent"][0]
        turns = []
        if s.chance(0.85):
            turns.append((agent, self._fill(s.pick(voice["greet_phone" if channel == "phone" else "greet_chat"]))))
        opening = second if second and s.chance(0.35) else None  # the other matter comes first
        if opening:
            turns.append((customer, self._punctuate(self._fill(s.pick(voice["opener"])) + opening, final=True)))
        turns.append((customer, self._customer(voice, statement, cues)))
        if s.chance(0.65 if channel == "phone" else 0.4):
            turns += [(agent, s.pick(voice["verify_ask"])), (customer, self._fill(s.pick(voice["verify_give"])))]
        if detail:
            if s.chance(0.4):
                turns.append((agent, s.pick(voice["hold"])))
            smalltalk = s.pick(voice["smalltalk"]) if s.chance(0.12) else ""
            turns.append((customer, self._join([self._punctuate(detail, final=not smalltalk), smalltalk])))
        if second and not opening:
            turns.append((customer, self._punctuate(second, final=True)))
        turns.append((agent, self._punctuate(self._answer(theme, vague), final=True)))
        if s.chance(0.4):
            turns += [(customer, s.pick(voice["followup"])), (agent, s.pick(voice["hold"]))]
        turns.append((customer, self._punctuate(s.pick(voice["customer_close"]), final=True)))
        if s.chance(0.8):
            turns.append((agent, s.pick(voice["agent_close"])))
        separator = ": " if self.lang == "en" else "："
        return "\n".join(f"{speaker}{separator}{words}" for speaker, words in turns)

    def _email(self, voice, statement, cues, detail, second) -> str:
        s = self.s
        lines = []
        if s.chance(0.8):
            topic = self._variant(s.pick(self.banks[self.reason, "topic", self.lang]))
            lines += [s.pick(voice["subject"]).format(topic=topic), ""]
        parts = (second, statement, detail) if second and s.chance(0.35) else (statement, detail, second)
        body = [*cues, *(self._punctuate(part) for part in parts if part)]
        if s.chance(0.3):
            body.append(s.pick(voice["emotion"]))
        lines += [s.pick(voice["mail_greeting"]), self._join(body), "", s.pick(voice["mail_signoff"]), s.pick(voice["names"])]
        if s.chance(0.5):
            lines.append(self._fill(s.pick(voice["mail_contact"])))
        return "\n".join(lines)

    def _store(self, voice, statement, detail) -> str:
        s = self.s
        action = s.pick(voice["store_action"])
        if self.lang == "en":
            extra = f" {self._punctuate(detail)}" if detail else ""
            return f'{s.pick(voice["store_prefix"])} "{statement}".{extra} {action.capitalize()}.'
        extra = f"{detail}，" if detail else ""
        return f"{s.pick(voice['store_prefix'])}“{statement}”，{extra}{action}。"

    def _message(self, voice, channel, statement, cues, detail, second) -> str:
        s = self.s
        prefix = s.pick(voice["social_prefix" if channel == "social" else "app_prefix"])
        first = prefix + self._join([*cues[:1], self._punctuate(statement)])
        follow = detail or second or (s.pick(voice["emotion"]) if s.chance(0.4) else None)
        return first if follow is None or s.chance(0.4) else f"{first}\n{self._punctuate(follow, final=True)}"

    def _punctuate(self, sentence: str, final: bool = False) -> str:
        """End a sentence as people type it; only the last one in a turn may run without a stop."""
        if not sentence or sentence[-1] in "。！？!?.，,…～":
            return sentence
        ends = VOICES[self.lang]["end"] if final else tuple(e for e in VOICES[self.lang]["end"] if e)
        if self.lang == "en":
            question = sentence.split(" ", 1)[0].lower() in _EN_QUESTION
            return sentence + ("?" if question and self.s.chance(0.8) else self.s.pick(ends))
        question = sentence.endswith(_ZH_QUESTION) or "怎么" in sentence or "點樣" in sentence or "怎麼" in sentence
        return sentence + ("？" if question and self.s.chance(0.7) else self.s.pick(ends))

    def _join(self, pieces) -> str:
        return (" " if self.lang == "en" else "").join(p.strip() if self.lang == "en" else p for p in pieces if p)

    def _code_switch(self, text: str, force: bool = False) -> str:
        present = [pair for pair in MIX_SWAPS if pair[0] in text]
        swapped = [pair for pair in present if self.s.chance(0.6)] or (present[:1] if force else [])
        for chinese, english in swapped:
            text = text.replace(chinese, english, 1)
        return text

    def _slip(self, text: str) -> str:
        """One typing slip: a common confusion of the script, or two letters swapped or dropped."""
        s = self.s
        family = "en" if self.lang == "en" else ("zh" if self.lang == "mix" else self.lang)
        candidates = [pair for pair in TYPOS[family] if pair[0] in text]
        if candidates and s.chance(0.6):
            right, wrong = s.pick(candidates)
            return text.replace(right, wrong, 1)
        for _ in range(5):
            i = s.integer(0, max(1, len(text) - 1))
            if text[i:i + 2].isalpha() and len(text) > 4:
                return text[:i] + text[i + 1] + text[i] + text[i + 2:] if s.chance(0.6) else text[:i] + text[i + 1:]
        return text

    def _fill(self, template: str) -> str:
        return template.format_map(self.slots) if "{" in template else template

    # -- slot values: generated formats, never real people's data
    def _slot(self, key: str) -> str:
        s, lang, region = self.s, self.lang, self.region
        english = lang == "en"
        if key == "phone":
            return self._landline() if s.chance(0.08) else self._mobile()
        if key == "id":
            return {"Hong Kong": _hk_id, "Taiwan": _tw_id}.get(region, _prc_id)(s)
        if key == "email":
            domains = EMAIL_DOMAINS.get(region, EMAIL_DOMAINS["mainland"])
            name = s.pick(EMAIL_NAMES) + (str(s.integer(1, 999)) if s.chance(0.6) else "")
            return f"{s.digits(9).lstrip('0') or '8'}@qq.com" if s.chance(0.1) else f"{name}@{s.pick(domains)}"
        if key == "card":
            return _bank_card(s)
        if key == "order":
            return f"ORD{self.day - timedelta(days=s.integer(0, 30)):%Y%m%d}{s.digits(5)}"
        if key in ("price", "small_price"):
            return self._price(key == "small_price")
        if key == "date":
            when = self.day - timedelta(days=s.integer(1, 25))
            if english:
                return s.pick((f"{when:%b} {when.day}", f"{when.day} {when:%B}", when.isoformat()))
            return s.pick((f"{when.month}月{when.day}日", f"{when.month}月{when.day}号" if lang in ("zh", "mix") else f"{when.month}月{when.day}日",
                           when.isoformat(), f"{when.month}/{when.day}"))
        if key == "gb":
            size = s.pick((1, 2, 3, 5, 8, 10, 15, 20, 30, 40, 50, 100))
            return f"{size}GB" if english or s.chance(0.6) else f"{size}G"
        if key == "speed":
            mbps = s.pick((100, 200, 300, 500, 1000))
            return s.pick((f"{mbps} Mbps", f"{mbps}Mbps")) if english else s.pick((f"{mbps}M", f"{mbps}兆"))
        if key == "months":
            return str(s.integer(2, 13))
        if key == "n":
            return str(s.integer(2, 7))
        if key == "area":
            local, english_name = s.pick(AREAS[region])
            return english_name if english else self._local(local)
        if key == "country":
            local, english_name = s.pick(COUNTRIES)
            return english_name if english else self._local(local)
        if key == "model":
            return s.pick(_ASCII_HANDSETS if english else HANDSETS)
        if key == "agent":
            return s.pick(AGENT_NAMES[lang])
        if key == "agent_no":
            return str(s.integer(1000, 10000))
        raise KeyError(key)

    def _local(self, text: str) -> str:
        config = _TRADITIONAL.get(self.lang)
        return _convert(text, config) if config else text

    def _price(self, small: bool) -> str:
        s, lang, region = self.s, self.lang, self.region
        if region == "Hong Kong":
            value = s.pick((18, 28, 38, 48, 68) if small else (148, 168, 198, 238, 298, 388, 498))
            return s.pick((f"HK${value}", f"${value}", f"{value}蚊" if lang == "hk" else f"HK$ {value}"))
        if region == "Taiwan":
            value = s.pick((50, 99, 100, 150, 199) if small else (399, 499, 599, 699, 999, 1399))
            return s.pick((f"NT${value}", f"{value}元" if lang != "en" else f"NT$ {value}"))
        value = s.pick((5, 8, 10, 15, 19, 20, 29, 30, 38, 9.9) if small else (58, 88, 99, 128, 158, 199, 238, 299, 388, 46.5))
        if lang == "en":
            return s.pick((f"¥{value}", f"RMB {value}", f"{value} yuan"))
        return s.pick((f"{value}元", f"¥{value}", f"{value}块"))

    def _mobile(self) -> str:
        s = self.s
        if self.region == "Hong Kong":
            number = s.pick("569") + s.digits(7)
            return s.pick((f"+852 {number[:4]} {number[4:]}", f"{number[:4]} {number[4:]}", number))
        if self.region == "Taiwan":
            number = "09" + s.digits(8)
            return s.pick((f"{number[:4]}-{number[4:7]}-{number[7:]}", number, f"+886 {number[1:4]} {number[4:7]} {number[7:]}"))
        number = s.pick(MAINLAND_MOBILE_PREFIXES) + s.digits(8)
        return s.pick((number, number, f"{number[:3]} {number[3:7]} {number[7:]}", f"+86 {number[:3]}-{number[3:7]}-{number[7:]}"))

    def _landline(self) -> str:
        s = self.s
        if self.region == "Hong Kong":
            return f"{s.pick('23')}{s.digits(3)} {s.digits(4)}"
        if self.region == "Taiwan":
            return f"(02) {s.integer(2, 9)}{s.digits(3)}-{s.digits(4)}"
        code = s.pick(MAINLAND_LANDLINE_CODES)
        return f"{code}-{s.integer(2, 9)}{s.digits(7 if len(code) == 3 else 6)}"


def _prc_id(s: Stream) -> str:
    """18-digit PRC resident id with a valid ISO 7064 MOD 11-2 check character."""
    body = f"{s.pick(PRC_AREA_CODES)}{s.integer(1955, 2005)}{s.integer(1, 13):02d}{s.integer(1, 29):02d}{s.digits(3)}"
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, weights)) % 11]


def _hk_id(s: Stream) -> str:
    """Hong Kong identity card number, e.g. A123456(7), with a valid check digit."""
    letter, digits = s.pick("ACDEGHKPRVYZ"), s.digits(6)
    total = 36 * 9 + (ord(letter) - 55) * 8 + sum(int(d) * w for d, w in zip(digits, range(7, 1, -1)))
    check = (11 - total % 11) % 11
    return f"{letter}{digits}({'A' if check == 10 else check})"


_TW_LETTERS = {"A": 10, "B": 11, "C": 12, "D": 13, "E": 14, "F": 15, "H": 17, "J": 18, "K": 19, "M": 21, "N": 22, "P": 23, "R": 25, "S": 26, "T": 27}


def _tw_id(s: Stream) -> str:
    """Taiwan national id, e.g. A123456789, with a valid check digit."""
    letter = s.pick(tuple(_TW_LETTERS))
    digits = s.pick("12") + s.digits(7)
    code = _TW_LETTERS[letter]
    total = code // 10 + (code % 10) * 9 + sum(int(d) * w for d, w in zip(digits, range(8, 0, -1)))
    return f"{letter}{digits}{(10 - total % 10) % 10}"


def _bank_card(s: Stream) -> str:
    """A 16- or 19-digit card number that passes the Luhn check."""
    prefix = s.pick(("6222", "6228", "6217", "6225", "6214", "4367", "5187"))
    length = 19 if prefix.startswith("62") and s.chance(0.4) else 16
    body = prefix + s.digits(length - 1 - len(prefix))
    total = sum(d if i % 2 else (2 * d - 9 if 2 * d > 9 else 2 * d) for i, d in enumerate(map(int, reversed(body))))
    number = body + str((10 - total % 10) % 10)
    return " ".join(number[i:i + 4] for i in range(0, len(number), 4)) if s.chance(0.5) else number

"""Decoding contact files: the given encoding or the detected one, and never silent mojibake.

A wrong guess decodes without error more often than not (GB18030 accepts most byte strings;
Big5 read as GBK or GBK read as Big5 mostly decodes too), so a decoding is accepted only when it
also looks like text: no line that is really UTF-8 inside a file read as something else, and, for
the Chinese encodings, most non-ASCII characters among those that ordinary Chinese text uses (the
level-1 characters of GB2312 and Big5, and CJK punctuation). Measured on 3,000 shopping reviews
(10+ non-ASCII characters each): correctly decoded, at least 90 % and 98 % for 99 of 100 texts;
decoded with the wrong one of GB18030/Big5/UTF-8/UTF-16, a median of 9–54 %.
"""

from __future__ import annotations

import codecs
import functools
import re

from pipeline.errors import ConfigError, InputError

UTF8_BOM = b"\xef\xbb\xbf"
BYTE_ORDER_MARKS = ((UTF8_BOM, "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16"))
# Tried in this order when no encoding is given and the file has no byte-order mark.
CANDIDATE_ENCODINGS = ("utf-8", "gb18030", "big5")
# Files that are not text at all, by their first bytes.
SIGNATURES = {
    b"\x1f\x8b": "a gzip archive: decompress it first",
    b"PK\x03\x04": "a zip archive (an Excel .xlsx workbook?): save it as CSV UTF-8",
    b"\xd0\xcf\x11\xe0": "an old Office file (Excel .xls?): save it as CSV UTF-8",
    b"PAR1": "a Parquet file: give it a .parquet name",
    b"%PDF": "a PDF document",
}
MIN_EVIDENCE = 20  # non-ASCII characters needed before judging a decoding implausible
MIN_ORDINARY_SHARE = 0.8
NON_ASCII = re.compile(r"[^\x00-\x7f]")
PUNCTUATION = re.compile(r"[\u2010-\u206f\u3000-\u303f\uff00-\uffef]")


@functools.cache
def ordinary_chinese() -> frozenset[str]:
    """Level-1 characters of GB2312 (3,755 simplified) and Big5 (5,401 traditional)."""
    gb2312 = (bytes([lead, trail]) for lead in range(0xB0, 0xD8) for trail in range(0xA1, 0xFF))
    big5 = (bytes([lead, trail]) for lead in range(0xA4, 0xC7) for trail in [*range(0x40, 0x7F), *range(0xA1, 0xFF)])
    return frozenset(_decodable(gb2312, "gb2312") + _decodable((pair for pair in big5 if pair < b"\xc6\x7f"), "big5"))


def _decodable(pairs, encoding: str) -> list[str]:
    decoded = []
    for pair in pairs:
        try:
            decoded.append(pair.decode(encoding))
        except UnicodeDecodeError:
            continue
    return decoded


def ordinary_share(text: str, sample: int = 200_000) -> tuple[float, int]:
    """Share of the non-ASCII characters (up to ``sample`` of them) that ordinary Chinese text uses."""
    characters = NON_ASCII.findall(text[: sample * 4])[:sample]
    if not characters:
        return 1.0, 0
    common = ordinary_chinese()
    ordinary = sum(ch in common or PUNCTUATION.match(ch) is not None for ch in characters)
    return ordinary / len(characters), len(characters)


def decode_bytes(data: bytes, encoding: str | None = None) -> tuple[str, str]:
    """Decode a file's bytes: the given encoding, a byte-order mark, or the best candidate.

    Returns the text (without a byte-order mark) and the encoding used; raises ``InputError``
    for bytes that are not text, do not decode, or decode into something that is not text.
    """
    for signature, kind in SIGNATURES.items():
        if data.startswith(signature):
            raise InputError(f"this is {kind}, not CSV or JSON text")
    if encoding:
        name = _codec(encoding)
        if name == "utf-8" and data.startswith(UTF8_BOM):
            name = "utf-8-sig"
        if not name.startswith("utf") and not data.isascii() and _is_utf8(data):
            raise InputError(f"the file is UTF-8, not {encoding}: give --encoding utf-8 or leave it out")
        text = _strict(data, name, f"the file is not valid {encoding}", "check --encoding, or leave it out to detect the encoding")
    else:
        text, name = _detect(data)
    _check_plausible(data, text, name, given=encoding)
    return text.removeprefix("\ufeff"), name


def _codec(encoding: str) -> str:
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        raise ConfigError(f"unknown encoding '{encoding}'; try utf-8, gb18030, big5 or utf-16") from None


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as error:
        return error.reason == "unexpected end of data"  # valid up to a cut
    return True


def _strict(data: bytes, encoding: str, problem: str, fix: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as error:
        raise _decode_error(data, encoding, error, problem, fix) from None


def _decode_error(data: bytes, encoding: str, error: UnicodeDecodeError, problem: str, fix: str) -> InputError:
    if error.reason == "unexpected end of data":
        return InputError(
            f"the file ends in the middle of a {encoding} character (byte {error.start}): "
            "it looks truncated; copy or export it again"
        )
    line = data.count(b"\n", 0, error.start) + 1
    return InputError(f"{problem} (line {line}, byte {error.start}): {fix}")


def _detect(data: bytes) -> tuple[str, str]:
    for bom, name in BYTE_ORDER_MARKS:
        if data.startswith(bom):
            problem = f"the file starts with a {name} byte-order mark but is not valid {name}"
            return _strict(data, name, problem, "save it again in one encoding"), name
    utf16 = _utf16_without_mark(data)
    if utf16:
        return _strict(data, utf16, f"the file looks like {utf16} but is not valid {utf16}", "give --encoding"), utf16
    decoded = {}
    for name in CANDIDATE_ENCODINGS:
        try:
            decoded[name] = data.decode(name)
        except UnicodeDecodeError as error:
            if name == "utf-8" and error.reason == "unexpected end of data":  # UTF-8 up to a cut
                raise _decode_error(data, name, error, "", "") from None
            continue
        if name == "utf-8":
            return decoded[name], name
    if not decoded:
        _check_mixed(data, "in another encoding")
        raise InputError(
            "cannot detect the file's encoding (it is not text in UTF-8, GB18030 or Big5; binary data?): "
            "give it with --encoding"
        )
    best = max(decoded, key=lambda name: ordinary_share(decoded[name])[0])
    return decoded[best], best


def _utf16_without_mark(data: bytes) -> str | None:
    """UTF-16 without a byte-order mark: CSV text is mostly ASCII, so every other byte is zero."""
    sample = data[:4096]
    if len(sample) < 16:
        return None
    even, odd = sample[0::2].count(0) / len(sample[0::2]), sample[1::2].count(0) / len(sample[1::2])
    if odd > 0.3 and even < 0.05:
        return "utf-16-le"
    if even > 0.3 and odd < 0.05:
        return "utf-16-be"
    return None


def _check_plausible(data: bytes, text: str, name: str, given: str | None) -> None:
    codec = codecs.lookup(name).name
    if codec.startswith("utf-8"):
        return  # a strict UTF-8 decoding of non-ASCII bytes is no accident
    if not codec.startswith("utf-16"):
        _check_mixed(data, codec)
    if codec.startswith(("gb", "big5", "cp936", "cp950", "utf-16", "hz")):
        share, evidence = ordinary_share(text)
        if evidence >= MIN_EVIDENCE and share < MIN_ORDINARY_SHARE:
            how = f"read as {given}" if given else f"read as {codec}, the best guess,"
            raise InputError(
                f"the file does not decode into plausible text ({how} it has {share:.0%} ordinary Chinese "
                "characters: mojibake); give the right --encoding (utf-8, gb18030, big5 or utf-16)"
            )


def _check_mixed(data: bytes, other: str) -> None:
    utf8_lines, other_lines = _utf8_lines(data)
    if utf8_lines and other_lines:
        raise InputError(
            f"mixed encodings: line(s) {_numbers(utf8_lines)} are UTF-8, line(s) {_numbers(other_lines)} are "
            f"{other}; save the whole file in one encoding"
        )


def _utf8_lines(data: bytes) -> tuple[list[int], list[int]]:
    """Numbers of the lines with Chinese that are valid UTF-8, and of the other non-ASCII lines."""
    utf8, other = [], []
    for number, line in enumerate(data.split(b"\n"), 1):
        if line.isascii():
            continue
        try:
            decoded = line.decode("utf-8")
        except UnicodeDecodeError:
            other.append(number)
            continue
        # two CJK characters: a GBK or Big5 line is valid UTF-8 by accident only when very short
        (utf8 if len(re.findall(r"[\u3000-\u9fff\uff00-\uffef]", decoded)) >= 2 else other).append(number)
    return utf8, other


def _numbers(lines: list[int], shown: int = 5) -> str:
    return ", ".join(map(str, lines[:shown])) + (f" … ({len(lines)} in all)" if len(lines) > shown else "")

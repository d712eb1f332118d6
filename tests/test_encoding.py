"""Decoding: right encodings round-trip, wrong ones fail loudly instead of producing mojibake."""

import pandas as pd
import pytest

from pipeline.encoding import decode_bytes, ordinary_share
from pipeline.errors import InputError

from .conftest import shared_data

SAMPLE = "contact_id,text\nA1,我的账单不对，多扣了月租，请帮我查一下\nA2,宽带从昨天开始断线了，打了三次电话\n"
LINES = SAMPLE.splitlines(keepends=True)
MIXED = "".join(LINES[:2]).encode() + LINES[2].encode("gb18030")  # line 2 UTF-8, line 3 GBK


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_without_a_byte_order_mark_is_detected(encoding):
    assert decode_bytes(SAMPLE.encode(encoding)) == (SAMPLE, encoding)


def test_an_explicit_utf8_drops_the_byte_order_mark():
    assert decode_bytes(SAMPLE.encode("utf-8-sig"), "utf-8")[0] == SAMPLE


@pytest.mark.parametrize(("data", "message"), [
    (SAMPLE.encode()[:-2], "middle of a utf-8 character"),
    (MIXED, "mixed encodings: line\\(s\\) 2 are UTF-8, line\\(s\\) 3 are in another encoding"),
    (b"\x1f\x8b\x08\x00abc", "gzip"),
])
def test_undecodable_files_say_why(data, message):
    with pytest.raises(InputError, match=message):
        decode_bytes(data)


def test_real_reviews_round_trip_and_wrong_encodings_are_refused():
    """Reviews in files of 50: each decodes right when detected and is refused when read wrongly."""
    from opencc import OpenCC

    reviews = pd.read_csv(shared_data("online_shopping_10_cats") / "test.csv")["text"].dropna().astype(str)
    simplified = reviews.head(1500).tolist()
    to_traditional = OpenCC("s2twp")
    traditional = [to_traditional.convert(text) for text in simplified]
    traditional = [text for text in traditional if _encodes(text, "big5")]
    for texts, encoding, wrong in ((simplified, "gb18030", "big5"), (traditional, "big5", "gbk"), (simplified, "utf-8", "gb18030")):
        for start in range(0, len(texts) - 49, 50):
            text = "\n".join(texts[start:start + 50]) + "\n"
            data = text.encode(encoding)
            assert decode_bytes(data) == (text, encoding)
            assert ordinary_share(text)[0] >= 0.9
            with pytest.raises(InputError):
                decode_bytes(data, wrong)


def _encodes(text: str, encoding: str) -> bool:
    try:
        text.encode(encoding)
    except UnicodeEncodeError:
        return False
    return True

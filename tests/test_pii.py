"""pii: masking of personal data in every format, and what it must leave alone."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.config import NormalizeSettings
from pipeline.errors import ConfigError
from pipeline.pii import mask_pii, mask_pii_series

ORDER = tuple(NormalizeSettings().order_number_patterns)  # the shipped default: AB1234567890

# ---------------------------------------------------------------------------------------------
# PII: every format, in Chinese and in English sentences
# ---------------------------------------------------------------------------------------------

PII_CASES = [
    # mainland mobiles
    ("我的手机号是13812345678，谢谢", "我的手机号是[PHONE]，谢谢"),
    ("号码 138 1234 5678 打不通", "号码 [PHONE] 打不通"),
    ("call me on 138-1234-5678 please", "call me on [PHONE] please"),
    ("电话+86 13912345678", "电话[PHONE]"),
    ("My number is +86-139-1234-5678.", "My number is [PHONE]."),
    ("0086 13712345678 是我老婆的", "[PHONE] 是我老婆的"),
    ("(+86)15012345678", "[PHONE]"),
    ("8618612345678这个号", "[PHONE]这个号"),
    # mainland landlines
    ("家里固话010-12345678坏了", "家里固话[PHONE]坏了"),
    ("office line 0755 1234 5678", "office line [PHONE]"),
    ("单位电话(021)12345678", "单位电话[PHONE]"),
    ("单位电话（021）12345678", "单位电话[PHONE]"),
    ("+86 755 12345678 is the shop", "[PHONE] is the shop"),
    # Hong Kong
    ("請打+852 9123 4567搵我", "請打[PHONE]搵我"),
    ("my HK number is 852 6123 4567", "my HK number is [PHONE]"),
    ("聯絡電話：9123 4567", "聯絡電話：[PHONE]"),
    ("電話 91234567", "電話 [PHONE]"),
    ("WhatsApp me at 5123-4567", "WhatsApp me at [PHONE]"),
    ("寬帶賬號是登記在5901 2630這個號碼下面的", "寬帶賬號是登記在[PHONE]這個號碼下面的"),
    # a bare 8-digit HK number given when the agent asked for it, no cue of its own
    ("客服：請問係咪登記用戶本人？\n客戶：係本人，6550 1059", "客服：請問係咪登記用戶本人？\n客戶：係本人，[PHONE]"),
    ("Agent: Could I take the number on the account?\nCustomer: Sure, 99181501", "Agent: Could I take the number on the account?\nCustomer: Sure, [PHONE]"),
    ("please call 9876 5432 after six", "please call [PHONE] after six"),
    ("我個電話係3058 7089", "我個電話係[PHONE]"),  # a fixed line, near a cue
    ("(852) 9123 4567 係我嘅", "[PHONE] 係我嘅"),
    # Taiwan
    ("我的手機0912-345-678", "我的手機[PHONE]"),
    ("手機號碼0912345678，謝謝", "手機號碼[PHONE]，謝謝"),
    ("reach me at +886 912 345 678", "reach me at [PHONE]"),
    ("+886-912-345-678", "[PHONE]"),
    ("886 912 345 678 is my cell", "[PHONE] is my cell"),
    # Taiwan landlines
    ("家裡電話(02) 2345-6789", "家裡電話[PHONE]"),
    ("市話 07-123-4567 沒人接", "市話 [PHONE] 沒人接"),
    ("office +886 2 2345 6789", "office [PHONE]"),
    ("(089) 123-456 是台東的", "[PHONE] 是台東的"),
    # e-mail
    ("邮箱是zhang.san@example.com谢谢", "邮箱是[EMAIL]谢谢"),
    ("我的QQ邮箱13812345678@qq.com", "我的QQ邮箱[EMAIL]"),
    ("write to John.Doe+bill@mail.co.uk today", "write to [EMAIL] today"),
    # PRC resident IDs (valid check digit)
    ("身份证号11010519491231002X", "身份证号[ID]"),
    ("身份证号11010519491231002x", "身份证号[ID]"),
    ("my ID is 440308199001011239", "my ID is [ID]"),
    ("身份证 440308 19900101 1239 没错", "身份证 [ID] 没错"),
    # Hong Kong IDs
    ("香港身份證A123456(7)", "香港身份證[ID]"),
    ("HKID AB123456(7) attached", "HKID [ID] attached"),
    ("身份證號碼A1234567", "身份證號碼[ID]"),
    ("身份證A123456（3）", "身份證[ID]"),
    # Taiwan IDs
    ("身分證字號A123456789", "身分證字號[ID]"),
    ("ID: B234567890", "ID: [ID]"),
    # bank cards (valid Luhn)
    ("银行卡号6222020200000000006", "银行卡号[CARD]"),
    ("卡号 6222 0202 0000 0000 006 扣款失败", "卡号 [CARD] 扣款失败"),
    ("card 6225-8801-2345-6783 was charged", "card [CARD] was charged"),
    ("Visa 4111 1111 1111 1111", "Visa [CARD]"),
    ("Amex 3782 822463 10005 declined", "Amex [CARD] declined"),
    # order and ticket numbers (configurable pattern)
    ("订单号AB1234567890已发货", "订单号[ORDER]已发货"),
    ("my ticket TK20261103001 is still open", "my ticket [ORDER] is still open"),
    ("工单ORD12345678还没处理", "工单[ORDER]还没处理"),
]


@pytest.mark.parametrize(("text", "expected"), PII_CASES)
def test_mask_pii_masks_every_format(text: str, expected: str) -> None:
    assert mask_pii(text, ORDER) == expected


STAYS = [
    # prices
    "套餐费¥58，超出部分按58元收",
    "HK$168 per month",
    "月費NT$499",
    "it costs $12.50 a month",
    "扣了RMB 30",
    # dates and times
    "2026-11-03扣的费",
    "11月3日交的话费",
    "3/11 was the outage",
    "03-11-2026 was the due date",
    "2026年11月3日晚上8点",
    "10:30打的电话",
    # quantities and plan names
    "10GB流量用了3个月",
    "每月500分钟通话",
    "办了5G畅享套餐 129",
    "100M宽带24小时断网",
    "4G套餐59元",
    # numbers that are not personal data
    "工号1234为我处理",
    "我有91234567积分",  # 8 digits starting with 9, but a unit after it
    "订单 51234567 还没发货",  # after an order cue
    "bill dated 20261120.",  # a compact date
    "身份证号110105194912310021",  # checksum fails: a long number, not an ID
    "卡号 6222 0202 0000 0000 007",  # Luhn fails: a long number, not a card
    "ref 1234567890123",  # 13 digits, Luhn fails, starts with 1
    "看这里 https://example.com/help?id=13812345678 谢谢",  # URLs are not PII
    "ICCID 89860012345678901234",  # 20 digits
]


@pytest.mark.parametrize("text", STAYS)
def test_mask_pii_leaves_prices_dates_quantities_and_failed_checksums(text: str) -> None:
    assert mask_pii(text, ORDER) == text


def test_mask_pii_without_order_patterns_keeps_order_numbers() -> None:
    assert mask_pii("订单号AB1234567890已发货") == "订单号AB1234567890已发货"


def test_mask_pii_order_pattern_does_not_swallow_an_id() -> None:
    # an over-broad order pattern must not turn a valid ID into an order number
    assert mask_pii("身份证号11010519491231002X", (r"\d{17}[\dX]",)) == "身份证号[ID]"


def test_mask_pii_masks_full_width_digits_in_raw_text() -> None:
    assert mask_pii("手机１３８１２３４５６７８，ＡＢ１２３４５６７８９０", ORDER) == "手机[PHONE]，[ORDER]"


def test_mask_pii_masks_several_items_in_one_text() -> None:
    text = "客户：手机13812345678，邮箱a@b.com，身份证11010519491231002X，扣了58元\n坐席：好的"
    assert mask_pii(text) == "客户：手机[PHONE]，邮箱[EMAIL]，身份证[ID]，扣了58元\n坐席：好的"


@pytest.mark.parametrize("text", ["", None])
def test_mask_pii_of_nothing_is_empty(text: str | None) -> None:
    assert mask_pii(text) == ""


def test_mask_pii_rejects_an_invalid_order_pattern() -> None:
    with pytest.raises(ConfigError, match=r"order number pattern '\[A-Z' is not a valid regular expression"):
        mask_pii("AB1234567890", ("[A-Z",))


def test_mask_pii_series_keeps_index_name_and_missing_values() -> None:
    texts = pd.Series(["电话13812345678", None, np.nan, "", "no pii"], index=[10, 11, 12, 13, 14], name="text")
    masked = mask_pii_series(texts, ORDER)
    assert masked.index.tolist() == [10, 11, 12, 13, 14]
    assert masked.name == "text"
    assert masked[10] == "电话[PHONE]"
    assert masked[11] is None and np.isnan(masked[12])
    assert masked[13] == "" and masked[14] == "no pii"
    assert texts[10] == "电话13812345678"  # the input is not modified

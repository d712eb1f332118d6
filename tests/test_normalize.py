"""normalize: speaker turns, views, boilerplate, width, feature text."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

from pipeline import normalize, pii, simplify
from pipeline.config import NormalizeSettings
from pipeline.errors import ConfigError, InputError
from pipeline.features import build_text_preparation
from pipeline.normalize import (
    normalize_text,
    prepare_texts,
    remove_boilerplate,
    select_view,
    shared_turns,
    split_turns,
    to_halfwidth,
)
from pipeline.pii import PLACEHOLDERS

ORDER = tuple(NormalizeSettings().order_number_patterns)  # the shipped default: AB1234567890

# ---------------------------------------------------------------------------------------------
# Speaker turns and views
# ---------------------------------------------------------------------------------------------

TAGS = [
    ("客户", "customer"), ("客戶", "customer"), ("顾客", "customer"), ("顧客", "customer"),
    ("用户", "customer"), ("用戶", "customer"), ("Customer", "customer"), ("CUSTOMER", "customer"),
    ("customer", "customer"), ("Client", "customer"), ("User", "customer"), ("C", "customer"),
    ("坐席", "agent"), ("座席", "agent"), ("客服", "agent"), ("Agent", "agent"), ("agent", "agent"),
    ("Rep", "agent"), ("CSR", "agent"), ("A", "agent"), ("店员", "agent"), ("店員", "agent"),
    ("工作人员", "agent"), ("Customer Service", "agent"), ("系统", "other"), ("IVR", "other"),
]


@pytest.mark.parametrize(("tag", "role"), TAGS)
@pytest.mark.parametrize("colon", ["：", ":", " : "])
def test_split_turns_reads_every_tag(tag: str, role: str, colon: str) -> None:
    assert split_turns(f"{tag}{colon}我的宽带断了") == [(role, "我的宽带断了")]


SPLITS = [
    ("客户：宽带断了\n坐席：好的，帮您查一下\n客户：谢谢",
     [("customer", "宽带断了"), ("agent", "好的，帮您查一下"), ("customer", "谢谢")]),
    ("客户：宽带断了 坐席：好的 客户：谢谢",
     [("customer", "宽带断了"), ("agent", "好的"), ("customer", "谢谢")]),
    ("Customer: my bill is wrong\nAgent: let me check",
     [("customer", "my bill is wrong"), ("agent", "let me check")]),
    ("C: hi, my SIM is dead A: sorry to hear", [("customer", "hi, my SIM is dead"), ("agent", "sorry to hear")]),
    ("[10:01] Customer (John): my bill\n[10:02] Agent 1023: sure",
     [("other", "[10:01]"), ("customer", "my bill\n[10:02]"), ("agent", "sure")]),
    ("客户（张三）：网络慢\n客服【工号88】：马上处理", [("customer", "网络慢"), ("agent", "马上处理")]),
    ("通话记录\n客户：停机了", [("other", "通话记录"), ("customer", "停机了")]),
    ("我的宽带从昨天开始断网", [("other", "我的宽带从昨天开始断网")]),
    ("我打了客服：没人接", [("other", "我打了客服：没人接")]),  # 客服 continues a word: not a tag
    ("Plan A: 129元 is too expensive", [("other", "Plan A: 129元 is too expensive")]),
    ("C: hi\nA: Plan A: 129, Plan B: 99", [("customer", "hi"), ("agent", "Plan A: 129, Plan B: 99")]),
    ("客户：\n坐席：您好", [("agent", "您好")]),
    ("", []),
    ("   \n ", []),
    (None, []),
]


@pytest.mark.parametrize(("text", "turns"), SPLITS)
def test_split_turns(text: str | None, turns: list[tuple[str, str]]) -> None:
    assert split_turns(text) == turns


def test_shared_turns_split_each_text_once_within_the_block() -> None:
    text = "客户：我的宽带断了\n坐席：请问您的账号是？\n客户：已经报过了"
    outside = split_turns(text)
    assert split_turns(text) is not outside  # no memo outside the block
    with shared_turns():
        first = split_turns(text)
        assert first == outside
        assert split_turns("".join(text)) is first  # an equal text: the same turns, not a new split
        assert normalize_text(text) == "我的宽带断了 已经报过了"
        with shared_turns():  # a nested block starts its own memo
            assert split_turns(text) is not first
        assert split_turns(text) is first
    assert split_turns(text) is not first


TRANSCRIPT = "坐席：您好，很高兴为您服务\n客户：我的宽带断了\n坐席：我帮您报障\n客户：要多久"


@pytest.mark.parametrize(
    ("view", "expected"),
    [
        ("customer", "我的宽带断了\n要多久"),
        ("agent", "您好，很高兴为您服务\n我帮您报障"),
        ("all", "您好，很高兴为您服务\n我的宽带断了\n我帮您报障\n要多久"),
    ],
)
def test_select_view(view: str, expected: str) -> None:
    assert select_view(TRANSCRIPT, view) == expected


@pytest.mark.parametrize("view", ["customer", "agent", "all"])
def test_select_view_of_untagged_text_is_the_whole_text(view: str) -> None:
    assert select_view("客户反映宽带断网，已派单", view) == "客户反映宽带断网，已派单"


def test_select_view_falls_back_to_the_whole_text_without_turns_of_that_role() -> None:
    assert select_view("坐席：客户反映网络慢，已派单", "customer") == "客户反映网络慢，已派单"


def test_select_view_rejects_an_unknown_view() -> None:
    with pytest.raises(ConfigError, match=r"view must be one of \['customer', 'agent', 'all'\], got 'caller'"):
        select_view("客户：你好", "caller")  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# Boilerplate
# ---------------------------------------------------------------------------------------------

BOILERPLATE = [
    ("您好，很高兴为您服务，您的宽带已恢复", "您的宽带已恢复"),
    ("你好，好高興為你服務，你個寬頻已經修好", "你個寬頻已經修好"),
    ("请问还有什么可以帮您？", ""),
    ("請問還有什麼可以幫您的嗎", ""),
    ("感谢您的来电，祝您生活愉快，再见", ""),
    ("多謝你嘅來電，拜拜", ""),
    ("这里是中国移动客服中心，工号1023为您服务", ""),
    ("请您稍等，我帮您查一下话费", "我帮您查一下话费"),
    ("Thank you for calling China Mobile, how can I help you today?", ""),
    ("Is there anything else I can help you with? Have a nice day! Goodbye.", ""),
    ("Good morning, my name is Amy. Your router will be replaced tomorrow.", "your router will be replaced tomorrow"),
    ("Dear Sir/Madam,\nMy bill is wrong.\nBest regards,\nJohn", "my bill is wrong john"),
    ("尊敬的客服：\n我的话费被多扣了。\n此致\n敬礼", "我的话费被多扣了"),
]


@pytest.mark.parametrize(("text", "expected"), BOILERPLATE)
def test_remove_boilerplate_drops_formulas_and_keeps_content(text: str, expected: str) -> None:
    # compared through the feature text: punctuation and spacing do not matter here
    assert normalize_text(remove_boilerplate(text, "agent"), view="all", drop_boilerplate=False, to_simplified=False) == expected


def test_remove_boilerplate_keeps_standby_and_with_regards_to() -> None:
    text = "My phone shows standby. With regards to my bill, it doubled."
    assert remove_boilerplate(text, "agent") == text


def test_customer_role_loses_only_email_formulas() -> None:
    assert remove_boilerplate("Dear team, thank you for calling me back", "customer").strip() == "thank you for calling me back"


def test_normalize_text_drops_agent_boilerplate_but_not_customer_words() -> None:
    text = "坐席：您好，很高兴为您服务\n客户：你好，我想问一下话费\n坐席：感谢您的来电，再见"
    assert normalize_text(text, view="all") == "你好 我想问一下话费"


# ---------------------------------------------------------------------------------------------
# Width
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [("ＳＩＭ卡１２３", "SIM卡123"), ("（ａ）！", "(a)!"), ("①号", "1号"), ("全角\u3000空格", "全角 空格"), ("a\u200bb", "ab"), ("plain", "plain")],
)
def test_to_halfwidth(text: str, expected: str) -> None:
    assert to_halfwidth(text) == expected


# ---------------------------------------------------------------------------------------------
# Feature text
# ---------------------------------------------------------------------------------------------

FEATURE_TEXT = [
    # simplified, with PII and numbers
    ("我的手机号是13812345678，上个月扣了58元", "我的手机号是 xxphone 上个月扣了 xxamount"),
    ("2026-11-03和11月3日都扣了¥58，HK$168，$12.50", "xxdate 和 xxdate 都扣了 xxamount xxamount xxamount"),
    ("身份证11010519491231002X，卡号6222020200000000006", "身份证 xxid 卡号 xxcard"),
    ("邮箱zhang.san@example.com，看 https://example.com/a?b=1", "邮箱 xxemail 看 xxurl"),
    ("订单号AB1234567890已发货", "订单号 xxorder 已发货"),
    ("身份证号110105194912310021", "身份证号 xxnum"),  # checksum fails → a long number
    ("卡号 6222 0202 0000 0000 007", "卡号 xxnum"),  # Luhn fails → a long number
    ("积分还有123456分", "积分还有 xxnum 分"),
    ("办了5G畅享套餐 129，10GB用了3个月", "办了5g畅享套餐 129 10gb用了3个月"),
    # traditional HK and TW
    ("客戶：我想辦理攜號轉網\n客服：請問還有什麼可以幫您", "我想办理携号转网"),
    ("網路一直斷線，寬頻很不穩定，帳單也不對", "网络一直断线 宽带很不稳定 账单也不对"),
    ("我部手機收唔到訊號，電話 9123 4567", "我部手机收唔到信号 电话 xxphone"),
    # English
    ("Customer: I can't log in, it's broken!\nAgent: Thank you for calling.", "i can not log in it broken"),
    ("My Wi-Fi router won't connect since Monday", "my wifi router will not connect since monday"),
    # code-switched
    ("我的sim卡activate不了", "我的sim卡activate不了"),
    ("app一直login失败", "app一直login失败"),
    # full-width, emoji, odd characters
    ("ＳＩＭ卡　ａｃｔｉｖａｔｅ不了，１３８１２３４５６７８", "sim卡 activate不了 xxphone"),
    ("网络好慢😡😡，怎么回事🙄", "网络好慢 怎么回事"),
    ("係咪㗎", "系咪 㗎"),  # a character outside jieba's range stands alone
    # nothing
    ("", ""),
    (None, ""),
    ("，。！？", ""),
]


@pytest.mark.parametrize(("text", "expected"), FEATURE_TEXT)
def test_normalize_text(text: str | None, expected: str) -> None:
    assert normalize_text(text, order_patterns=ORDER) == expected


def test_normalize_text_placeholders_are_single_lowercase_words() -> None:
    text = normalize_text(
        "电话13812345678 邮箱a@b.com 身份证11010519491231002X 卡6222020200000000006 订单AB1234567890 "
        "https://x.com 58元 2026-11-03 123456",
        order_patterns=ORDER,
    )
    assert set(text.split()) - {"电话", "邮箱", "身份证", "卡", "订单"} == PLACEHOLDERS


def test_normalize_text_options_can_be_switched_off() -> None:
    text = "客户：我的帳單不對 AB1234567890\n坐席：感謝您的來電"
    assert normalize_text(text, order_patterns=ORDER) == "我的账单不对 xxorder"
    assert normalize_text(text, to_simplified=False) == "我的帳單不對 ab xxnum"
    assert normalize_text(text, lowercase=False, to_simplified=False) == "我的帳單不對 AB xxnum"
    assert normalize_text(text, view="agent", drop_boilerplate=False) == "感谢您的来电"
    assert normalize_text(text, view="agent") == ""


def test_normalize_text_rejects_an_unknown_view() -> None:
    with pytest.raises(ConfigError, match="view must be one of"):
        normalize_text("你好", view="both")  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# prepare_texts in a scikit-learn pipeline
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "texts",
    [
        ["客户：网路很慢", None, float("nan"), "", 12345],
        pd.Series(["客户：网路很慢", None, np.nan, "", 12345], index=[5, 6, 7, 8, 9]),
        np.array(["客户：网路很慢", None, np.nan, "", 12345], dtype=object),
        np.array([["客户：网路很慢"], [None], [np.nan], [""], [12345]], dtype=object),
        pd.DataFrame({"text": ["客户：网路很慢", None, np.nan, "", 12345]}),
    ],
)
def test_prepare_texts_accepts_lists_series_arrays_and_one_column_frames(texts: object) -> None:
    assert prepare_texts(texts) == ["网路很慢", "", "", "", "xxnum"]


def test_prepare_texts_rejects_several_columns() -> None:
    with pytest.raises(InputError, match=r"one text column, got 2: \['text', 'channel'\]"):
        prepare_texts(pd.DataFrame({"text": ["a"], "channel": ["phone"]}))


def test_prepare_texts_rejects_a_single_string() -> None:
    with pytest.raises(InputError, match="got a single string"):
        prepare_texts("客户：你好")


def test_prepare_texts_function_transformer_survives_pickle() -> None:
    transformer = build_text_preparation(NormalizeSettings())  # what the fitted model holds
    texts = pd.Series(["客戶：我的帳單AB1234567890不對\n客服：您好", "Customer: call me on 13812345678"])
    restored = pickle.loads(pickle.dumps(transformer))
    expected = ["我的账单 xxorder 不对", "call me on xxphone"]
    assert transformer.fit_transform(texts) == expected
    assert restored.fit_transform(texts) == expected


def test_masking_and_script_names_are_still_importable_from_normalize() -> None:
    # callers imported them from here before pii and simplify became their own modules
    assert normalize.mask_pii is pii.mask_pii
    assert normalize.mask_pii_series is pii.mask_pii_series
    assert normalize.PLACEHOLDERS is pii.PLACEHOLDERS
    assert normalize.convert_to_simplified is simplify.convert_to_simplified

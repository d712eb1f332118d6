"""simplify: traditional Chinese (HK and TW wording) to mainland simplified."""

from __future__ import annotations

from pathlib import Path

import pytest
from opencc import OpenCC

from pipeline import simplify
from pipeline.errors import PipelineError
from pipeline.simplify import convert_to_simplified

SIMPLIFIED = [
    # phrase level (the Taiwan wording of tw2sp, the telecom table)
    ("我想辦理攜號轉網", "我想办理携号转网"),
    ("我的帳單金額不對", "我的账单金额不对"),
    ("網路一直斷線", "网络一直断线"),
    ("沒辦法登入", "没办法登录"),
    ("寬頻很不穩定", "宽带很不稳定"),
    ("手機收不到簡訊驗證碼", "手机收不到短信验证码"),
    ("點解我收唔到短訊", "点解我收唔到短信"),
    ("我想申請攜碼", "我想申请携号"),
    ("軟體更新後螢幕就黑了", "软件更新后屏幕就黑了"),
    ("門市說要補卡", "营业厅说要补卡"),
    ("我已經瞭解了", "我已经了解了"),
    # entries of tw2sp that would hurt contact-centre text are not used
    ("幫我查詢話費", "帮我查询话费"),
    ("呼叫轉移設定", "呼叫转移设置"),
    ("通話記錄不見了", "通话记录不见了"),
    ("辦理程序太複雜", "办理程序太复杂"),
    ("請核對個人資料", "请核对个人信息"),
    # HK wording
    ("我部手機收唔到訊號", "我部手机收唔到信号"),
    ("上個月帳單多咗幾百蚊", "上个月账单多咗几百蚊"),
    # mainland text is left alone (程序, 影片, 文件 are mainland words too)
    ("我下载的程序和影片都打不开", "我下载的程序和影片都打不开"),
    ("这个帐单不对", "这个账单不对"),
    ("", ""),
]


@pytest.mark.parametrize(("text", "expected"), SIMPLIFIED)
def test_convert_to_simplified(text: str, expected: str) -> None:
    assert convert_to_simplified(text) == expected


@pytest.mark.parametrize("text", ["後來我們去了醫院，說實話這個問題很難處理。", "颱風天電視機壞了，請師傅來修理。", "這裡的風景非常漂亮，適合拍照。"])
def test_convert_to_simplified_matches_opencc_outside_the_phrase_tables(text: str) -> None:
    assert convert_to_simplified(text) == OpenCC("t2s").convert(text)


def test_missing_opencc_dictionaries_say_which_package_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(simplify.resources, "files", lambda package: tmp_path)
    with pytest.raises(PipelineError, match="TSCharacters.txt not found: install opencc-python-reimplemented"):
        simplify._Simplifier()


def test_convert_to_simplified_of_a_long_text_is_the_same_as_of_its_parts() -> None:
    part = "我想辦理攜號轉網，網路很慢，帳單金額不對。"
    assert convert_to_simplified(part * 20) == convert_to_simplified(part) * 20

"""Generated test corpora for masking: personal data, and numbers that are not personal data.

Everything is invented from one ``random.Random(seed)``: phone numbers of the right shape,
IDs and cards with valid check digits, order numbers matching the shipped pattern. Each item
is embedded in a simplified Chinese, traditional Chinese (HK or TW wording) or English sentence,
in rotation, so every kind appears in all three.

* :func:`pii_items` — ``Item(kind, language, value, sentence)`` for every format :func:`pipeline.pii.mask_pii`
  must remove.
* :func:`keep_items` — prices, dates, times, quantities and plan names it must leave alone.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import NamedTuple


class Item(NamedTuple):
    kind: str
    language: str
    value: str
    sentence: str


LANGUAGES = ("zh", "trad", "en")

# ---------------------------------------------------------------------------------------------
# Personal data
# ---------------------------------------------------------------------------------------------

_MAINLAND_MOBILE_PREFIXES = ("130", "133", "135", "138", "139", "150", "153", "158", "166", "177", "180", "186", "189", "191", "199")
_MAINLAND_AREA_CODES = ("010", "020", "021", "023", "025", "027", "028", "0755", "0571", "0512", "0731", "0871", "0898")
_TW_AREA_CODES = (("02", 8), ("03", 7), ("04", 8), ("05", 7), ("06", 7), ("07", 7), ("08", 7), ("037", 6), ("049", 7), ("089", 6))
_PRC_AREAS = ("110105", "310104", "440305", "440106", "320102", "510107", "330106", "420111", "610113", "500103")
_CARD_PREFIXES = ("6222", "6228", "6217", "6225", "6214", "4367", "4111", "5187", "5200", "3528")
_EMAIL_NAMES = ("zhang.san", "li_si", "wangwu", "chan.taiman", "amy.lin", "john.doe", "mary-wong", "chen+bill", "k.lee")
_EMAIL_DOMAINS = ("qq.com", "163.com", "126.com", "gmail.com", "outlook.com", "yahoo.com.hk", "netvigator.com",
                  "hotmail.com.tw", "company.com.cn", "mail.example.org")
_ORDER_PREFIXES = ("AB", "JD", "TK", "ORD", "TKT", "SR", "WO", "INC", "REQ", "CASE")


def _digits(rng: random.Random, count: int, first: str = "0123456789") -> str:
    return rng.choice(first) + "".join(rng.choice("0123456789") for _ in range(count - 1))


def _grouped(number: str, sizes: tuple[int, ...], separator: str) -> str:
    groups, start = [], 0
    for size in sizes:
        groups.append(number[start : start + size])
        start += size
    return separator.join(groups)


def _mainland_mobile(rng: random.Random) -> str:
    number = rng.choice(_MAINLAND_MOBILE_PREFIXES) + _digits(rng, 8)
    spaced, dashed = _grouped(number, (3, 4, 4), " "), _grouped(number, (3, 4, 4), "-")
    full_width = number.translate({ord(d): ord(d) + 0xFEE0 for d in "0123456789"})
    return rng.choice((number, spaced, dashed, f"+86 {number}", f"+86-{dashed}", f"+86 {spaced}", f"+86{number}",
                       f"0086 {number}", f"0086-{number}", f"(+86){number}", f"86 {number}", full_width))


def _mainland_landline(rng: random.Random) -> str:
    code = rng.choice(_MAINLAND_AREA_CODES)
    local = _digits(rng, 8 if len(code) == 3 else rng.choice((7, 8)), first="2345678")
    split = _grouped(local, (len(local) - 4, 4), " ")
    return rng.choice((f"{code}-{local}", f"{code} {split}", f"({code}){local}", f"（{code}）{local}", f"{code}{local}",
                       f"+86 {code[1:]} {local}", f"+86-{code[1:]}-{local}", f"0086 {code[1:]} {split}"))


def _hk_phone(rng: random.Random) -> str:
    number = _digits(rng, 8, first=rng.choice(("569", "23")))  # mobile or fixed line
    spaced = _grouped(number, (4, 4), " ")
    return rng.choice((f"+852 {spaced}", f"+852-{_grouped(number, (4, 4), '-')}", f"+852{number}", f"(+852) {spaced}",
                       f"00852 {number}", f"852 {spaced}", f"(852) {spaced}", f"（852）{number}"))


def _hk_local_phone(rng: random.Random) -> str:
    """Without the country code: a phone only after a cue word (see ``_CUE_LABELS``)."""
    number = _digits(rng, 8, first=rng.choice(("569", "23")))
    return rng.choice((number, _grouped(number, (4, 4), " "), _grouped(number, (4, 4), "-")))


def _tw_mobile(rng: random.Random) -> str:
    number = "09" + _digits(rng, 8)
    return rng.choice((number, _grouped(number, (4, 3, 3), "-"), _grouped(number, (4, 3, 3), " "),
                       f"+886 {_grouped(number[1:], (3, 3, 3), ' ')}", f"+886-{_grouped(number[1:], (3, 3, 3), '-')}",
                       f"+886{number[1:]}", f"886 {_grouped(number[1:], (3, 3, 3), ' ')}"))


def _tw_landline(rng: random.Random) -> str:
    code, length = rng.choice(_TW_AREA_CODES)
    local = _digits(rng, length, first="2345678")
    head, tail = local[:-4], local[-4:]
    if length == 6:
        head, tail = local[:3], local[3:]
    return rng.choice((f"({code}) {head}-{tail}", f"{code}-{head}-{tail}", f"({code}){local}", f"{code}-{local}",
                       f"{code} {head} {tail}", f"+886 {code[1:]} {head} {tail}", f"+886-{code[1:]}-{local}"))


def _email(rng: random.Random) -> str:
    if rng.random() < 0.2:
        return f"{_digits(rng, rng.randint(6, 11), first='123456789')}@qq.com"
    name = rng.choice(_EMAIL_NAMES) + (str(rng.randint(1, 999)) if rng.random() < 0.5 else "")
    return f"{name}@{rng.choice(_EMAIL_DOMAINS)}"


def _prc_id_check(body: str) -> str:
    weights = [2 ** (17 - position) % 11 for position in range(17)]  # ISO 7064 MOD 11-2
    return "10X98765432"[sum(int(digit) * weight for digit, weight in zip(body, weights)) % 11]


def _prc_id(rng: random.Random) -> str:
    want_x = rng.random() < 0.3  # about one in eleven IDs ends in X; make sure the corpus has them
    while True:
        body = (f"{rng.choice(_PRC_AREAS)}{rng.randint(1950, 2005)}{rng.randint(1, 12):02d}"
                f"{rng.randint(1, 28):02d}{_digits(rng, 3)}")
        check = _prc_id_check(body)
        if check == "X" or not want_x:
            break
    number = body + check
    return rng.choice((number, number, number.lower(), f"{number[:6]} {number[6:14]} {number[14:]}"))


def _hk_id(rng: random.Random) -> str:
    letters = rng.choice(("A", "C", "D", "E", "G", "H", "K", "P", "R", "V", "Y", "Z", "XA", "WX"))
    digits = _digits(rng, 6)
    values = [36] * (2 - len(letters)) + [ord(letter) - 55 for letter in letters] + [int(d) for d in digits]
    remainder = sum(value * weight for value, weight in zip(values, range(9, 1, -1))) % 11
    check = "0" if remainder == 0 else "A" if remainder == 1 else str(11 - remainder)
    return rng.choice((f"{letters}{digits}({check})", f"{letters}{digits}（{check}）", f"{letters}{digits}{check}"))


_TW_ID_LETTER_CODES = dict(zip("ABCDEFGHJKLMNPQRSTUVXYWZIO", range(10, 36)))


def _tw_id(rng: random.Random) -> str:
    letter = rng.choice("ABCDEFGHJKMNPRSTUVXYZ")
    body = rng.choice("12") + _digits(rng, 7)
    code = _TW_ID_LETTER_CODES[letter]
    total = code // 10 + code % 10 * 9 + sum(int(digit) * weight for digit, weight in zip(body, range(8, 0, -1)))
    return f"{letter}{body}{(10 - total % 10) % 10}"


def _luhn_check(body: str) -> str:
    total = 0
    for position, digit in enumerate(reversed(body)):
        value = int(digit) * (2 if position % 2 == 0 else 1)
        total += value - 9 if value > 9 else value
    return str((10 - total % 10) % 10)


def _card(rng: random.Random) -> str:
    prefix = rng.choice(_CARD_PREFIXES)
    length = 19 if prefix.startswith("62") and rng.random() < 0.4 else 16
    body = prefix + _digits(rng, length - 1 - len(prefix))
    number = body + _luhn_check(body)
    sizes = (4, 4, 4, 4, 3) if length == 19 else (4, 4, 4, 4)
    return rng.choice((number, _grouped(number, sizes, " "), _grouped(number, sizes, "-")))


def _order(rng: random.Random) -> str:
    """Matches the shipped ``normalize.order_number_patterns``: ``\\b[A-Z]{2,4}\\d{8,14}\\b``."""
    return rng.choice(_ORDER_PREFIXES) + _digits(rng, rng.randint(8, 14))


_PII_KINDS: dict[str, Callable[[random.Random], str]] = {
    "mainland_mobile": _mainland_mobile,
    "mainland_landline": _mainland_landline,
    "hk_phone": _hk_phone,
    "hk_local_phone": _hk_local_phone,
    "tw_mobile": _tw_mobile,
    "tw_landline": _tw_landline,
    "email": _email,
    "prc_id": _prc_id,
    "hk_id": _hk_id,
    "tw_id": _tw_id,
    "card": _card,
    "order": _order,
}

# What a customer calls the item, per language: {label} stands right before the value.
_LABELS = {
    "phone": {"zh": ("手机号", "电话", "号码", "联系电话", "固话"), "trad": ("電話", "手機", "門號", "聯絡電話", "號碼"),
              "en": ("phone number", "mobile", "number", "contact number", "landline")},
    "email": {"zh": ("邮箱", "电子邮箱"), "trad": ("電郵", "電子郵件"), "en": ("email", "e-mail address")},
    "id": {"zh": ("身份证号", "身份证"), "trad": ("身份證號碼", "身分證字號"), "en": ("ID number", "HKID", "ID")},
    "card": {"zh": ("银行卡号", "卡号", "信用卡"), "trad": ("信用卡號", "銀行卡"), "en": ("card number", "credit card", "card")},
    "order": {"zh": ("订单号", "工单号", "单号"), "trad": ("訂單編號", "工單"), "en": ("order number", "ticket", "case")},
}
# A bare 8-digit HK number is a phone only after one of these (pipeline.pii's phone cues).
_CUE_LABELS = {"zh": ("电话", "手机", "联系电话"), "trad": ("電話", "手機", "聯絡電話"), "en": ("phone", "mobile", "call me on")}
_LABEL_GROUP = {"email": "email", "prc_id": "id", "hk_id": "id", "tw_id": "id", "card": "card", "order": "order"}

_PII_TEMPLATES = {
    "zh": (
        "我的{label}是{value}，麻烦帮我查一下",
        "客户：{label}{value}，上个月话费多扣了58元\n坐席：好的，我帮您核实",
        "你好，{label}：{value}，宽带从昨天开始一直断网",
        "{label} {value} 已经停机三天了，什么时候能恢复？",
        "请核对一下{label}{value}，我要办理携号转网",
        "坐席：请提供机主信息\n客户：{label}是{value}，机主是我本人",
        "刚才换了5G畅享套餐129，{label}{value}，为什么还是4G",
        "投诉！{label}{value}连续三天收到垃圾短信",
    ),
    "trad": (
        "我嘅{label}係{value}，唔該幫我查下",
        "客戶：{label}{value}，上個月帳單多咗HK$168\n客服：好的，幫您查詢一下",
        "您好，{label}：{value}，網路一直斷線",
        "{label} {value} 收唔到訊號，點算好",
        "麻煩核對{label}{value}，我想申請攜碼",
        "客服：請提供資料\n顧客：{label}是{value}，謝謝",
        "月費NT$499的方案，{label}{value}，怎麼還是被多扣",
        "投訴：{label}{value}每日都收到廣告短訊",
    ),
    "en": (
        "My {label} is {value}, please check it",
        "Customer: {label} {value}, I was charged $12.50 twice\nAgent: let me check",
        "Hi, {label}: {value}. The internet keeps dropping since yesterday",
        "Regarding {label} {value} - the SIM is still blocked",
        "Please verify {label} {value} before porting my number",
        "C: my {label} is {value}\nA: thank you, one moment",
        "I moved to the 5G Unlimited plan, {label} {value}, still no 5G",
        "Complaint: {label} {value} gets spam texts every day",
    ),
}


def _pii_sentence(rng: random.Random, kind: str, value: str, language: str) -> str:
    if kind == "hk_local_phone":
        label = rng.choice(_CUE_LABELS[language])
    else:
        label = rng.choice(_LABELS[_LABEL_GROUP.get(kind, "phone")][language])
    return rng.choice(_PII_TEMPLATES[language]).format(label=label, value=value)


def pii_items(per_kind: int = 24, seed: int = 20261103) -> list[Item]:
    """``per_kind`` items of every kind (12 kinds), languages in rotation."""
    rng = random.Random(seed)
    items = []
    for kind, generate in _PII_KINDS.items():
        for index in range(per_kind):
            value, language = generate(rng), LANGUAGES[index % len(LANGUAGES)]
            items.append(Item(kind, language, value, _pii_sentence(rng, kind, value, language)))
    return items


# ---------------------------------------------------------------------------------------------
# Not personal data: prices, dates, times, quantities, plan names
# ---------------------------------------------------------------------------------------------


def _price(rng: random.Random) -> str:
    whole, cents = rng.choice((5, 8, 10, 19, 29, 38, 58, 88, 99, 128, 168, 199, 238, 388, 499, 999, 1399, 2680)), rng.randint(0, 99)
    return rng.choice((f"¥{whole}", f"￥{whole}", f"{whole}元", f"{whole}.{cents:02d}元", f"HK${whole}", f"HK$ {whole}",
                       f"NT${whole}", f"NT${whole:,}", f"${whole}.{cents:02d}", f"US${whole}", f"RMB {whole}",
                       f"{whole}块", f"{whole}蚊", f"{whole} yuan", f"{whole} dollars", f"人民币{whole}元", f"{whole}港元"))


def _date(rng: random.Random) -> str:
    year, month, day = rng.choice((2025, 2026)), rng.randint(1, 12), rng.randint(1, 28)
    return rng.choice((f"{year}-{month:02d}-{day:02d}", f"{year}/{month}/{day}", f"{year}.{month:02d}.{day:02d}",
                       f"{year}年{month}月{day}日", f"{month}月{day}日", f"{month}月{day}号", f"{month}月{day}號",
                       f"{day}/{month}", f"{month}/{day}/{year}", f"{year}年{month}月", f"{month}月份", f"{day:02d}-{month:02d}-{year}"))


def _time(rng: random.Random) -> str:
    hour, minute = rng.randint(0, 23), rng.choice((0, 5, 15, 30, 45, 59))
    return rng.choice((f"{hour:02d}:{minute:02d}", f"{hour}:{minute:02d}", f"{hour:02d}:{minute:02d}:{rng.randint(0, 59):02d}",
                       f"{hour % 12 + 1}点", f"晚上{hour % 12 + 1}点半", f"{hour % 12 + 1}pm", f"{hour % 12 + 1}:{minute:02d}am",
                       f"{hour:02d}:00-{(hour + 9) % 24:02d}:00", f"{rng.choice((12, 24, 48, 72))}小时"))


def _quantity(rng: random.Random) -> str:
    return rng.choice((f"{rng.choice((1, 2, 5, 10, 20, 30, 50, 100))}GB", f"{rng.choice((100, 300, 500))}MB", f"{rng.randint(2, 60)}G流量",
                       f"{rng.randint(1, 24)}个月", f"{rng.randint(1, 24)}個月", f"{rng.choice((100, 300, 500, 1000))}分钟",
                       f"{rng.choice((200, 500, 1000))}分鐘", f"{rng.choice((100, 200, 500, 1000))}M宽带", f"{rng.randint(2, 5)}张卡",
                       f"{rng.randint(2, 9)}部手机", f"{rng.randint(1, 30)}天", f"{rng.randint(5, 80)}%", f"{rng.randint(1, 9)}.5GB",
                       f"{rng.choice((50, 100, 200))}条短信", f"第{rng.randint(1, 12)}期", f"{rng.choice((12, 24, 36))}期",
                       f"{rng.randint(1, 9)} lines", f"{rng.choice((10, 20, 50))} minutes"))


def _plan(rng: random.Random) -> str:
    return rng.choice((f"5G畅享套餐{rng.choice((129, 169, 199, 239))}", f"5G畅享套餐 {rng.choice((129, 169))}元",
                       f"4G套餐{rng.choice((39, 59, 79))}元", f"大王卡{rng.choice((19, 39))}元", f"月費計劃${rng.choice((98, 168, 198))}",
                       f"5G 無限數據 ${rng.choice((238, 388))}", f"4G吃到飽 {rng.choice((499, 599, 699))}",
                       f"Unlimited 5G {rng.choice((288, 388))}", f"iPhone {rng.randint(13, 16)} Pro {rng.choice((128, 256, 512))}GB",
                       f"Mate {rng.choice((50, 60, 70))}", f"光纤宽带{rng.choice((300, 500, 1000))}M", f"Plan {rng.choice((68, 88, 128))}",
                       f"5G Plan HK${rng.choice((168, 238))}", f"家庭融合套餐{rng.choice((199, 299))}"))


_KEEP_KINDS: dict[str, Callable[[random.Random], str]] = {
    "price": _price, "date": _date, "time": _time, "quantity": _quantity, "plan": _plan,
}
# Per kind and language; some hold a phone cue (手机, 電話, phone, call) right before the value.
_KEEP_TEMPLATES = {
    "price": {
        "zh": ("这个月扣了{value}，为什么比上个月多", "电话费{value}是怎么算的？", "客户：流量超出扣了我{value}\n坐席：我帮您查一下"),
        "trad": ("上個月帳單多咗{value}，點解咁貴", "電話費{value}是怎麼算的？", "客戶：月租{value}太貴\n客服：幫您查詢一下"),
        "en": ("I was charged {value} last month, why so much?", "phone bill {value} is wrong", "Customer: the add-on costs {value}?\nAgent: yes"),
    },
    "date": {
        "zh": ("{value}扣的费我不认可", "客户：{value}办的宽带到现在没装\n坐席：好的", "手机从{value}开始就没信号"),
        "trad": ("{value}之後就收唔到訊號", "客戶：{value}申辦的方案被多扣錢\n客服：了解", "電話{value}起就打不出去"),
        "en": ("Since {value} there is no signal", "Customer: my contract ends on {value}\nAgent: noted", "called on {value} and nobody came"),
    },
    "time": {
        "zh": ("昨天{value}左右断网了", "营业厅{value}还开门吗", "我{value}打的电话一直没人接"),
        "trad": ("今日{value}開始斷線", "門市{value}還有開嗎", "我{value}打過電話，都冇人聽"),
        "en": ("The outage started at {value}", "Is the store open at {value}?", "I called at {value} and waited an hour"),
    },
    "quantity": {
        "zh": ("流量套餐是{value}，还没用完就停了", "我的手机{value}就用完了", "能不能多送{value}"),
        "trad": ("上網數據{value}用晒，點算", "手機方案有{value}嗎", "可唔可以加{value}"),
        "en": ("My data ran out after {value}", "mobile plan includes {value}?", "Can I add {value} to my account"),
    },
    "plan": {
        "zh": ("我想办{value}", "我的手机套餐是{value}，想换便宜一点的", "客户：{value}包含多少流量\n坐席：我帮您查"),
        "trad": ("我想轉{value}", "我的手機方案是{value}，想換便宜一點的", "客戶：{value}有咩優惠\n客服：幫您查詢"),
        "en": ("I want to switch to {value}", "my phone plan is {value}, too expensive", "Customer: what does {value} include?\nAgent: let me see"),
    },
}


def keep_items(per_kind: int = 60, seed: int = 20261104) -> list[Item]:
    """``per_kind`` items of every kind (5 kinds), languages in rotation."""
    rng = random.Random(seed)
    items = []
    for kind, generate in _KEEP_KINDS.items():
        for index in range(per_kind):
            value, language = generate(rng), LANGUAGES[index % len(LANGUAGES)]
            items.append(Item(kind, language, value, rng.choice(_KEEP_TEMPLATES[kind][language]).format(value=value)))
    return items

"""tokenize: tokens, user words, stop words, pickling, and rjieba ≡ jieba."""

from __future__ import annotations

import json
import logging
import pickle
import subprocess
import sys
from pathlib import Path

import joblib
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from pipeline.errors import ConfigError
from pipeline.normalize import normalize_text
from pipeline.tokenize import Tokenizer, read_stopwords, read_user_words, words_hash

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
PACKAGE_ROOT = CONFIGS.parent


@pytest.fixture(scope="session")
def user_words() -> tuple[str, ...]:
    return read_user_words(CONFIGS / "userdict.txt")


@pytest.fixture(scope="session")
def stopwords() -> frozenset[str]:
    return read_stopwords(CONFIGS / "stopwords.txt")


@pytest.fixture(scope="session")
def tokenizer(user_words: tuple[str, ...], stopwords: frozenset[str]) -> Tokenizer:
    return Tokenizer(user_words=user_words, stopwords=stopwords)


@pytest.fixture(scope="session")
def jieba_tokenizer(user_words: tuple[str, ...], stopwords: frozenset[str]) -> Tokenizer:
    return Tokenizer(user_words=user_words, stopwords=stopwords, engine="jieba")


# ---------------------------------------------------------------------------------------------
# Tokens of the feature text (normalize_text → Tokenizer, as in the model)
# ---------------------------------------------------------------------------------------------

TOKENS = [
    # simplified
    ("我想办理携号转网，需要什么手续", ["想", "办理", "携号转网", "需要", "手续"]),
    ("副卡停机了想复机", ["副卡", "停机", "想", "复机"]),
    ("我要办5G套餐，10GB流量包用完了", ["我要", "办", "5g套餐", "10gb", "流量包", "用", "完"]),
    ("客户：宽带断网了，光猫亮红灯\n坐席：您好，很高兴为您服务", ["宽带", "断网", "光猫", "亮红灯"]),
    ("我的手机号是13812345678，上个月扣了58元", ["手机号", "xxphone", "上个月", "扣", "xxamount"]),
    # traditional, after conversion
    ("我想辦理攜號轉網，要帶什麼證件？", ["想", "办理", "携号转网", "要", "带", "证件"]),
    ("手機收不到簡訊驗證碼，沒辦法登入", ["手机", "收不到", "短信验证码", "没", "办法", "登录"]),
    ("上個月帳單多咗幾百蚊，網路又成日斷", ["上个月", "账单", "多", "几百", "蚊", "网络", "成日断"]),
    # English
    ("My internet keeps dropping since yesterday!", ["internet", "keeps", "dropping", "since", "yesterday"]),
    ("I can't receive the verification code", ["not", "receive", "verification", "code"]),
    # code-switched
    ("我的sim卡activate不了", ["sim卡", "activate", "不了"]),
    ("app一直login失败", ["app", "一直", "login", "失败"]),
    # full-width, emoji, empty
    ("ＳＩＭ卡　ａｃｔｉｖａｔｅ不了，ｗｉｆｉ断网", ["sim卡", "activate", "不了", "wifi", "断网"]),
    ("网络好慢😡😡 怎么回事🙄", ["网络", "好慢", "怎么回事"]),
    ("", []),
    ("，。！？😡", []),
]


@pytest.mark.parametrize(("text", "tokens"), TOKENS)
def test_tokens_of_the_feature_text(tokenizer: Tokenizer, text: str, tokens: list[str]) -> None:
    assert tokenizer(normalize_text(text)) == tokens


RAW_TOKENS = [
    ("Wi-Fi 信号差, can't connect!", ["wi", "fi", "信号差", "connect"]),
    ("价格12.50元，c++和c#", ["价格", "12", "50", "元", "c", "c"]),
    ("ＳＩＭ卡ＡＣＴＩＶＡＴＥ", ["sim卡", "activate"]),
    ("邮箱 zhang.san@example.com", ["邮箱", "zhang", "san", "example", "com"]),
    ("  \n\t ", []),
]


@pytest.mark.parametrize(("text", "tokens"), RAW_TOKENS)
def test_tokens_of_raw_text_drop_punctuation_and_lower_case(tokenizer: Tokenizer, text: str, tokens: list[str]) -> None:
    assert tokenizer(text) == tokens


def test_characters_outside_jiebas_range_stand_alone() -> None:
    # jieba-rs would join the extension-A 㗎 to its neighbours, jieba would not
    assert Tokenizer()("係咪㗎 café") == ["係", "咪", "㗎", "caf", "é"]


def test_placeholders_are_single_tokens(tokenizer: Tokenizer) -> None:
    text = "xxphone xxemail xxid xxcard xxorder xxurl xxamount xxdate xxnum 电话xxphone谢谢"
    assert tokenizer(text) == [
        "xxphone", "xxemail", "xxid", "xxcard", "xxorder", "xxurl", "xxamount", "xxdate", "xxnum", "电话", "xxphone",
    ]


def test_stopwords_are_removed_in_both_languages(stopwords: frozenset[str]) -> None:
    with_stopwords = Tokenizer(stopwords=stopwords)
    bare = Tokenizer()
    text = "我的 the 流量 is 嗯 用完 了 and 那个 wifi 吗"
    assert bare(text) == ["我", "的", "the", "流量", "is", "嗯", "用", "完", "了", "and", "那个", "wifi", "吗"]
    assert with_stopwords(text) == ["流量", "用", "完", "wifi"]


def test_stopwords_given_in_upper_case_still_apply() -> None:
    assert Tokenizer(stopwords=("THE", "Plan"))("the PLAN is expensive") == ["is", "expensive"]


def test_negations_are_not_stopwords(stopwords: frozenset[str]) -> None:
    assert {"不", "没", "没有", "无法", "不能", "not", "no", "never", "cannot"}.isdisjoint(stopwords)


# ---------------------------------------------------------------------------------------------
# User words
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["我要办5G畅享尊享套餐", "我要办5g畅享尊享套餐", "我要办５Ｇ畅享尊享套餐"])
def test_user_words_apply_whatever_the_case(text: str) -> None:
    with_word = Tokenizer(user_words=("5G畅享尊享套餐",))
    assert "5g畅享尊享套餐" in with_word(text)
    assert "5g畅享尊享套餐" not in Tokenizer()(text)


@pytest.mark.parametrize("engine", ["rjieba", "jieba"])
def test_every_shipped_user_word_stays_whole(engine: str, user_words: tuple[str, ...]) -> None:
    tokenizer = Tokenizer(user_words=user_words, engine=engine)
    split = [word for word in user_words if word not in tokenizer(f"关于{word}的问题")]
    assert split == []


def test_user_words_of_one_tokenizer_do_not_leak_into_another() -> None:
    Tokenizer(user_words=("光猫亮红灯",))("光猫亮红灯")
    assert Tokenizer()("光猫亮红灯") != ["光猫亮红灯"]


# ---------------------------------------------------------------------------------------------
# rjieba and jieba give identical tokens
# ---------------------------------------------------------------------------------------------

SENTENCES = (
    # simplified, telecom
    "我想办理携号转网，需要带什么证件", "这个月话费怎么扣了这么多，账单看不懂", "宽带从昨天开始一直断网，光猫亮红灯",
    "流量包用完了还在扣费，能不能退", "我的副卡停机了，想复机", "手机卡丢了要补卡，原来的号码能保留吗",
    "我要销户，不想用了，违约金是多少", "出国去日本，国际漫游怎么开通，资费怎么算", "为什么给我开了增值业务，我根本没订过",
    "收不到验证码，登录不了掌上营业厅", "实名认证一直失败，身份证拍了好几次", "宽带移机到新家要多久，要不要收费",
    "合约机还没到期能不能换套餐", "家庭套餐能加几个副卡，副卡怎么收费", "来电显示怎么开通，是免费的吗",
    "信号很差，家里打电话总是断，在地下室完全没信号", "上网速度特别慢，测速才两兆", "积分怎么兑换话费，积分什么时候清零",
    "充值了一百元没到账，钱被扣了", "发票怎么开，能开增值税专用发票吗", "营业厅几点关门，周末营业吗",
    "我的号码被停机了，可是我已经交了费", "装宽带的师傅一直没上门，打电话也不接", "投诉一下，客服电话一直打不通",
    "流量超出了扣了我很多钱，为什么没有提醒", "国际长途资费是多少，打美国贵不贵", "想取消彩铃业务，每个月扣五块钱",
    "老人机能不能办理最便宜的套餐", "路由器重启了好几次还是没有网络", "机顶盒没有信号，电视看不了",
    "我要改成低一点的套餐，月租太贵了", "停机保号怎么办理，一个月多少钱", "服务密码忘记了怎么重置",
    "亲情号可以设置几个，怎么收费", "千兆宽带要换光猫吗，要不要加钱", "上门维修要收费吗，什么时候能来",
    "我的工单已经三天了还没有人处理", "短信验证码一直发不过来，换了手机也不行", "流量共享是怎么算的，主卡副卡一起用吗",
    "定向流量包括哪些应用，抖音算不算",
    # traditional, as normalize converts them
    "我想辦理攜號轉網，要帶什麼證件", "我的帳單金額不對，多扣了兩百元", "網路一直斷線，寬頻很不穩定",
    "手機收不到簡訊驗證碼，沒辦法登入", "門市說要補卡，請問要多久", "我想把月租費降低，換比較便宜的方案",
    "國際漫遊要怎麼開通，日本可以用嗎", "行動網路訊號很差，常常斷線", "軟體更新後就上不了網",
    "帳號密碼忘記了，登入失敗", "我要停話，出國一年", "我部手機收唔到訊號，成日斷線", "我想轉台，攜號轉網要幾耐",
    "上個月帳單多咗幾百蚊，唔知點解", "寬頻好慢，上網成日斷", "我想取消漫遊數據，去旅行費用好貴",
    "張SIM卡壞咗，想補卡", "個月費計劃幾時到期", "點解我收唔到短訊驗證碼", "我想加數據，上網數據用晒",
    "屋企嘅Wi-Fi成日斷線，路由器要唔要換", "我要投訴，等咗好耐都冇人聽電話", "呢個月嘅帳單點解咁貴",
    "客服電話一直打唔通", "我想問吓家居寬頻幾時續約",
    # code-switched
    "我的sim卡activate不了", "app一直login失败，password重置也没用", "我想upgrade到5G plan", "账单上有个roaming charge我不认识",
    "wifi的signal很弱，router要reset吗", "customer service电话一直busy", "我要cancel这个add-on", "e-sim怎么setup",
    "上个月的bill多了HK$168", "我部iphone收唔到SMS", "data用完了，想top up 10GB", "我的esim在iPhone 15上activate失败",
    "5G信号有时候变成4G甚至3G", "我的account被lock了", "OTP一直收不到", "你们的app crash了好几次",
    "我想change我的plan", "billing address要update", "call center的waiting time太长", "我要port in我的number",
    # English
    "I want to port my number to your network", "My bill is higher than usual this month, I was charged twice",
    "The internet keeps dropping since yesterday", "I can't receive the verification code to log in",
    "Please cancel my roaming add-on, it's too expensive", "My SIM card is lost and I need a replacement",
    "I'd like to upgrade to the 5G plan", "Why was I charged for a value-added service I never ordered",
    "The router light is red and there is no connection", "I want to close my account and get a refund",
    "My data ran out after 10GB", "The technician never showed up for the installation",
    "How much does international roaming cost in Japan", "I was promised a discount but it is not on my bill",
    "The signal in my apartment is terrible", "Can you reset my voicemail password",
    "I moved house and need my broadband moved too", "Your app shows an error when I try to pay",
    "I topped up 100 dollars but the balance did not change", "Please stop sending me promotional messages",
    # user words, in context
    "我的5G套餐和4G套餐有什么区别", "融合套餐包含宽带和手机", "畅享套餐的月租费是多少", "套餐变更下个月生效吗",
    "流量卡和物联网卡能不能打电话", "不限量套餐会不会限速", "超套之后是不是免流", "靓号要不要预存话费",
    "话费余额不足会不会停机", "宽带报修之后多久上门", "iptv看不了，宽带账号正常", "信号差到一直掉线，断网了三次",
)


def test_the_engine_corpus_is_varied_and_large_enough() -> None:
    assert len(SENTENCES) >= 100
    assert len(set(SENTENCES)) == len(SENTENCES)


def test_rjieba_and_jieba_give_identical_tokens_on_feature_text(tokenizer: Tokenizer, jieba_tokenizer: Tokenizer) -> None:
    prepared = [normalize_text(sentence) for sentence in SENTENCES]
    different = [(text, tokenizer(text), jieba_tokenizer(text)) for text in prepared if tokenizer(text) != jieba_tokenizer(text)]
    assert different == []


def test_rjieba_and_jieba_give_identical_tokens_on_raw_text(tokenizer: Tokenizer, jieba_tokenizer: Tokenizer) -> None:
    # punctuation joins ASCII runs differently in the two engines (add-on, john.doe,
    # 010-12345678); the tokenizer's reduction to runs removes that difference
    raw = [*SENTENCES, "价格12.50元", "c++和c#", "my email is john.doe@mail.com", "固话010-12345678", "係咪㗎 café 𠮷野家"]
    different = [(text, tokenizer(text), jieba_tokenizer(text)) for text in raw if tokenizer(text) != jieba_tokenizer(text)]
    assert different == []


# ---------------------------------------------------------------------------------------------
# Pickling and process state
# ---------------------------------------------------------------------------------------------

TEXT = "我的sim卡activate不了，5G套餐的流量包也用完了，电话 xxphone"


def test_tokenizer_pickles_without_its_engine(tokenizer: Tokenizer) -> None:
    expected = tokenizer(TEXT)  # the engine is built and cached on the instance
    restored = pickle.loads(pickle.dumps(tokenizer))
    assert restored(TEXT) == expected
    assert restored.user_words == tokenizer.user_words and restored.stopwords == tokenizer.stopwords
    assert len(pickle.dumps(tokenizer)) < 10_000  # words only: no dictionary, no engine


@pytest.mark.parametrize("engine", ["rjieba", "jieba"])
def test_tokenizer_rebuilds_its_engine_in_a_new_process(engine: str, user_words: tuple[str, ...], stopwords: frozenset[str], tmp_path: Path) -> None:
    tokenizer = Tokenizer(user_words=user_words, stopwords=stopwords, engine=engine)
    expected = tokenizer(TEXT)
    path = tmp_path / "tokenizer.pkl"
    path.write_bytes(pickle.dumps(tokenizer))
    script = "import json, pickle, sys; t = pickle.load(open(sys.argv[1], 'rb')); print(json.dumps(t(sys.argv[2])))"
    result = subprocess.run([sys.executable, "-c", script, str(path), TEXT], capture_output=True, text=True, check=True, cwd=PACKAGE_ROOT)
    assert json.loads(result.stdout) == expected


def test_fitted_vectorizer_round_trips_through_joblib_into_a_new_process(tokenizer: Tokenizer, tmp_path: Path) -> None:
    documents = [normalize_text(text) for text in SENTENCES[:40]]
    vectorizer = TfidfVectorizer(tokenizer=tokenizer, token_pattern=None, lowercase=False).fit(documents)
    assert {"携号转网", "副卡", "光猫", "xxphone"} - set(vectorizer.vocabulary_) == {"xxphone"}
    path = tmp_path / "vectorizer.joblib"
    joblib.dump(vectorizer, path)
    script = (
        "import json, sys, joblib; v = joblib.load(sys.argv[1]); "
        "print(json.dumps(v.transform([sys.argv[2]]).toarray().round(12).tolist()))"
    )
    result = subprocess.run([sys.executable, "-c", script, str(path), documents[0]], capture_output=True, text=True, check=True, cwd=PACKAGE_ROOT)
    assert json.loads(result.stdout) == vectorizer.transform([documents[0]]).toarray().round(12).tolist()


def test_unknown_engine_fails_on_first_use_with_the_choices() -> None:
    tokenizer = Tokenizer(engine="thulac")  # __init__ only stores
    with pytest.raises(ConfigError, match=r"engine must be one of \['rjieba', 'jieba'\], got 'thulac'"):
        tokenizer("你好")


def test_building_the_jieba_engine_logs_nothing(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        assert Tokenizer(user_words=("日志测试专用词",), engine="jieba")("日志测试专用词") == ["日志测试专用词"]
    assert [record for record in caplog.records if record.name.startswith("jieba")] == []


def test_repr_names_the_engine_and_word_counts(tokenizer: Tokenizer) -> None:
    assert repr(tokenizer) == f"Tokenizer(user_words=<{len(tokenizer.user_words)} words>, stopwords=<{len(tokenizer.stopwords)} words>, engine='rjieba')"


# ---------------------------------------------------------------------------------------------
# Word lists
# ---------------------------------------------------------------------------------------------


def test_read_user_words_reads_jieba_format(tmp_path: Path) -> None:
    path = tmp_path / "userdict.txt"
    path.write_text("# telecom\n携号转网 3000 n\n光猫\n\n5G套餐 200  # inline comment\nc# 10\n携号转网 5\n", encoding="utf-8")
    assert read_user_words(path) == ("携号转网", "光猫", "5G套餐", "c#")


def test_read_user_words_rejects_a_bad_frequency(tmp_path: Path) -> None:
    path = tmp_path / "userdict.txt"
    path.write_text("# words\n\n携号转网 3000 n\n光猫 many n\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"userdict.txt:4: expected 'word \[frequency\] \[tag\]', got '光猫 many n'"):
        read_user_words(path)


def test_read_stopwords_lower_cases_and_skips_comments(tmp_path: Path) -> None:
    path = tmp_path / "stopwords.txt"
    path.write_text("\ufeff# list\nThe\n的\n  # indented comment\nc#\n", encoding="utf-8")
    assert read_stopwords(path) == frozenset({"the", "的", "c#"})


@pytest.mark.parametrize("reader", [read_user_words, read_stopwords])
def test_missing_word_list_says_which_file(reader, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError, match="word list not found: .*missing.txt"):
        reader(tmp_path / "missing.txt")


def test_shipped_word_lists_have_the_expected_size(user_words: tuple[str, ...], stopwords: frozenset[str]) -> None:
    assert 40 <= len(user_words) <= 80
    assert 150 <= len(stopwords) <= 300
    assert {"携号转网", "流量包", "宽带", "副卡", "5g套餐", "光猫", "实名认证", "宽带移机"} <= set(user_words)


def test_words_hash_ignores_order_and_duplicates_but_not_content() -> None:
    digest = words_hash(["携号转网", "光猫"])
    assert digest == words_hash(("光猫", "携号转网", "光猫"))
    assert digest != words_hash(["携号转网", "光猫", "副卡"])
    assert len(digest) == 64 and int(digest, 16) >= 0


def test_jieba_logs_through_our_handlers_only(caplog) -> None:
    import logging

    Tokenizer(engine="jieba")("今天宽带又断了")
    assert logging.getLogger("jieba").handlers == []  # no second copy of its records on stderr
    with caplog.at_level(logging.WARNING):
        logging.getLogger("jieba").warning("dictionary problem")
    assert "dictionary problem" in caplog.text  # still reaches the root logger's handlers

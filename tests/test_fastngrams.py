"""The vectorised character n-grams give scikit-learn's matrix bit for bit."""

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from pipeline.fastngrams import FastCharNgrams, accelerate, can_accelerate

ODD_TEXTS = [
    "", " ", "a", "ab", "abc", "abcd", "abcde", "  x\ty\n\nz  ", "\u3000全角空格\u3000", "😀 emoji 𠀀 ext-b",
    "我的SIM卡activate不了", "寬頻斷咗成日 broadband down", "xxphone 10gb 5g套餐", "word " * 40, "未見過的字龘靐",
]


def same_matrix(left, right) -> bool:
    return (
        type(left) is type(right) and left.shape == right.shape and np.array_equal(left.indptr, right.indptr)
        and np.array_equal(left.indices, right.indices) and np.array_equal(left.data, right.data)
    )


@pytest.mark.parametrize("ngram_range", [(1, 4), (2, 3), (3, 4), (4, 4), (1, 1)])
@pytest.mark.parametrize("sublinear_tf", [True, False])
def test_fast_char_ngrams_equal_the_vectorizer(demo_data, ngram_range, sublinear_tf):
    texts = demo_data.contacts["text"].head(600).tolist()
    vectorizer = TfidfVectorizer(analyzer="char_wb", lowercase=False, ngram_range=ngram_range, min_df=2, sublinear_tf=sublinear_tf)
    vectorizer.fit(texts[:300])
    fast = FastCharNgrams(vectorizer).fit(None)
    for batch in (texts, ODD_TEXTS, ["", " \n"]):
        assert same_matrix(vectorizer.transform(batch), fast.transform(batch))


def test_long_batches_are_taken_in_blocks_with_the_same_result(demo_data, monkeypatch):
    import pipeline.fastngrams

    texts = demo_data.contacts["text"].head(300).tolist() + ODD_TEXTS
    vectorizer = TfidfVectorizer(analyzer="char_wb", lowercase=False, ngram_range=(1, 3), min_df=2).fit(texts)
    fast = FastCharNgrams(vectorizer).fit(None)
    monkeypatch.setattr(pipeline.fastngrams, "BLOCK_CHARS", 500)  # a few texts a block, a long one alone
    assert len(pipeline.fastngrams.text_blocks(texts)) > 20
    assert same_matrix(vectorizer.transform(texts), fast.transform(texts))


def test_the_fitted_model_predicts_the_same_probabilities(trained, demo_data):
    texts = demo_data.contacts["text"].tail(800).tolist() + ODD_TEXTS
    fast = accelerate(trained.model)
    replaced = [type(t).__name__ for _, t in fast.named_steps["features"].transformer_list]
    assert {"FastCharNgrams", "FastWordNgrams"} <= set(replaced)
    assert np.array_equal(trained.model.predict_proba(texts), fast.predict_proba(texts))
    assert all(not type(t).__name__.startswith("Fast") for _, t in trained.model.named_steps["features"].transformer_list)


def test_other_vectorizers_are_left_alone():
    assert not can_accelerate(TfidfVectorizer(analyzer="char_wb", lowercase=True).fit(["abc"]))
    assert not can_accelerate(TfidfVectorizer(analyzer="word").fit(["abc"]))
    assert not can_accelerate(TfidfVectorizer(analyzer="char_wb", lowercase=False, ngram_range=(1, 5)).fit(["abc"]))
    assert can_accelerate(TfidfVectorizer(analyzer="char_wb", lowercase=False).fit(["abc"]))


@pytest.mark.parametrize("ngram_range", [(1, 2), (1, 1), (2, 3), (1, 3)])
@pytest.mark.parametrize("sublinear_tf", [True, False])
def test_fast_word_ngrams_equal_the_vectorizer(demo_data, ngram_range, sublinear_tf):
    from pipeline.fastngrams import FastWordNgrams, can_accelerate_words
    from pipeline.tokenize import Tokenizer

    texts = demo_data.contacts["text"].head(600).tolist()
    vectorizer = TfidfVectorizer(
        tokenizer=Tokenizer(user_words=("宽带",), stopwords=frozenset({"的"})), token_pattern=None, lowercase=False,
        ngram_range=ngram_range, min_df=2, sublinear_tf=sublinear_tf,
    ).fit(texts[:300])
    assert can_accelerate_words(vectorizer)
    fast = FastWordNgrams(vectorizer).fit(None)
    for batch in (texts, ODD_TEXTS):
        assert same_matrix(vectorizer.transform(batch), fast.transform(batch))


def test_word_vectorizers_it_cannot_reproduce_are_left_alone():
    from pipeline.fastngrams import can_accelerate_words
    from pipeline.tokenize import Tokenizer

    texts = ["宽带 断了", "宽带 又 断了"]
    assert not can_accelerate_words(TfidfVectorizer(lowercase=False).fit(texts))  # sklearn's own token pattern
    spaced = Tokenizer(user_words=("wi fi",))
    assert not can_accelerate_words(TfidfVectorizer(tokenizer=spaced, token_pattern=None, lowercase=False).fit(texts))
    stops = TfidfVectorizer(tokenizer=Tokenizer(), token_pattern=None, lowercase=False, stop_words=["又"]).fit(texts)
    assert not can_accelerate_words(stops)

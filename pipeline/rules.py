"""Cold start: the taxonomy's keywords (zh and en) as a rule model with a confidence.

With no labelled data there is no classifier to train, yet the first night's reports should
work. ``build_rule_model`` turns each reason's keywords into weighted rules and returns a
scikit-learn ``Pipeline`` (text preparation → :class:`KeywordRules`) with ``predict_proba`` and
``classes_``, so it scores exactly where a trained model would (``predict.score_contacts``, the
nightly job, a model directory). Keywords are prepared like the contacts — full/half width,
traditional → simplified, lower case — so 帳單 finds 账单 and "Refund" finds "refund".

Confidence: a reason's weight is the sum of its matched keywords' weights (a keyword shared by
``n`` reasons weighs ``1/n``); the probability is ``(weight + 1/K) / (total weight + 1)`` over
``K`` reasons, so one clean hit gives about 0.5, two agreeing hits about 0.7, and a contact
without any hit 1/K — below any sensible threshold, hence ``unknown``.
"""

from __future__ import annotations

import logging
import re

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.pipeline import Pipeline

from pipeline.config import NormalizeSettings, Taxonomy
from pipeline.features import build_text_preparation
from pipeline.normalize import normalize_text

log = logging.getLogger(__name__)

RULES_SOURCE = "rules"
MODEL_SOURCE = "model"
# English keywords also match their common inflections: refund → refunds, refunded, refunding
_ENGLISH_SUFFIXES = r"(?:s|es|d|ed|ing|led|ling|ied|ies)?"
_ASCII_WORD = re.compile(r"[a-z0-9]")


def _keyword_pattern(keyword: str) -> re.Pattern[str]:
    """Chinese matches anywhere; a Latin edge must sit on a word boundary (so "bill" skips "billion")."""
    head = r"(?<![a-z0-9])" if _ASCII_WORD.match(keyword[0]) else ""
    tail = _ENGLISH_SUFFIXES + r"(?![a-z0-9])" if _ASCII_WORD.match(keyword[-1]) else ""
    return re.compile(head + re.escape(keyword) + tail)


class KeywordRules(ClassifierMixin, BaseEstimator):
    """Reason probabilities from keyword hits in prepared text (see the module docstring).

    ``keywords`` maps a reason id to its prepared keywords. ``fit`` needs no labels; it only
    compiles the rules. The predictions carry ``prediction_source = "rules"`` for the reports.
    """

    prediction_source = RULES_SOURCE

    def __init__(self, keywords: dict[str, tuple[str, ...]] | None = None):
        self.keywords = keywords

    def fit(self, texts=None, y=None):
        if not self.keywords:
            raise ValueError("KeywordRules needs keywords: a mapping of reason id to keywords, got none")
        empty = sorted(reason for reason, words in self.keywords.items() if not words)
        if len(empty) == len(self.keywords):
            raise ValueError("KeywordRules: no reason has a keyword; add keywords to the taxonomy")
        self.classes_ = np.array(sorted(self.keywords), dtype=object)
        sharing: dict[str, int] = {}
        for words in self.keywords.values():
            for word in set(words):
                sharing[word] = sharing.get(word, 0) + 1
        rules = []
        for index, reason in enumerate(self.classes_):
            for word in sorted(set(self.keywords[reason])):
                rules.append((word, _keyword_pattern(word), index, 1.0 / sharing[word]))
        self.rules_ = rules
        return self

    def keyword_weights(self, texts) -> np.ndarray:
        """Summed keyword weight per text and reason (rows × ``classes_``)."""
        weights = np.zeros((len(texts), len(self.classes_)))
        for row, text in enumerate(texts):
            if not text:
                continue
            for word, pattern, column, weight in self.rules_:
                if word in text and pattern.search(text):
                    weights[row, column] += weight
        return weights

    def predict_proba(self, texts) -> np.ndarray:
        weights = self.keyword_weights(list(texts))
        prior = 1.0 / len(self.classes_)
        return (weights + prior) / (weights.sum(axis=1, keepdims=True) + 1.0)

    def predict(self, texts) -> np.ndarray:
        return self.classes_[self.predict_proba(texts).argmax(axis=1)]

    def matched_keywords(self, text: str) -> list[str]:
        """The keywords found in one prepared text, for explanations."""
        return [word for word, pattern, _, _ in self.rules_ if word in text and pattern.search(text)]


def prepared_keywords(taxonomy: Taxonomy, normalize: NormalizeSettings) -> dict[str, tuple[str, ...]]:
    """Each reason's zh and en keywords prepared the way contacts are (same width, script, case)."""
    prepared = {}
    for reason in taxonomy.reasons:
        words = []
        for keyword in (*reason.keywords.zh, *reason.keywords.en):
            text = normalize_text(
                keyword, view="all", to_simplified=normalize.to_simplified, lowercase=normalize.lowercase,
                drop_boilerplate=False,
            )
            if text:
                words.append(text)
        prepared[reason.id] = tuple(dict.fromkeys(words))
    return prepared


def build_rule_model(taxonomy: Taxonomy, normalize: NormalizeSettings) -> Pipeline:
    """The fitted cold-start model: raw text in, reason probabilities out."""
    rules = KeywordRules(prepared_keywords(taxonomy, normalize)).fit()
    log.info("rules - %d keywords for %d reasons", len(rules.rules_), len(rules.classes_))
    return Pipeline([("prepare", build_text_preparation(normalize)), ("classify", rules)])


def prediction_source(classifier) -> str:
    """``rules`` for a keyword model (bare or at the end of a pipeline), else ``model``."""
    final = classifier.steps[-1][1] if isinstance(classifier, Pipeline) else classifier
    return getattr(final, "prediction_source", MODEL_SOURCE)

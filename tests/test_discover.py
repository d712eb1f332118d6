import pandas as pd
import pytest

from pipeline.config import ReviewSettings
from pipeline.demo import DEMO_END
from pipeline.discover import NEW_REASON_COLUMNS, propose_new_reasons
from pipeline.normalize import prepare_texts
from pipeline.predict import predict_reasons
from pipeline.tokenize import Tokenizer, read_stopwords, read_user_words
from pipeline.train import train_classifier

REMOVED = ("network_signal", "data_usage", "top_up")


@pytest.fixture(scope="module")
def night_without_three_reasons(demo_data, config):
    """The last demo night scored by a model that never saw three of the reasons."""
    labelled = demo_data.labelled[~demo_data.labelled["reason"].isin(REMOVED)].groupby("reason").head(400)
    result = train_classifier(
        labelled["text"], labelled["reason"], config.model.model_copy(update={"cv_folds": 0}), config.normalize,
        read_user_words(config.userdict),
    )
    day = demo_data.contacts[demo_data.contacts["started_at"].str[:10] == DEMO_END.isoformat()]
    scored = pd.concat([day, predict_reasons(result.model, day["text"], result.threshold)], axis=1)
    tokenizer = Tokenizer(read_user_words(config.userdict), read_stopwords(config.stopwords))
    tokens = pd.Series([tokenizer(text) for text in prepare_texts(scored["text"])], index=scored.index, dtype=object)
    return scored, tokens


def test_unknown_contacts_of_removed_reasons_come_back_as_proposals(night_without_three_reasons, demo_data, config):
    scored, tokens = night_without_three_reasons
    proposals, assigned = propose_new_reasons(scored, tokens, config.review, config.normalize.order_number_patterns)
    assert list(proposals.columns) == NEW_REASON_COLUMNS and len(proposals) >= 2
    truth = demo_data.truth.set_index("contact_id")["reason"]
    majorities = set()
    for number in proposals["proposal"]:
        members = scored.loc[assigned[assigned == number].index, "contact_id"].map(truth)
        majorities.add(members.value_counts().index[0])
    assert len(majorities & set(REMOVED)) >= 2, f"majority reasons of the proposals: {sorted(majorities)}"
    assert (proposals["contacts"] >= config.review.new_reason_min_contacts).all()
    assert proposals["contacts"].is_monotonic_decreasing and proposals["top_phrases"].str.len().gt(0).all()
    assert not proposals["examples"].str.contains(r"1[3-9]\d{9}").any()  # examples are PII-masked


def test_too_few_unknown_contacts_propose_nothing(night_without_three_reasons, config):
    scored, tokens = night_without_three_reasons
    known = scored[scored["reason"] != "unknown"]
    proposals, assigned = propose_new_reasons(known, tokens[known.index], ReviewSettings(), [])
    assert proposals.empty and list(proposals.columns) == NEW_REASON_COLUMNS and assigned.empty

import pandas as pd

from pipeline.predict import attach_taxonomy, predict_reasons, score_contacts
from pipeline.quadrants import reason_table


def test_low_confidence_becomes_unknown_but_keeps_its_candidate(trained):
    texts = pd.Series(["宽带断了，光猫红灯一直闪", "asdf qwer zxcv"])
    lenient = predict_reasons(trained.model, texts, threshold=0.0)
    assert (lenient["reason"] == lenient["reason_candidate"]).all()
    assert lenient["confidence"].iloc[0] > lenient["confidence"].iloc[1]  # a clear text beats gibberish
    strict = predict_reasons(trained.model, texts, threshold=float(lenient["confidence"].max()) + 1e-9)
    assert (strict["reason"] == "unknown").all()
    assert strict["reason_candidate"].tolist() == lenient["reason_candidate"].tolist()


def test_scoring_keeps_rows_and_adds_taxonomy_columns(trained, taxonomy, demo_data):
    contacts = demo_data.contacts.head(50)
    scored = score_contacts(trained.model, contacts, 0.35, reason_table(taxonomy))
    assert len(scored) == 50
    assert scored["contact_id"].tolist() == contacts["contact_id"].tolist()
    assert {"reason", "confidence", "root_cause", "quadrant", "action"} <= set(scored.columns)
    assert scored["confidence"].between(0, 1).all()


def test_labels_outside_the_taxonomy_are_unassigned(taxonomy):
    predictions = pd.DataFrame({"reason": ["lost_card", "unknown"], "confidence": [0.9, 0.1]})
    attached = attach_taxonomy(predictions, reason_table(taxonomy, 3, ("lost_card",)))
    assert attached["quadrant"].tolist() == ["unassigned", "unassigned"]


def test_empty_input_scores_to_an_empty_frame(trained):
    assert predict_reasons(trained.model, pd.Series([], dtype=object), 0.35).empty

"""Predict: reason and confidence per contact, ``unknown`` below the threshold, then the
root cause, quadrant and action that follow from the taxonomy."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from pipeline import schemas as s
from pipeline.config import UNKNOWN_REASON
from pipeline.rules import prediction_source

log = logging.getLogger(__name__)

CANDIDATE = "reason_candidate"


def predict_reasons(classifier, texts: pd.Series, threshold: float) -> pd.DataFrame:
    """The most probable reason and its probability; ``unknown`` when it is below ``threshold``.

    ``predicted_by`` says whether a trained model or the taxonomy's keyword rules decided.
    """
    texts = pd.Series(texts).fillna("").astype(str)
    if texts.empty:
        return pd.DataFrame({s.REASON: pd.Series(dtype=object), CANDIDATE: pd.Series(dtype=object), s.CONFIDENCE: pd.Series(dtype=float),
                             s.PREDICTED_BY: pd.Series(dtype=object)})
    probabilities = classifier.predict_proba(texts)
    best = probabilities.argmax(axis=1)
    candidate = np.asarray(classifier.classes_)[best].astype(object)
    # a flat distribution (keyword rules without a hit) names no candidate
    candidate[probabilities.max(axis=1) <= probabilities.min(axis=1)] = UNKNOWN_REASON
    confidence = probabilities[np.arange(len(best)), best]
    reason = np.where(confidence >= threshold, candidate, UNKNOWN_REASON)
    return pd.DataFrame(
        {s.REASON: reason, CANDIDATE: candidate, s.CONFIDENCE: confidence.astype(float), s.PREDICTED_BY: prediction_source(classifier)},
        index=texts.index,
    )


def attach_taxonomy(predictions: pd.DataFrame, reasons: pd.DataFrame) -> pd.DataFrame:
    """Add root cause, quadrant and action from the reason table (quadrants.reason_table)."""
    lookup = reasons.set_index("reason")
    known = predictions[s.REASON].isin(lookup.index)
    attached = predictions.copy()
    attached[s.ROOT_CAUSE] = predictions[s.REASON].map(lookup["default_root_cause"]).where(known, "unassigned")
    attached[s.QUADRANT] = predictions[s.REASON].map(lookup["quadrant"]).where(known, "unassigned")
    attached[s.ACTION] = predictions[s.REASON].map(lookup["action"]).where(known, "add the reason to the taxonomy")
    return attached


def score_contacts(
    classifier, contacts: pd.DataFrame, threshold: float, reasons: pd.DataFrame, root_cause_classifier=None
) -> pd.DataFrame:
    """Contacts in, contacts with reason, confidence, root cause, quadrant and action out.

    The root cause is the reason's default from the taxonomy, or, when a root-cause model was
    trained on labelled root causes, that model's prediction for recognised contacts.
    """
    predictions = attach_taxonomy(predict_reasons(classifier, contacts[s.TEXT], threshold), reasons)
    if root_cause_classifier is not None and len(contacts):
        recognised = predictions[s.REASON] != UNKNOWN_REASON
        predicted = pd.Series(root_cause_classifier.predict(contacts[s.TEXT].fillna("").astype(str)), index=predictions.index)
        predictions[s.ROOT_CAUSE] = predicted.where(recognised, predictions[s.ROOT_CAUSE])
    scored = pd.concat([contacts.drop(columns=[c for c in predictions.columns if c in contacts.columns]), predictions], axis=1)
    log.debug("score - %d contacts, %d unknown", len(scored), int((scored[s.REASON] == UNKNOWN_REASON).sum()))
    return scored

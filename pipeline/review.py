"""The human review loop: which contacts and labels deserve a person's look, and taking their
answers back into the labelled set.

``review export`` ranks candidates by one number, ``value``: the estimated probability that the
label a contact has now is wrong, so a reviewer's minutes go where a correction is most likely.

* ``label_error``: a training label the out-of-fold model disagrees with (confident learning,
  Northcutt et al. 2021: per-class thresholds on out-of-fold probabilities); value = 1 − the
  out-of-fold probability of the given label.
* ``disagreement``: the model and the taxonomy's keyword rules, both confident, name different
  reasons; value = the rules' odds against the model, ``r(1−m) / (r(1−m) + m(1−r))``.
* ``new_reason``: an unknown contact in a cluster proposed as a new reason (``discover``).
* ``low_confidence``: the rest of the unknown and least confident contacts; value = 1 − confidence.

``review import`` validates the filled ``correct_reason`` cells against the taxonomy, row by row,
and returns the labelled set with the reviewed rows added (or, for training rows, relabelled),
each with its provenance.
"""

from __future__ import annotations

import difflib
import logging

import numpy as np
import pandas as pd
from scipy.optimize import minimize_scalar
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import Pipeline
from sklearn.svm import LinearSVC

from pipeline import schemas as s
from pipeline.config import (
    UNKNOWN_REASON,
    ModelSettings,
    NormalizeSettings,
    ReviewSettings,
    Taxonomy,
)
from pipeline.errors import InputError
from pipeline.features import build_features
from pipeline.io import FORMULA_PREFIXES
from pipeline.pii import mask_pii_series
from pipeline.predict import CANDIDATE

log = logging.getLogger(__name__)

QUEUE_COLUMNS = [
    "rank", "kind", s.CONTACT_ID, "origin", "text_masked", "current_reason", s.CONFIDENCE,
    "suggested_reason", "value", "why", "correct_reason", "reviewer", "comment",
]
FILL_IN = ("correct_reason", "reviewer", "comment")
PROVENANCE = ("reviewer", "reviewed_at", "review_queue", "review_comment", "previous_reason")
KIND_ORDER = {"label_error": 0, "disagreement": 1, "new_reason": 2, "low_confidence": 3}
_TEXT_CHARS = 2000
PER_PROPOSAL = 5


# ---------------------------------------------------------------- label errors (confident learning)

def softmax(scores: np.ndarray) -> np.ndarray:
    shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def fit_temperature(scores: np.ndarray, given: np.ndarray) -> float:
    """The temperature whose softmax of ``scores`` best predicts the given labels (least log loss)."""
    rows = np.arange(len(given))

    def log_loss(log_temperature: float) -> float:
        probabilities = softmax(scores / np.exp(log_temperature))
        return float(-np.log(np.maximum(probabilities[rows, given], 1e-12)).mean())

    return float(np.exp(minimize_scalar(log_loss, bounds=(-5, 3), method="bounded").x))


def out_of_fold_probabilities(texts: pd.Series, labels: np.ndarray, model: Pipeline, folds: int, seed: int) -> np.ndarray:
    """Class probabilities of every row from models that did not see it: a linear model's
    out-of-fold scores, temperature-scaled into probabilities."""
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    scores = np.asarray(cross_val_predict(model, texts, labels, cv=splitter, method="decision_function"), dtype=float)
    if scores.ndim == 1:  # two classes: one score for the second
        scores = np.column_stack([-scores, scores]) / 2
    temperature = fit_temperature(scores, np.searchsorted(np.unique(labels), labels))
    return softmax(scores / temperature)


def find_label_issues(labels: np.ndarray, probabilities: np.ndarray, classes: np.ndarray) -> pd.DataFrame:
    """Confident learning on out-of-fold probabilities.

    A class's threshold is the mean probability the model gives it on rows labelled with it. A
    row is a likely error when, among the classes whose probability reaches their threshold, the
    most probable one is not its label. ``self_confidence`` (the probability of the given label)
    ranks the rows: the lower, the likelier the label is wrong.
    """
    given = np.searchsorted(classes, labels)
    rows = np.arange(len(labels))
    self_confidence = probabilities[rows, given]
    thresholds = np.array([probabilities[given == k, k].mean() if (given == k).any() else 1.0 for k in range(len(classes))])
    confident = np.where(probabilities >= thresholds, probabilities, -1.0)
    best = confident.argmax(axis=1)
    has_confident = confident.max(axis=1) >= 0
    return pd.DataFrame(
        {
            "self_confidence": self_confidence,
            "suggested_reason": classes[probabilities.argmax(axis=1)],
            "suggested_confidence": probabilities.max(axis=1),
            "likely_error": has_confident & (best != given),
        }
    )


def label_error_model(model: ModelSettings, normalize: NormalizeSettings, user_words: tuple[str, ...] = ()) -> Pipeline:
    """The project's text features with a plain linear SVM: fast enough to fit once per fold."""
    features = build_features(model.model_copy(update={"embeddings": "none"}), normalize, user_words)
    svm = LinearSVC(C=model.regularisation_c, class_weight="balanced", dual=True, max_iter=5000, random_state=model.seed)
    return Pipeline([*features.steps, ("classify", svm)])


def check_labels(texts: pd.Series, labels: pd.Series, model: Pipeline, folds: int, seed: int) -> pd.DataFrame:
    """Label issues of a labelled set, indexed like it; labels too rare to cross-validate are
    left out (``self_confidence`` NaN)."""
    labels = labels.astype(str)
    counts = labels.value_counts()
    checkable = labels.isin(counts[counts >= folds].index)
    if checkable.sum() < 2 * folds or labels[checkable].nunique() < 2:
        raise InputError(f"the label-error check needs at least two labels with {folds} examples each")
    skipped = sorted(counts[counts < folds].index)
    if skipped:
        log.warning("review - labels with fewer than %d examples are not checked: %s", folds, skipped)
    kept_labels = labels[checkable].to_numpy()
    probabilities = out_of_fold_probabilities(texts[checkable].fillna("").astype(str), kept_labels, model, folds, seed)
    issues = find_label_issues(kept_labels, probabilities, np.unique(kept_labels))
    issues.index = labels.index[checkable.to_numpy()]
    log.info("review - label check: %d of %d rows look mislabelled", int(issues["likely_error"].sum()), len(issues))
    return issues.reindex(labels.index)


# ---------------------------------------------------------------- the queue

def disagreement_value(model_confidence: np.ndarray, rules_confidence: np.ndarray) -> np.ndarray:
    """Probability the model is wrong when confident keyword rules name another reason."""
    against = rules_confidence * (1 - model_confidence)
    return against / np.maximum(against + model_confidence * (1 - rules_confidence), 1e-12)


def _entries(frame: pd.DataFrame, kind: str, origin: str, current, suggested, value, why) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "kind": kind,
            s.CONTACT_ID: frame[s.CONTACT_ID].astype(str).to_numpy(),
            "origin": origin,
            "text": frame[s.TEXT].to_numpy(),
            "current_reason": np.asarray(current, dtype=object),
            s.CONFIDENCE: frame[s.CONFIDENCE].to_numpy() if s.CONFIDENCE in frame else np.nan,
            "suggested_reason": np.asarray(suggested, dtype=object),
            "value": np.asarray(value, dtype=float),
            "why": list(why),
        }
    )


def scored_candidates(
    scored: pd.DataFrame, rules_probabilities: np.ndarray | None, rules_classes: np.ndarray | None,
    proposals: pd.Series | None, settings: ReviewSettings, origin: str,
) -> pd.DataFrame:
    """Queue entries from one night's scored contacts: disagreements, new reasons, low confidence."""
    parts = []
    confidence = scored[s.CONFIDENCE].to_numpy(dtype=float)
    by_rules = scored.get(s.PREDICTED_BY, pd.Series("model", index=scored.index)).fillna("model") == "rules"
    if rules_probabilities is not None and len(scored):
        rules_reason = rules_classes[rules_probabilities.argmax(axis=1)]
        rules_confidence = rules_probabilities.max(axis=1)
        model_reason = scored[CANDIDATE].to_numpy() if CANDIDATE in scored else scored[s.REASON].to_numpy()
        differ = (
            ~by_rules.to_numpy() & (rules_reason != model_reason)
            & (rules_confidence >= settings.disagreement_confidence) & (confidence >= settings.disagreement_confidence)
        )
        if differ.any():
            chosen = scored[differ]
            parts.append(_entries(
                chosen, "disagreement", origin, chosen[s.REASON], rules_reason[differ],
                disagreement_value(confidence[differ], rules_confidence[differ]),
                (f"model says {m} ({c:.2f}), keywords say {r} ({rc:.2f})" for m, c, r, rc in
                 zip(model_reason[differ], confidence[differ], rules_reason[differ], rules_confidence[differ])),
            ))
    if proposals is not None and len(proposals):
        grouped = proposals[proposals > 0]
        # a few contacts per proposal are enough to decide whether it is a new reason
        confidence_order = scored.loc[grouped.index, s.CONFIDENCE].sort_values(kind="mergesort").index
        grouped = grouped[confidence_order].groupby(grouped[confidence_order]).head(PER_PROPOSAL)
        chosen = scored.loc[grouped.index]
        parts.append(_entries(
            chosen, "new_reason", origin, chosen[s.REASON], chosen.get(CANDIDATE, chosen[s.REASON]),
            1 - chosen[s.CONFIDENCE].to_numpy(dtype=float),
            (f"unknown; in proposed new reason {n} (new_reasons.csv): label it, or name the new reason in comment" for n in grouped),
        ))
    taken = set().union(*(set(part[s.CONTACT_ID]) for part in parts)) if parts else set()
    rest = scored[~scored[s.CONTACT_ID].astype(str).isin(taken)]
    parts.append(_entries(
        rest, "low_confidence", origin, rest[s.REASON], rest.get(CANDIDATE, rest[s.REASON]),
        1 - rest[s.CONFIDENCE].to_numpy(dtype=float),
        (f"not recognised: confidence {c:.2f}" if r == UNKNOWN_REASON else f"low confidence {c:.2f}"
         for r, c in zip(rest[s.REASON], rest[s.CONFIDENCE])),
    ))
    return pd.concat(parts, ignore_index=True)


def labelled_candidates(labelled: pd.DataFrame, issues: pd.DataFrame, origin: str, share: float) -> pd.DataFrame:
    """Queue entries for likely label errors of the labelled set, at most ``share`` of it."""
    flagged = issues[issues["likely_error"].fillna(False).astype(bool)].sort_values("self_confidence", kind="mergesort")
    flagged = flagged.head(max(1, int(share * len(labelled))))
    chosen = labelled.loc[flagged.index].assign(**{s.CONTACT_ID: labelled_keys(labelled).loc[flagged.index]})
    return _entries(
        chosen.assign(**{s.CONFIDENCE: flagged["self_confidence"].to_numpy()}), "label_error", origin,
        chosen[s.REASON], flagged["suggested_reason"], 1 - flagged["self_confidence"].to_numpy(),
        (f"labelled {g}, but out-of-fold the model gives it {p:.2f} and {sug} {sp:.2f}" for g, p, sug, sp in
         zip(chosen[s.REASON], flagged["self_confidence"], flagged["suggested_reason"], flagged["suggested_confidence"])),
    )


def build_queue(candidates: list[pd.DataFrame], size: int, order_patterns: list[str]) -> pd.DataFrame:
    """One ranked, de-duplicated queue with empty columns for the reviewer to fill in."""
    frames = [c for c in candidates if len(c)]
    if not frames:
        return pd.DataFrame(columns=QUEUE_COLUMNS)
    queue = pd.concat(frames, ignore_index=True)
    queue["order"] = queue["kind"].map(KIND_ORDER)
    queue = queue.sort_values(["value", "order"], ascending=[False, True], kind="mergesort")
    queue = queue.drop_duplicates([s.CONTACT_ID, "origin"]).head(size).reset_index(drop=True)
    queue["text_masked"] = mask_pii_series(queue["text"], tuple(order_patterns)).str.slice(0, _TEXT_CHARS)
    queue[s.CONFIDENCE] = queue[s.CONFIDENCE].astype(float).round(4)
    queue["value"] = queue["value"].round(4)
    queue["rank"] = range(1, len(queue) + 1)
    for column in FILL_IN:
        queue[column] = ""
    log.info("review - queue of %d: %s", len(queue), queue["kind"].value_counts().to_dict())
    return queue[QUEUE_COLUMNS]


def labelled_keys(labelled: pd.DataFrame) -> pd.Series:
    """A row's id in the queue: its contact id, or ``row-<n>`` for files without one."""
    rows = "row-" + labelled[s.SOURCE_ROW].astype(str) if s.SOURCE_ROW in labelled else "row-" + pd.Series(labelled.index + 1, index=labelled.index).astype(str)
    if s.CONTACT_ID not in labelled:
        return rows
    ids = labelled[s.CONTACT_ID].astype("string").fillna("").str.strip()
    return ids.where(ids != "", rows).astype(str)


# ---------------------------------------------------------------- import

def _unescape(value: object) -> str:
    """Undo io.escape_formulas: a leading apostrophe before a formula character."""
    text = "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)
    return text[1:] if len(text) > 1 and text[0] == "'" and text[1] in "".join(FORMULA_PREFIXES) else text


def reason_lookup(taxonomy: Taxonomy) -> dict[str, str]:
    """What a reviewer may type for a reason: its id, Chinese or English name (any case)."""
    lookup = {}
    for reason in taxonomy.reasons:
        for name in (reason.id, reason.name_zh, reason.name_en):
            lookup[name.strip().lower()] = reason.id
    return lookup


def validate_reviews(queue: pd.DataFrame, taxonomy: Taxonomy, reviewer: str | None) -> tuple[pd.DataFrame, list[str]]:
    """Reviewed rows (``correct_reason`` filled) with their reason ids, and one message per bad row.

    Row numbers are the spreadsheet's: the header is row 1.
    """
    lookup = reason_lookup(taxonomy)
    filled = queue[queue["correct_reason"].map(_unescape).str.strip() != ""] if "correct_reason" in queue else queue.iloc[:0]
    problems, reviewed = [], []
    for index, row in filled.iterrows():
        where = f"row {int(row[s.SOURCE_ROW]) + 1 if s.SOURCE_ROW in row else index + 2} (contact {row.get(s.CONTACT_ID, '?')})"
        answer = _unescape(row["correct_reason"]).strip()
        reason = lookup.get(answer.lower())
        who = _unescape(row.get("reviewer")).strip() or (reviewer or "")
        if reason is None:
            close = difflib.get_close_matches(answer.lower(), list(lookup), n=1, cutoff=0.6)
            hint = f"; did you mean '{lookup[close[0]]}'?" if close else "; use a reason id from the taxonomy"
            problems.append(f"{where}: '{answer}' is not a reason in the taxonomy{hint}")
        elif not who:
            problems.append(f"{where}: no reviewer; fill the reviewer column or pass --reviewer")
        elif not _unescape(row.get("text_masked")).strip() and row.get("kind") != "label_error":
            problems.append(f"{where}: the text is empty; keep the text_masked column as exported")
        else:
            reviewed.append({**row.to_dict(), "reason_id": reason, "reviewer_name": who})
    return pd.DataFrame(reviewed), problems


def merge_reviews(labelled: pd.DataFrame, reviewed: pd.DataFrame, queue_name: str, reviewed_at: str) -> tuple[pd.DataFrame, dict]:
    """The labelled set with reviewed training rows relabelled and reviewed contacts appended.

    Every touched row records who reviewed it, when, from which queue, and the label it had.
    """
    merged = labelled.copy()
    for column in PROVENANCE:
        if column not in merged:
            merged[column] = ""
    keys = labelled_keys(merged)
    counts = {"relabelled": 0, "added": 0}
    new_rows = []
    for row in reviewed.itertuples(index=False):
        provenance = {
            "reviewer": row.reviewer_name, "reviewed_at": reviewed_at, "review_queue": queue_name,
            "review_comment": _unescape(getattr(row, "comment", "")), "previous_reason": _unescape(row.current_reason),
        }
        matches = keys.index[keys == str(row.contact_id)]
        if len(matches):
            merged.loc[matches, s.REASON] = row.reason_id
            for column, value in provenance.items():
                merged.loc[matches, column] = value
            counts["relabelled"] += 1
        else:
            new_rows.append({s.CONTACT_ID: str(row.contact_id), s.TEXT: _unescape(row.text_masked), s.REASON: row.reason_id, **provenance})
            counts["added"] += 1
    if new_rows:
        merged = pd.concat([merged, pd.DataFrame(new_rows)], ignore_index=True)
    return merged, counts

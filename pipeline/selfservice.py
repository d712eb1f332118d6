"""Self-service candidates: automate-quadrant reasons whose agent answers are short and alike.

When agents give every customer of a reason nearly the same short answer, an FAQ entry, an app
flow or a proactive notice can give it instead. The measure: over the window's transcripts of
the reason, the median length of the agent's answer (greetings and closings removed) and how
alike the answers are (mean cosine similarity of each answer's character n-grams to the
reason's centroid). Ranked by annual prize × alikeness.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer

from pipeline import schemas as s
from pipeline.normalize import normalize_text, split_turns

MIN_TRANSCRIPTS = 20
SAMPLE = 400  # answers per reason: plenty for a stable similarity, cheap on a large window


def agent_answer(text: str) -> str:
    """The agent's turns of a transcript, normalised, formulas removed ("" when untagged)."""
    turns = split_turns(text)
    if not any(role == "agent" for role, _ in turns):
        return ""
    return normalize_text(text, view="agent")


def answer_alikeness(answers: list[str]) -> float:
    """Mean cosine similarity of each answer to the centroid of all (0 = all different, 1 = same)."""
    vectors = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 3), sublinear_tf=True).fit_transform(answers)
    centroid = np.asarray(vectors.mean(axis=0)).ravel()
    norm = np.linalg.norm(centroid)
    return float((vectors @ centroid).mean() / norm) if norm else 0.0


def self_service_members(in_window: pd.DataFrame, reason_rows: pd.DataFrame, seed: int = 0) -> dict[str, pd.Index]:
    """The rows of ``in_window`` whose transcripts are compared, per automate reason (configured
    or observed): all of them, or a sample of :data:`SAMPLE`."""
    automate = reason_rows[(reason_rows["quadrant"] == "automate") | (reason_rows.get("observed_quadrant") == "automate")]
    members = {}
    for reason in automate[s.REASON]:
        rows = in_window.index[in_window[s.REASON] == reason].to_series()
        members[reason] = (rows.sample(SAMPLE, random_state=seed) if len(rows) > SAMPLE else rows).index
    return members


def self_service_candidates(
    in_window: pd.DataFrame,
    reason_rows: pd.DataFrame,
    seed: int = 0,
    texts: Callable[[pd.Index], pd.Series] | None = None,
    members: dict[str, pd.Index] | None = None,
) -> pd.DataFrame:
    """One row per automate reason (configured or observed) with enough agent transcripts.

    ``texts`` gives the texts of rows of ``in_window`` by index, when it holds none;
    ``members`` the rows compared (default: :func:`self_service_members`).
    """
    texts_of = texts or (lambda index: in_window.loc[index, s.TEXT])
    members = self_service_members(in_window, reason_rows, seed) if members is None else members
    columns = ["rank", "reason", "name_zh", "name_en", "quadrant", "observed_quadrant", "transcripts",
               "agent_answer_median_chars", "answer_alikeness", "annual_prize", "currency", "self_service", "score"]
    rows = []
    for reason in reason_rows[reason_rows[s.REASON].isin(list(members))].itertuples(index=False):
        texts = texts_of(members[reason.reason])
        answers = [a for a in map(agent_answer, texts.fillna("").astype(str)) if a]
        if len(answers) < MIN_TRANSCRIPTS:
            continue
        alikeness = answer_alikeness(answers)
        rows.append(
            {
                "reason": reason.reason, "name_zh": reason.name_zh, "name_en": reason.name_en,
                "quadrant": reason.quadrant, "observed_quadrant": getattr(reason, "observed_quadrant", ""),
                "transcripts": len(answers),
                "agent_answer_median_chars": int(np.median([len(a) for a in answers])),
                "answer_alikeness": round(alikeness, 3),
                "annual_prize": reason.annual_prize, "currency": reason.currency,
                "self_service": getattr(reason, "self_service", ""),
                "score": round(float(reason.annual_prize) * alikeness, 0),
            }
        )
    candidates = pd.DataFrame(rows, columns=[c for c in columns if c != "rank"])
    candidates = candidates.sort_values("score", ascending=False, kind="mergesort").reset_index(drop=True)
    candidates.insert(0, "rank", range(1, len(candidates) + 1))
    return candidates[columns]

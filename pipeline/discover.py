"""New reasons: the night's ``unknown`` contacts grouped into proposed reasons.

A taxonomy drifts when a new product or fault brings contacts that fit no reason; the model
then calls them ``unknown``. Clustering those contacts (TF-IDF of their tokens → LSA → k-means,
``k`` chosen by silhouette) and describing each cluster by its distinctive phrases, size and
a few masked examples turns the pile into proposals a person can accept, merge or ignore
(``new_reasons.csv``).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import silhouette_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import Normalizer
from threadpoolctl import threadpool_limits

from pipeline import schemas as s
from pipeline.config import UNKNOWN_REASON, ReviewSettings
from pipeline.hotspots import distinctive_phrases
from pipeline.normalize import select_view
from pipeline.pii import mask_pii_series
from pipeline.predict import CANDIDATE

log = logging.getLogger(__name__)

NEW_REASON_COLUMNS = [
    "proposal", "contacts", "share_of_unknown", "top_phrases", "closest_reason", "mean_confidence",
    "example_contact_ids", "examples",
]
_EXAMPLES = 3
_EXAMPLE_CHARS = 200
_BACKGROUND_LIMIT = 20_000


def _as_tokens(tokens: list[str]) -> list[str]:
    return tokens


def embed_tokens(tokens: list[list[str]], seed: int) -> np.ndarray:
    """Unit-length LSA vectors of token lists (TF-IDF → truncated SVD)."""
    tfidf = TfidfVectorizer(analyzer=_as_tokens, min_df=2, sublinear_tf=True)
    matrix = tfidf.fit_transform(tokens)
    if matrix.shape[1] < 3:
        return Normalizer().fit_transform(matrix).toarray()
    components = min(50, matrix.shape[1] - 1, matrix.shape[0] - 1)
    with np.errstate(invalid="ignore", divide="ignore"):  # explained-variance ratio of identical texts: 0/0
        return make_pipeline(TruncatedSVD(components, random_state=seed), Normalizer()).fit_transform(matrix)


def cluster_texts(vectors: np.ndarray, max_clusters: int, seed: int) -> np.ndarray:
    """k-means labels with ``k`` in 2…``max_clusters`` chosen by the best silhouette (cosine)."""
    best_labels, best_score = np.zeros(len(vectors), dtype=int), -1.0
    distinct = len(np.unique(vectors.round(9), axis=0))  # k-means cannot find more clusters than points
    for k in range(2, min(max_clusters, distinct - 1) + 1):
        labels = KMeans(k, n_init=4, random_state=seed).fit_predict(vectors)
        if len(set(labels)) < 2:
            continue
        score = silhouette_score(vectors, labels, metric="cosine", sample_size=min(len(vectors), 2000), random_state=seed)
        if score > best_score:
            best_labels, best_score = labels, score
    log.debug("discover - %d clusters (silhouette %.3f)", len(set(best_labels)), best_score)
    return best_labels


def propose_new_reasons(
    day: pd.DataFrame, tokens: pd.Series, settings: ReviewSettings, order_patterns: list[str], seed: int = 42,
    view: str = "customer",
) -> tuple[pd.DataFrame, pd.Series]:
    """Clusters of the day's unknown contacts as proposed reasons, largest first.

    ``tokens`` holds each row's token list (same index as ``day``); a cluster's phrases are the
    tokens most over-represented in it against every other contact of the day. Also returns
    each unknown contact's proposal number (0: in no proposal), indexed like ``day``. Examples
    show the ``view`` turns (what the classifier reads), PII-masked.
    """
    unknown = day[day[s.REASON] == UNKNOWN_REASON]
    assigned = pd.Series(0, index=unknown.index, dtype=int)
    if len(unknown) < max(2 * settings.new_reason_min_contacts, 4):
        log.info("discover - %d unknown contacts: too few to propose new reasons", len(unknown))
        return pd.DataFrame(columns=NEW_REASON_COLUMNS), assigned
    unknown_tokens = [list(tokens[i]) for i in unknown.index]
    # One OpenMP/BLAS thread: on a few thousand short vectors threads mostly wait for each other,
    # and with anything else running on the machine they spin (k-means of 2,129 × 50: 0.15 s on
    # one thread, 17 s on two).
    with threadpool_limits(1):
        vectors = embed_tokens(unknown_tokens, seed)
        labels = cluster_texts(vectors, settings.new_reason_max_clusters, seed)
    rows, clusters = [], []
    # the background of the phrase comparison: every contact of the day, sampled on big nights
    background = tokens if len(tokens) <= _BACKGROUND_LIMIT else tokens.sample(_BACKGROUND_LIMIT, random_state=seed)
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        if len(members) < settings.new_reason_min_contacts:
            continue
        chosen = unknown.iloc[members]
        clusters.append(chosen.index)
        inside = set(chosen.index)
        others = [list(t) for i, t in background.items() if i not in inside]
        phrases = distinctive_phrases([unknown_tokens[m] for m in members], others, top=8)
        centre = vectors[members].mean(axis=0)
        typical = chosen.iloc[np.argsort(-(vectors[members] @ centre))[:_EXAMPLES]]
        said = typical[s.TEXT].map(lambda text: select_view(text, view).replace("\n", " / "))
        masked = mask_pii_series(said, tuple(order_patterns)).str.slice(0, _EXAMPLE_CHARS)
        closest = chosen[CANDIDATE].value_counts().drop(UNKNOWN_REASON, errors="ignore") if CANDIDATE in chosen else pd.Series(dtype=int)
        rows.append(
            {
                "contacts": len(members),
                "share_of_unknown": round(len(members) / len(unknown), 4),
                "top_phrases": " | ".join(phrases),
                "closest_reason": f"{closest.index[0]} ({closest.iloc[0]})" if len(closest) else "",
                "mean_confidence": round(float(chosen[s.CONFIDENCE].mean()), 3),
                "example_contact_ids": " ".join(typical[s.CONTACT_ID].astype(str)),
                "examples": " || ".join(masked),
            }
        )
    proposals = pd.DataFrame(rows, columns=NEW_REASON_COLUMNS[1:])
    order = np.argsort(-proposals["contacts"].to_numpy(), kind="stable")
    proposals = proposals.iloc[order].reset_index(drop=True)
    proposals.insert(0, "proposal", range(1, len(proposals) + 1))
    for number, position in enumerate(order, start=1):
        assigned[clusters[position]] = number
    log.info("discover - %d unknown contacts, %d proposed new reasons", len(unknown), len(proposals))
    return proposals, assigned

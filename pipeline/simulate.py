"""Synthetic contact streams with known truth, for validating the spike test.

Stationary Poisson counts per reason with a weekly pattern, and chosen multipliers on the last
day. Used by the hotspot tests and ``benchmarks/bench_hotspots.py``. Also label noise with a
known answer (``flip_labels``) for the review loop's label-error check.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

from pipeline import schemas as s

WEEKDAY_PATTERN = np.array([1.15, 1.1, 1.05, 1.0, 1.0, 0.85, 0.7])  # Monday … Sunday


def synthetic_stream(
    seed: int,
    as_of: date,
    reasons: int = 20,
    days: int = 70,
    spikes: dict[int, float] | None = None,
    daily_means: tuple[float, float] = (30, 200),
) -> pd.DataFrame:
    """Scored-looking contacts over ``days`` ending on ``as_of``; ``spikes`` maps a reason index
    to the multiplier of its expected count on ``as_of``."""
    rng = np.random.default_rng(seed)
    means = np.linspace(*daily_means, reasons)
    dates = [as_of - timedelta(days=days - 1 - offset) for offset in range(days)]
    weekday = WEEKDAY_PATTERN[[d.weekday() for d in dates]]
    multiplier = np.ones((days, reasons))
    for reason, factor in (spikes or {}).items():
        multiplier[-1, reason] = factor
    counts = rng.poisson(means[None, :] * weekday[:, None] * multiplier)
    day_index, reason_index = np.nonzero(counts)
    repeats = counts[day_index, reason_index]
    frame = pd.DataFrame(
        {
            s.CONTACT_DATE: np.repeat([d.isoformat() for d in np.array(dates)[day_index]], repeats),
            s.REASON: np.repeat([f"r{r:02d}" for r in reason_index], repeats),
        }
    )
    frame[s.CONTACT_ID] = [f"c{i}" for i in range(len(frame))]
    frame[s.CONFIDENCE] = 0.9
    frame[s.EFFORT_SCORE] = 1
    frame["effort_repeat_contact"] = False
    frame["effort_transfer"] = False
    frame[s.HANDLE_TIME_S] = 300.0
    return frame


def synthetic_reasons(count: int = 20) -> pd.DataFrame:
    """A reason table (as ``quadrants.reason_table`` builds) for the synthetic reasons."""
    quadrants = ["eliminate", "automate", "simplify", "leverage"]
    return pd.DataFrame(
        {
            "reason": [f"r{r:02d}" for r in range(count)],
            "name_zh": [f"原因{r}" for r in range(count)],
            "name_en": [f"reason {r}" for r in range(count)],
            "quadrant": [quadrants[r % 4] for r in range(count)],
        }
    )


def flip_labels(labels: pd.Series, share: float, seed: int) -> tuple[pd.Series, np.ndarray]:
    """``labels`` with about ``share`` of them replaced by another label chosen at random, and
    which rows were flipped."""
    rng = np.random.default_rng(seed)
    classes = np.unique(labels)
    flipped = rng.random(len(labels)) < share
    noisy = labels.to_numpy().copy()
    for i in np.flatnonzero(flipped):
        noisy[i] = rng.choice(classes[classes != noisy[i]])
    return pd.Series(noisy, index=labels.index), flipped

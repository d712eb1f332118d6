"""The effort score against real customer satisfaction (STC-3 helpdesk dialogues).

    python benchmarks/bench_effort.py [--data ../shared/data/stc3_helpdesk] [--fit]

Each of the 3,000 Weibo customer–helpdesk dialogues was rated by 19 annotators; S is their mean
customer-satisfaction rating (−2…2). The dialogues are split in two by a hash of their id: the
*fit* half may be used to choose the score's two text weights (``--fit`` searches them on that
half and prints them), the *held-out* half is where the figures are measured. Printed: Spearman
correlation with S on the held-out half of the shipped effort score, of the customer's length
alone (the baseline to beat), and of the markers alone.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from pipeline import schemas as s
from pipeline.config import load_config
from pipeline.effort import detect_effort, effort_score, text_signals

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "stc3_helpdesk"
TAGS = {"customer": "客户", "helpdesk": "客服"}
GRID = np.round(np.arange(0, 2.01, 0.25), 2)


def load_dialogues(folder: Path) -> pd.DataFrame:
    """One row per dialogue: id, transcript with speaker tags, mean S, and its half (fit/held-out)."""
    records = json.loads((folder / "dialogues_cn.json").read_text(encoding="utf-8"))
    rows = []
    for record in records:
        text = "\n".join(f"{TAGS.get(turn['sender'], '客户')}：{' '.join(turn['utterances'])}" for turn in record["turns"])
        satisfaction = float(np.mean([a["quality"]["S"] for a in record["annotations"]]))
        held_out = int(hashlib.sha256(record["id"].encode()).hexdigest(), 16) % 2 == 1
        rows.append({s.CONTACT_ID: record["id"], s.TEXT: text, "S": satisfaction, "held_out": held_out})
    return pd.DataFrame(rows)


def rho(score, satisfaction) -> float:
    return float(spearmanr(score, satisfaction)[0])


def held_out_figures(dialogues: pd.DataFrame) -> dict[str, float]:
    """Spearman correlations with S on the held-out half (shipped config weights)."""
    test = dialogues[dialogues["held_out"]].reset_index(drop=True)
    settings = load_config().effort
    effort = detect_effort(test.assign(**{s.STARTED_AT: "2026-01-01"}), settings)
    signals = text_signals(test[s.TEXT], settings.reference_length)
    markers_only = effort_score(signals, settings.model_copy(update={"unconfirmed_weight": 0.0, "length_weight": 0.0}))
    length = test[s.TEXT].str.len()
    return {
        "dialogues": len(test),
        "effort_score": rho(effort[s.EFFORT_SCORE], test["S"]),
        "length_only": rho(length, test["S"]),
        "markers_only": rho(markers_only, test["S"]),
        "share_high_effort": float((effort[s.EFFORT_SCORE] >= settings.high_effort_score).mean()),
    }


def fit_weights(dialogues: pd.DataFrame) -> tuple[float, float, float]:
    """Grid search of the two text weights on the fit half only, maximising −Spearman.

    Bounded so that neither signal alone lifts a contact to the high-effort threshold: an
    unconfirmed answer or a long message is weak evidence on its own.
    """
    train = dialogues[~dialogues["held_out"]].reset_index(drop=True)
    settings = load_config().effort
    signals = text_signals(train[s.TEXT], settings.reference_length)
    ceiling = settings.high_effort_score - 1
    best = (0.0, 0.0, 0.0)
    for unconfirmed, length in itertools.product(GRID, GRID):
        if unconfirmed >= ceiling or length * 3 >= ceiling:
            continue
        trial = settings.model_copy(update={"unconfirmed_weight": float(unconfirmed), "length_weight": float(length)})
        correlation = rho(effort_score(signals, trial), train["S"])
        if correlation < best[2]:
            best = (float(unconfirmed), float(length), correlation)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--fit", action="store_true", help="search the two text weights on the fit half and print them")
    args = parser.parse_args()
    if not (args.data / "dialogues_cn.json").exists():
        print(f"skipped: {args.data}/dialogues_cn.json not present")
        return 0
    dialogues = load_dialogues(args.data)
    if args.fit:
        unconfirmed, length, correlation = fit_weights(dialogues)
        print(f"fit half ({(~dialogues['held_out']).sum()} dialogues): unconfirmed_weight={unconfirmed} "
              f"length_weight={length} (Spearman {correlation:+.3f} on the fit half)")
    figures = held_out_figures(dialogues)
    print(f"held-out half: {figures['dialogues']} dialogues, Spearman with mean satisfaction S")
    print(f"  effort score (shipped weights) {figures['effort_score']:+.3f}")
    print(f"  markers only                   {figures['markers_only']:+.3f}")
    print(f"  dialogue length only           {figures['length_only']:+.3f}")
    print(f"  share with score >= high_effort_score: {figures['share_high_effort']:.0%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

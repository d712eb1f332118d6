"""Label-error check on Banking77 with a known share of training labels flipped at random.

    python benchmarks/bench_label_errors.py [--noise 0.1] [--budget 0.15] [--rows N]

Flips ``--noise`` of the training labels to another intent chosen at random, runs the review
loop's out-of-fold check (the project's text features, a linear SVM, ``review.label_error_folds``
folds) and prints the share of flipped rows found in the ``--budget`` lowest-ranked rows, the
precision and recall of the rows it flags, and the time. Skips when ../shared/data is absent.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.config import load_config
from pipeline.review import check_labels, label_error_model
from pipeline.simulate import flip_labels
from pipeline.tokenize import read_user_words

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "banking77" / "train.csv"


def found_in_budget(self_confidence: pd.Series, flipped: np.ndarray, budget: float) -> float:
    """Share of the flipped rows among the ``budget`` share of rows ranked most suspect."""
    order = np.argsort(self_confidence.to_numpy(), kind="stable")[: int(budget * len(self_confidence))]
    return float(flipped[order].sum() / max(flipped.sum(), 1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--noise", type=float, default=0.10)
    parser.add_argument("--budget", type=float, default=0.15)
    parser.add_argument("--rows", type=int, help="a random sample of N training rows (default: all)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    if not DATA.exists():
        print(f"skipped: {DATA} not present")
        return 0
    train = pd.read_csv(DATA).dropna(subset=["text"])
    if args.rows:
        train = train.sample(n=args.rows, random_state=args.seed)
    config = load_config()
    noisy, flipped = flip_labels(train["category"].astype(str), args.noise, args.seed)
    started = time.perf_counter()
    model = label_error_model(config.model, config.normalize, read_user_words(config.userdict))
    issues = check_labels(train["text"], noisy, model, config.review.label_error_folds, config.model.seed)
    seconds = time.perf_counter() - started
    flagged = issues["likely_error"].fillna(False).to_numpy(dtype=bool)
    print(f"banking77 train: {len(train)} rows, {int(flipped.sum())} labels flipped ({args.noise:.0%})")
    print(f"flipped rows in the top {args.budget:.0%}: {found_in_budget(issues['self_confidence'], flipped, args.budget):.3f}")
    print(f"flagged as likely errors: {int(flagged.sum())}, precision {flipped[flagged].mean():.3f}, recall {flagged[flipped].mean():.3f}")
    print(f"check time: {seconds:.1f} s ({config.review.label_error_folds} folds)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The duplicate check as the store ages: time and peak memory of checking one night's ids
against the ids earlier nights stored.

A store of ``--days`` nights of ``--per-day`` contacts each (the contact_id column and a short
text, one ``contact_date=D/batch=D.parquet`` file a night) is written once; then, each in a
child process of its own, one night of ``--per-day`` ids dated the run date (1 % of them sent
again from the night before, so some are rejected) is checked in chunks of 5,000 rows, as
``run`` checks them:

* **window** - ``ingest.duplicate_window_days`` (default 1): only the partitions within the
  window of the rows' dates are read;
* **whole store** - every stored id, as every run read them before the window (the check a
  window of ten years gives on this store).

    python benchmarks/bench_store_age.py [--days 1 30 90] [--per-day 1000000]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from bench_nightly import measure
from pipeline.store import batch_path, stored_ids

RUN_DATE = date(2026, 11, 20)
CHUNK = 5_000


def night_ids(night: int, per_day: int) -> pa.Array:
    """Ids of the night ``night`` days before the run date: ``N<night>-<number>``."""
    numbers = pa.array(np.arange(per_day)).cast(pa.string())
    return pc.binary_join_element_wise(f"N{night:05d}", numbers, "-")


def write_store(store: Path, days: int, per_day: int) -> None:
    for night in range(1, days + 1):
        contact_date = (RUN_DATE - timedelta(days=night)).isoformat()
        path = batch_path(store, contact_date, contact_date)
        if path.exists():
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        ids = night_ids(night, per_day)
        pq.write_table(pa.table({"contact_id": ids, "text": pa.array(["一段对话"] * per_day)}), path)


def check(store: str, window_days: int, per_day: int) -> None:
    """The child: one night's ids checked chunk by chunk; prints seconds and rejects as JSON."""
    started = time.perf_counter()
    known = stored_ids(Path(store), RUN_DATE.isoformat(), window_days)
    tonight = night_ids(0, per_day).to_pandas()
    again = night_ids(1, per_day // 100).to_pandas()  # sent again from the night before
    ids = pd.concat([tonight.iloc[: per_day - len(again)], again], ignore_index=True)
    days = np.full(len(ids), np.datetime64(RUN_DATE.isoformat(), "D"))
    rejected = 0
    for first in range(0, len(ids), CHUNK):
        rejected += int(known.contains(ids.iloc[first : first + CHUNK], days[first : first + CHUNK]).sum())
    seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "rejected": rejected, "dates_read": len(known.loaded)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, nargs="+", default=[1, 30, 90], help="nights the store holds (default 1 30 90)")
    parser.add_argument("--per-day", type=int, default=1_000_000, help="contacts a night (default 1000000)")
    parser.add_argument("--window-days", type=int, default=1, help="ingest.duplicate_window_days (default 1)")
    parser.add_argument("--check-child", nargs=3, metavar=("STORE", "WINDOW", "PER_DAY"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.check_child:
        check(args.check_child[0], int(args.check_child[1]), int(args.check_child[2]))
        return

    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-store-age-") as temporary:
        store = Path(temporary) / "store"
        for days in sorted(args.days):
            write_store(store, days, args.per_day)
            print(f"store of {days} nights × {args.per_day:,} contacts written", file=sys.stderr)
            for name, window in (("window", args.window_days), ("whole store", 3660)):
                run = measure([sys.executable, __file__, "--check-child", str(store), str(window), str(args.per_day)])
                result = json.loads(run["stdout"].strip().splitlines()[-1])
                rows.append({"days": days, "check": name, **result, "rss": run["largest_rss"]})
                print_table(rows)


def print_table(rows: list[dict]) -> None:
    print(f"\n{'stored nights':>14}  {'check':<12}{'dates read':>11}{'seconds':>9}{'peak RSS':>10}{'rejected':>10}")
    for row in rows:
        print(f"{row['days']:>14}  {row['check']:<12}{row['dates_read']:>11}{row['seconds']:>9.1f}{row['rss'] / 2**20:>7.0f} MiB{row['rejected']:>10,}")


if __name__ == "__main__":
    main()

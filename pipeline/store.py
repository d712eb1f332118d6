"""The scored-contact store: Parquet files partitioned by contact date.

Layout: ``<store>/contact_date=YYYY-MM-DD/batch=<run date>.parquet``. A run owns the files of
its batch; re-running the same date replaces exactly those files (each one atomically), so a
rerun never double-counts and late rows from another day's file are kept.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from pipeline import schemas as s
from pipeline.io import write_parquet

log = logging.getLogger(__name__)

PARTITION = "contact_date="


def batch_files(store: Path, batch: str) -> list[Path]:
    return sorted(Path(store).glob(f"{PARTITION}*/batch={batch}.parquet"))


def write_batch(scored: pd.DataFrame, store: Path, batch: str) -> list[Path]:
    """Replace the batch's files with ``scored``, one file per contact date."""
    store = Path(store)
    written = []
    for contact_date, rows in scored.groupby(s.CONTACT_DATE, sort=True):
        target = store / f"{PARTITION}{contact_date}" / f"batch={batch}.parquet"
        written.append(write_parquet(rows.drop(columns=[s.CONTACT_DATE]).reset_index(drop=True), target))
    for stale in set(batch_files(store, batch)) - set(written):
        stale.unlink()
    log.info("store - batch %s: %d contacts in %d partitions", batch, len(scored), len(written))
    return written


def read_store(
    store: Path, dates: list[str] | None = None, columns: list[str] | None = None, except_batch: str | None = None
) -> pd.DataFrame:
    """Scored contacts of the given dates (all dates when None), with ``contact_date``; without
    the files of ``except_batch`` (a rerun is about to replace them: no trace of them may count)."""
    frames = []
    for folder in sorted(Path(store).glob(f"{PARTITION}*")):
        contact_date = folder.name[len(PARTITION):]
        if dates is not None and contact_date not in dates:
            continue
        for path in sorted(folder.glob("batch=*.parquet")):
            if path.name == f"batch={except_batch}.parquet":
                continue
            # optional columns (customer_id, channel …) are absent when the input had none
            present = None if columns is None else [c for c in columns if c in pq.read_schema(path).names]
            frame = pd.read_parquet(path, columns=present)
            frames.append(frame.assign(**{s.CONTACT_DATE: contact_date}))
    if not frames:
        return pd.DataFrame(columns=[*(columns or []), s.CONTACT_DATE])
    return pd.concat(frames, ignore_index=True)


def stored_ids(store: Path, except_batch: str) -> frozenset[str]:
    """Contact ids stored by every batch but ``except_batch`` (which a rerun replaces)."""
    ids: set[str] = set()
    for path in Path(store).glob(f"{PARTITION}*/batch=*.parquet"):
        if path.name != f"batch={except_batch}.parquet":
            ids.update(pd.read_parquet(path, columns=[s.CONTACT_ID])[s.CONTACT_ID].astype(str))
    return frozenset(ids)

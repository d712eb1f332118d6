"""The scored-contact store: Parquet files partitioned by contact date.

Layout: ``<store>/contact_date=YYYY-MM-DD/batch=<run date>.parquet``. A run owns the files of
its batch; re-running the same date replaces exactly those files (written under temporary names
and renamed once all are written, see :func:`pipeline.batch.finish_parts`), so a rerun never
double-counts and late rows from another day's file are kept.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipeline import schemas as s
from pipeline.effort import TIMELINE_COLUMNS
from pipeline.ingest import DatedIds, IdSet
from pipeline.labels import as_strings, is_categorical

log = logging.getLogger(__name__)

PARTITION = "contact_date="


def batch_files(store: Path, batch: str) -> list[Path]:
    return sorted(Path(store).glob(f"{PARTITION}*/batch={batch}.parquet"))


def batch_path(store: Path, contact_date: str, batch: str) -> Path:
    return Path(store) / f"{PARTITION}{contact_date}" / f"batch={batch}.parquet"


def drop_stale(store: Path, batch: str, written: list[Path]) -> None:
    """Remove the batch's files of contact dates it no longer has (after a rerun)."""
    for stale in set(batch_files(store, batch)) - set(written):
        stale.unlink()


def store_files(store: Path, dates: list[str] | None = None, except_batch: str | None = None) -> list[tuple[str, Path]]:
    """(contact date, file) of the given dates (all when None), in the order the store is read;
    without the files of ``except_batch`` (a rerun is about to replace them: no trace may count)."""
    files = []
    for folder in sorted(Path(store).glob(f"{PARTITION}*")):
        contact_date = folder.name[len(PARTITION):]
        if dates is None or contact_date in dates:
            files.extend(
                (contact_date, path) for path in sorted(folder.glob("batch=*.parquet")) if path.name != f"batch={except_batch}.parquet"
            )
    return files


_FREE_TEXT = (s.CONTACT_ID, s.CUSTOMER_ID, s.TEXT)  # many distinct values: read as they are


def read_store(
    store: Path,
    dates: list[str] | None = None,
    columns: list[str] | None = None,
    skip: tuple[str, ...] = (),
    except_batch: str | None = None,
    arrow_ids: bool = False,
    label_categories: bool = False,
) -> pd.DataFrame:
    """Scored contacts of the given dates (all dates when None), with ``contact_date``.

    ``skip`` leaves out columns (the text, which :class:`StoredTexts` fetches row by row);
    ``except_batch``: see :func:`store_files`. ``arrow_ids`` keeps ``contact_id`` in Arrow
    (``string[pyarrow]``): some 15 bytes an id where a Python string takes 60 or more, for a
    window of millions. ``label_categories`` keeps the label columns (reason, channel …, and
    ``contact_date``) categorical, with the same categories in every file: a code of a byte or
    two a row where a string column holds an 8-byte pointer. Their consumer must group with
    ``observed=True`` and fill gaps with :func:`pipeline.labels.fill_labels` (see
    :mod:`pipeline.labels`); the report does.
    """
    frames = []
    for contact_date, path in store_files(store, dates, except_batch):
        # optional columns (customer_id, channel …) are absent when the input had none
        schema = pq.read_schema(path)
        names = schema.names
        present = [c for c in (names if columns is None else columns) if c in names and c not in skip]
        labels = [c for c in present if c not in _FREE_TEXT and schema.field(c).type in (pa.string(), pa.large_string())]
        # labels (reason, channel …) read as dictionaries: Arrow then holds a small index a row,
        # not every row's bytes, on the way to pandas (a million-row window: 37 MB less resident)
        # pre_buffer off: Arrow's read-ahead of every row group's column chunks (meant for object
        # stores) left a million-row window ~30 MB more resident, for no speed on a local disk;
        # one thread: decoding the columns in parallel peaked ~30 MB higher and was slower
        # (0.30 against 0.22 s for a million rows of the report's columns)
        table = pq.read_table(path, columns=present, use_pandas_metadata=True, read_dictionary=labels, pre_buffer=False, use_threads=False)
        if arrow_ids and s.CONTACT_ID in present:
            frame = table.drop_columns([s.CONTACT_ID]).to_pandas()
            frame.insert(present.index(s.CONTACT_ID), s.CONTACT_ID, pd.arrays.ArrowStringArray(table[s.CONTACT_ID].cast(pa.string())))
        else:
            frame = table.to_pandas()
        del table
        if label_categories:
            frame[s.CONTACT_DATE] = pd.Categorical.from_codes(np.zeros(len(frame), dtype=np.int8), [contact_date])
        else:
            for name in labels:  # back to plain strings, one object per distinct value; None where missing
                frame[name] = as_strings(frame[name])
            frame[s.CONTACT_DATE] = contact_date
        frames.append(frame)
    if not frames:
        return pd.DataFrame(columns=[*(c for c in columns or [] if c != s.CONTACT_DATE), s.CONTACT_DATE])
    if label_categories:
        _same_categories(frames)
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)


def _same_categories(frames: list[pd.DataFrame]) -> None:
    """Put each categorical column of ``frames`` on one set of categories (the union, in order
    of appearance), so that concatenating them keeps it categorical. A column a file holds as
    nulls only (no string type) joins as an empty categorical; one a file lacks is filled
    with missing values by the concatenation. A column another file holds as something else
    than strings stays as it is (the concatenation then gives objects)."""
    names = list(dict.fromkeys(name for frame in frames for name, dtype in frame.dtypes.items() if isinstance(dtype, pd.CategoricalDtype)))
    union: dict[str, pd.Index] = {}
    for name in names:
        seen = [frame[name].cat.categories for frame in frames if name in frame and is_categorical(frame[name])]
        union[name] = pd.Index(list(dict.fromkeys(value for categories in seen for value in categories)), dtype=seen[0].dtype)
    for frame in frames:  # frames of read_store's own: changed in place, not copied
        for name in names:
            column = frame.get(name)
            if column is None:
                continue
            if not is_categorical(column):
                if column.isna().all():
                    frame[name] = pd.Categorical.from_codes(np.full(len(frame), -1, dtype=np.int8), union[name])
            elif not column.cat.categories.equals(union[name]):
                frame[name] = column.cat.set_categories(union[name])


def read_timelines(store: Path, dates: list[str], customers: pa.Array, except_batch: str | None = None) -> pa.Table | None:
    """The stored contacts of ``customers`` on ``dates`` (see :func:`store_files`) as
    :func:`pipeline.effort.timeline_table` columns, read as Arrow: no row becomes a Python
    object but the times, one file at a time."""
    tables = []
    for _, path in store_files(store, dates, except_batch):
        schema = pq.read_schema(path)
        if s.CUSTOMER_ID not in schema.names or schema.field(s.CUSTOMER_ID).type == pa.null():  # null: never filled
            continue
        present = [c for c in TIMELINE_COLUMNS if c in schema.names]
        table = pq.read_table(path, columns=present, filters=pc.field(s.CUSTOMER_ID).isin(customers))
        columns = {c: table[c].cast(pa.string()) for c in present if c != s.STARTED_AT}
        if s.STARTED_AT in present:
            columns[s.STARTED_AT] = pa.array(pd.to_datetime(table[s.STARTED_AT].to_pandas(), utc=True), from_pandas=True)
        tables.append(pa.table({c: columns[c] for c in present}))
    return pa.concat_tables(tables, promote_options="default") if tables else None


class StoredTexts:
    """The texts of rows of a :func:`read_store` frame (same ``dates``), by its index.

    Only the row groups holding the rows asked for are read, so a report can show examples
    and phrases of a large window without holding every text in memory.
    """

    def __init__(self, store: Path, dates: list[str] | None = None, column: str = s.TEXT) -> None:
        self.column = column
        self.groups: list[tuple[Path, int, int]] = []  # file, row group, first row in the frame
        self.footers: dict[Path, pq.FileMetaData] = {}  # each parsed once, not once per row group
        start = 0
        for _, path in store_files(store, dates):
            metadata = self.footers[path] = pq.read_metadata(path)
            for group in range(metadata.num_row_groups):
                self.groups.append((path, group, start))
                start += metadata.row_group(group).num_rows
        self.starts = np.array([first for _, _, first in self.groups] + [start])

    def __call__(self, index: pd.Index) -> pd.Series:
        positions = np.asarray(index, dtype=np.int64)
        order = np.argsort(positions, kind="stable")
        texts = np.empty(len(positions), dtype=object)
        owner = np.searchsorted(self.starts, positions[order], side="right") - 1
        bounds = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1], True]) if len(owner) else np.zeros(1, dtype=np.int64)

        def rows_of_group(begin: int, end: int) -> tuple[np.ndarray, pa.ChunkedArray]:
            path, number, first = self.groups[owner[begin]]
            chosen = order[begin:end]
            column = pq.ParquetFile(path, metadata=self.footers[path]).read_row_group(number, columns=[self.column]).column(0)
            return chosen, column.take(pa.array(positions[chosen] - first))

        # Arrow reads and decompresses without the GIL: two row groups at a time
        with ThreadPoolExecutor(2) as pool:
            for chosen, column in pool.map(rows_of_group, bounds[:-1], bounds[1:]):
                texts[chosen] = column.to_pylist()
        return pd.Series(texts, index=index, dtype=object, name=self.column)


def stored_ids(store: Path, except_batch: str, window_days: int) -> DatedIds:
    """Contact ids stored by every batch but ``except_batch`` (which a rerun replaces), by
    contact date: a date's files are read only when a row dated near it is checked."""
    by_date: dict[str, list[Path]] = {}
    for contact_date, path in store_files(store, except_batch=except_batch):
        by_date.setdefault(contact_date, []).append(path)

    def load(contact_date: str) -> IdSet:
        ids = IdSet()
        for path in by_date.get(contact_date, []):
            ids.add(pd.read_parquet(path, columns=[s.CONTACT_ID])[s.CONTACT_ID].astype(str))
        log.debug("store - ids of %s read: %d", contact_date, len(ids))
        return ids

    return DatedIds(by_date, load, window_days)

"""Batch: a day's contacts streamed through ingest → score → store in chunks, on every core.

Memory stays flat as the input grows. The input is read ``runtime.chunk_rows`` rows at a time;
each chunk is ingested here (row numbers and duplicate ids tracked across chunks), scored in a
pool of processes that each load the model once, and spilled to a temporary Parquet file per
key (contact date). Repeat contacts need the whole batch and the stored history, so they are
found afterwards on the batch's small columns (id, customer, time, channel); the spilled parts
are then appended, with those markers merged in, to one temporary file per key, and the files
are renamed into place only when all of them are written.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import multiprocessing
import shutil
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from datetime import date
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline import schemas as s
from pipeline.config import UNKNOWN_REASON, WORKER_SERVER_PRELOAD, quiet_progress
from pipeline.effort import REPEAT_MARKERS, TIMELINE_COLUMNS, effort_markers, raised_scores, timeline_table
from pipeline.errors import PipelineError, ScoringError
from pipeline.fastngrams import accelerate
from pipeline.ingest import IdSet, IngestResult, ingest_contacts, iso_strings
from pipeline.io import atomic_path, escape_formulas, iter_contacts
from pipeline.modelstore import LoadedModel, load_model
from pipeline.normalize import shared_turns
from pipeline.pii import mask_pii_series
from pipeline.predict import score_contacts

if TYPE_CHECKING:
    from pipeline.jobs import Workspace

log = logging.getLogger(__name__)

LOG_EVERY_S = 30.0


def score_chunk(workspace: Workspace, model: LoadedModel, contacts: pd.DataFrame) -> pd.DataFrame:
    """Everything a contact's score needs but the customer's other contacts: reason, taxonomy
    columns, effort markers from text and metadata; text PII-masked for storage."""
    reasons = workspace.reasons(tuple(model.metadata.get("labels", ())))
    with shared_turns():  # the features and the effort cues read the same speaker turns
        scored = score_contacts(model.pipeline, contacts, model.threshold, reasons, model.root_cause_pipeline)
        scored = pd.concat([scored, effort_markers(contacts, workspace.config.effort)], axis=1)
    scored[s.TEXT] = mask_pii_series(scored[s.TEXT], tuple(workspace.config.normalize.order_number_patterns))
    scored["model_id"] = model.model_id
    if s.STARTED_AT in scored.columns:
        scored[s.STARTED_AT] = iso_strings(scored[s.STARTED_AT])
    return scored


# ---------------------------------------------------------------- scoring on every core

_WORKER: dict[str, object] = {}


def _start_worker(workspace: Workspace, model: LoadedModel | Path, level: int) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    logging.getLogger("pipeline").setLevel(max(level, logging.WARNING))  # the main process logs progress
    loaded = model if isinstance(model, LoadedModel) else load_model(model)
    _WORKER["workspace"], _WORKER["model"] = workspace, fast_model(loaded)


@dataclass(frozen=True)
class SpilledChunk:
    """A chunk scored and written to the spill folder: its files as (key, path, the rows' positions
    in the chunk), and its counts. This, not the scored rows, goes back to the main process."""

    parts: list[tuple[str, Path, np.ndarray]]
    rows: int
    unknown: int
    truncated: int


Keys = Callable[[pd.DataFrame], Iterable[tuple[str, pd.DataFrame]]]


def spill_chunk(workspace: Workspace, model: LoadedModel, folder: Path, key_of: Keys, number: int, contacts: pd.DataFrame) -> SpilledChunk:
    """Score chunk ``number`` and write its rows to one Parquet file per key under ``folder``."""
    scored = score_chunk(workspace, model, contacts)
    parts = []
    for key, rows in key_of(scored):
        path = folder / f"{number:06d}-{key or 'all'}.parquet"
        # a spill lives for one run and is read once: plain pages, no dictionaries (a million
        # contacts: 1.2 s to write and 1.0 s to read, against 3.2 s and 2.1 s with snappy)
        rows.to_parquet(path, index=False, compression=None, use_dictionary=False)
        parts.append((key, path, rows.index.to_numpy()))
    return SpilledChunk(parts, len(scored), int((scored[s.REASON] == UNKNOWN_REASON).sum()), int(scored[s.TEXT_TRUNCATED].sum()))


def _spill_in_worker(item: tuple[Path, Keys, int, pd.DataFrame]) -> SpilledChunk:
    return spill_chunk(_WORKER["workspace"], _WORKER["model"], *item)  # type: ignore[arg-type]


class ChunkScorer:
    """Scores and spills chunks in order: in this process with one worker, else in a process
    pool whose workers each load the model once. At most two chunks per worker are in flight.

    The workers write the scored rows themselves: sending them back would leave the main
    process unpickling and writing every row while it also reads and ingests the input, and the
    workers waiting on it."""

    def __init__(self, workspace: Workspace, model: LoadedModel, workers: int) -> None:
        self.workspace = workspace
        self.model = model
        self.workers = workers
        self.fast = None

    @property
    def in_process_model(self) -> LoadedModel:
        if self.fast is None:
            self.fast = fast_model(self.model)
        return self.fast

    def spill(self, chunks: Iterable[pd.DataFrame], folder: Path, key_of: Keys) -> Iterator[SpilledChunk]:
        items = ((folder, key_of, number, chunk) for number, chunk in enumerate(chunks))
        if self.workers <= 1:
            for item in items:
                yield _checked(partial(spill_chunk, self.workspace, self.in_process_model, *item))
            return
        # a model directory is loaded (and its hash checked) by each worker; keyword rules have none
        source = self.model if self.model.metadata.get("kind") == "rules" else self.model.path
        initargs = (self.workspace, source, logging.getLogger().getEffectiveLevel())
        yield from ordered_map(_spill_in_worker, items, self.workers, _start_worker, initargs)


def ordered_map(
    function: Callable, items: Iterable, workers: int, initializer: Callable | None = None, initargs: tuple = ()
) -> Iterator:
    """``function`` over ``items`` on a pool of ``workers`` processes, results in order.

    Each worker runs ``initializer(*initargs)`` once (load the model, build the engines). At most
    two items per worker are in flight, so memory stays bounded whatever the number of items.
    A worker's failure is raised as :class:`ScoringError`.
    """
    context = multiprocessing.get_context("forkserver")  # no fork of a process holding Arrow's threads
    context.set_forkserver_preload(WORKER_SERVER_PRELOAD)  # imported once, then each worker forks
    pool = ProcessPoolExecutor(workers, mp_context=context, initializer=initializer, initargs=initargs)
    pending: deque[Future] = deque()
    try:
        for item in items:
            pending.append(pool.submit(function, item))
            if len(pending) >= 2 * workers:
                yield _checked(pending.popleft().result)
        while pending:
            yield _checked(pending.popleft().result)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def fast_model(model: LoadedModel) -> LoadedModel:
    """The model with its character n-grams computed by :mod:`pipeline.fastngrams` (same output)."""
    root_cause = model.root_cause_pipeline
    return replace(
        model, pipeline=accelerate(model.pipeline), root_cause_pipeline=None if root_cause is None else accelerate(root_cause)
    )


def _checked(work: Callable[[], pd.DataFrame]) -> pd.DataFrame:
    """A worker's failure as one of our errors, never a traceback."""
    try:
        return work()
    except PipelineError:
        raise
    except BrokenProcessPool:
        raise ScoringError(
            "a scoring process died (out of memory?); lower runtime.workers or runtime.chunk_rows and run again"
        ) from None
    except Exception as error:
        log.debug("scoring failed", exc_info=True)
        raise ScoringError(
            f"scoring a chunk failed ({type(error).__name__}: {error}); rerun with -v and report it"
        ) from None


# ---------------------------------------------------------------- memory

def release_memory() -> None:
    """Hand freed memory back to the system: Arrow's allocator and glibc's heap keep what a
    chunk's texts took after they are freed, in holes that other chunks' allocations pin, so
    without this the process's resident size grows with the batch though its live data does
    not. Nothing to do where the C library has no ``malloc_trim``."""
    pa.default_memory_pool().release_unused()
    if _C_LIBRARY is not None:
        _C_LIBRARY.malloc_trim(0)


def _c_library():
    try:
        library = ctypes.CDLL(ctypes.util.find_library("c"))
        return library if hasattr(library, "malloc_trim") else None
    except OSError:
        return None


_C_LIBRARY = _c_library()


# ---------------------------------------------------------------- progress

class Progress:
    """A bar on a terminal, a log line every ``LOG_EVERY_S`` seconds otherwise; nothing if quiet."""

    def __init__(self, what: str, quiet: bool = False) -> None:
        self.what, self.rows = what, 0
        self.started = self.logged = time.monotonic()
        self.quiet = quiet or logging.getLogger("pipeline").getEffectiveLevel() > logging.INFO
        self.bar = None
        if not self.quiet and sys.stderr.isatty() and not quiet_progress():
            from tqdm import tqdm

            self.bar = tqdm(desc=what, unit=" contacts", unit_scale=True, leave=False, file=sys.stderr)

    def update(self, rows: int) -> None:
        self.rows += rows
        if self.bar is not None:
            self.bar.update(rows)
        elif not self.quiet and time.monotonic() - self.logged >= LOG_EVERY_S:
            self.logged = time.monotonic()
            log.info("%s - %d contacts so far, %.0f a second", self.what, self.rows, self.rows / (self.logged - self.started))

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


# ---------------------------------------------------------------- ingest and score, spilled

@dataclass
class Spilled:
    """Scored chunks on disk, waiting for the batch's repeat contacts (see :func:`finish_parts`)."""

    folder: Path
    parts: list[tuple[str, Path, np.ndarray]] = field(default_factory=list)  # key, file, batch positions
    timelines: list[pa.Table] = field(default_factory=list)  # see effort.timeline_table
    columns: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=[s.CONTACT_ID]))  # no rows
    rejects: list[pd.DataFrame] = field(default_factory=list)
    read: int = 0
    scored: int = 0
    unknown: int = 0
    truncated: int = 0

    @property
    def timeline(self) -> pa.Table:
        """The batch's repeat-contact columns, one row per scored contact, in batch order."""
        if not self.timelines:
            return pa.table({s.CONTACT_ID: pa.array([], pa.string())})
        return pa.concat_tables(self.timelines, promote_options="default")

    @property
    def all_rejects(self) -> pd.DataFrame:
        if not self.rejects:
            return pd.DataFrame(columns=list(s.REJECT_COLUMNS))
        return pd.concat(self.rejects, ignore_index=True)

    def discard(self) -> None:
        """The spilled files, and the batch's columns held for them (not through the report)."""
        shutil.rmtree(self.folder, ignore_errors=True)
        self.parts.clear()
        self.timelines.clear()


def ingest_chunks(
    files: list[Path], encoding: str | None, chunk_rows: int, ingest: Callable[..., IngestResult], spilled: Spilled
) -> Iterator[pd.DataFrame]:
    """Each input chunk's kept contacts; rejects, counts and repeat columns go to ``spilled``."""
    earlier = IdSet()
    for path in files:
        for raw in iter_contacts(path, encoding, chunk_rows):
            result = ingest(raw, earlier_rows=earlier)
            earlier.add(result.first_ids, result.first_rows)
            spilled.read += len(raw)
            if len(result.rejects):
                spilled.rejects.append(result.rejects)
            contacts = result.contacts
            if not spilled.timelines:
                spilled.columns = contacts[[c for c in TIMELINE_COLUMNS if c in contacts.columns]].iloc[:0]
            spilled.timelines.append(timeline_table(contacts))
            yield contacts


def record_spills(chunks: Iterable[SpilledChunk], spilled: Spilled, progress: Progress) -> None:
    """Add each spilled chunk's files, at their positions in the batch, and counts to ``spilled``."""
    for chunk in chunks:
        spilled.parts.extend((key, path, spilled.scored + at) for key, path, at in chunk.parts)
        spilled.scored += chunk.rows
        spilled.unknown += chunk.unknown
        spilled.truncated += chunk.truncated
        progress.update(chunk.rows)
        release_memory()


def stream_scores(
    workspace: Workspace,
    model: LoadedModel,
    files: list[Path],
    *,
    encoding: str | None,
    ingest: Callable[..., IngestResult],
    key_of: Keys,
    spill_root: Path,
    workers: int,
) -> Spilled:
    """Read, ingest and score ``files`` chunk by chunk; the scored rows are spilled under
    ``spill_root`` (the caller discards them with :meth:`Spilled.discard`)."""
    spill_root.mkdir(parents=True, exist_ok=True)
    spilled = Spilled(Path(tempfile.mkdtemp(prefix=".spill-", dir=spill_root)))
    progress = Progress("score")
    try:
        chunks = ingest_chunks(files, encoding, workspace.config.runtime.chunk_rows, ingest, spilled)
        record_spills(ChunkScorer(workspace, model, workers).spill(chunks, spilled.folder, key_of), spilled, progress)
    except BaseException:
        spilled.discard()
        raise
    finally:
        progress.close()
    log.info(
        "score - %d read, %d scored (%d unknown, %d truncated), %d rejected; on %d worker(s)",
        spilled.read, spilled.scored, spilled.unknown, spilled.truncated, spilled.read - spilled.scored, workers,
    )
    return spilled


def ingest_with(
    workspace: Workspace, required: tuple[str, ...], known_ids: IdSet | frozenset[str], not_after: date | None = None
) -> Callable[..., IngestResult]:
    config = workspace.config

    def ingest(raw: pd.DataFrame, earlier_rows: IdSet) -> IngestResult:
        return ingest_contacts(
            raw, config.columns, config.ingest, required=required, known_ids=known_ids, not_after=not_after, earlier_rows=earlier_rows
        )

    return ingest


def by_contact_date(scored: pd.DataFrame) -> Iterator[tuple[str, pd.DataFrame]]:
    for contact_date, rows in scored.groupby(s.CONTACT_DATE, sort=True):
        yield str(contact_date), rows.drop(columns=[s.CONTACT_DATE])


def whole(scored: pd.DataFrame) -> Iterator[tuple[str, pd.DataFrame]]:
    yield "", scored


# ---------------------------------------------------------------- the repeat markers, merged in

def _with_repeats(table: pa.Table, repeat: np.ndarray, switched: np.ndarray) -> pa.Table:
    names = [f"effort_{marker}" for marker in REPEAT_MARKERS]
    before = [table.column(name).to_numpy() for name in names]
    scores = raised_scores(table.column(s.EFFORT_SCORE).to_numpy(), before, [repeat, switched])
    for name, was, flags in zip(names, before, (repeat, switched), strict=True):
        table = table.set_column(table.schema.get_field_index(name), name, pa.array(was | flags))
    index = table.schema.get_field_index(s.EFFORT_SCORE)
    return table.set_column(index, s.EFFORT_SCORE, pa.array(scores, type=table.schema.field(index).type))


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table`` with ``schema``'s columns in its order; a column it lacks is all missing."""
    columns = [
        table.column(f.name).cast(f.type) if f.name in table.column_names else pa.nulls(len(table), f.type)
        for f in schema
    ]
    return pa.Table.from_arrays(columns, schema=schema)


def _parts_by_key(spilled: Spilled) -> dict[str, list[tuple[Path, np.ndarray]]]:
    grouped: dict[str, list[tuple[Path, np.ndarray]]] = {}
    for key, path, positions in spilled.parts:
        grouped.setdefault(key, []).append((path, positions))
    return dict(sorted(grouped.items()))


def finish_parts(
    spilled: Spilled, repeat: np.ndarray, switched: np.ndarray, target_of: Callable[[str], Path]
) -> list[Path]:
    """Write each key's parts, repeat markers merged in, to ``target_of(key)`` (Parquet or CSV
    by suffix). Every file is written to a temporary name first; all are renamed at the end."""
    written = []
    with ExitStack() as renames:
        for key, parts in _parts_by_key(spilled).items():
            target = target_of(key)
            temporary = renames.enter_context(atomic_path(target))
            schema = pa.unify_schemas([pq.read_schema(path) for path, _ in parts], promote_options="permissive")
            tables = (
                _conform(_with_repeats(table, repeat[at], switched[at]), schema)
                for table, (_, at) in zip(read_ahead(pq.read_table, [path for path, _ in parts]), parts, strict=True)
            )
            if target.suffix.lower() == ".parquet":
                with pq.ParquetWriter(temporary, schema) as writer:
                    for table in tables:
                        writer.write_table(table)
            else:
                with open(temporary, "w", encoding="utf-8-sig", newline="") as handle:
                    for number, table in enumerate(tables):
                        escape_formulas(table.to_pandas()).to_csv(handle, header=number == 0, index=False, date_format="%Y-%m-%d")
            written.append(target)
    return written


def read_ahead(read: Callable[[Path], pa.Table], paths: list[Path]) -> Iterator[pa.Table]:
    """``read(path)`` for each path in order, the next one read in a thread while the caller
    works on the current one (Arrow reads and writes release the GIL: the finish's reading and
    writing overlap on two cores)."""
    with ThreadPoolExecutor(1) as pool:
        ahead = pool.submit(read, paths[0]) if paths else None
        for following in [*paths[1:], None]:
            table = ahead.result()  # type: ignore[union-attr]
            ahead = pool.submit(read, following) if following is not None else None
            yield table


def stale_spills(root: Path) -> None:
    """Spill folders a killed run left behind."""
    for folder in Path(root).glob(".spill-*"):
        shutil.rmtree(folder, ignore_errors=True)

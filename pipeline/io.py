"""The edges: reading contact files and writing report files, atomically.

Readers return every row as text plus ``source_file``/``source_row`` so that ingest can account
for each one. Writers put CSV files in the shape Excel needs (UTF-8 with BOM, no formulas) and
replace files atomically (write a temporary file beside the target, then rename).
"""

from __future__ import annotations

import csv
import functools
import json
import logging
import os
import shutil
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from io import StringIO
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline import schemas as s
from pipeline.config import DenominatorSettings, file_sha256
from pipeline.encoding import decode_bytes
from pipeline.errors import InputError

log = logging.getLogger(__name__)

SUPPORTED_SUFFIXES = (".csv", ".tsv", ".txt", ".jsonl", ".json", ".parquet")
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

def find_input_files(source: Path) -> list[Path]:
    """A file, a folder (its supported files) or a glob pattern, as a sorted list of files."""
    source = Path(source)
    if source.is_dir():
        files = sorted(p for p in source.iterdir() if p.suffix.lower() in SUPPORTED_SUFFIXES)
    elif source.exists():
        files = [source]
    else:
        files = sorted(Path(p) for p in _glob(source))
    if not files:
        raise InputError(f"no input found at {source}: give a CSV, JSONL or Parquet file, folder or glob")
    return files


def _glob(pattern: Path) -> list[str]:
    import glob

    return [p for p in glob.glob(str(pattern)) if Path(p).is_file()]


def read_contacts(path: Path, encoding: str | None = None) -> pd.DataFrame:
    """Read one contact file with every value as text, plus ``source_file`` and ``source_row``."""
    path = Path(path)
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            # integer columns with gaps stay exact integers, not floats
            frame = _text_from_bytes(pq.read_table(path).to_pandas(integer_object_nulls=True))
        else:
            text, used = decode_bytes(path.read_bytes(), encoding)
            log.debug("ingest - %s decoded as %s", path.name, used)
            frame = _parse_text(text, suffix, path)
    except FileNotFoundError:
        raise InputError(f"input file not found: {path}") from None
    except InputError as error:
        raise InputError(f"{path}: {error}") from None
    except (ValueError, OSError, pa.ArrowException) as error:
        raise InputError(f"cannot read {path}: {str(error).splitlines()[0]}") from None
    duplicated = frame.columns[frame.columns.duplicated()].tolist()
    if duplicated:
        raise InputError(f"{path}: duplicated column names {duplicated}; rename them and run again")
    if frame.empty:
        log.warning("ingest - %s holds no rows", path)
    frame = frame.astype(object).where(frame.notna(), None)
    frame.insert(0, "source_row", range(1, len(frame) + 1))
    frame.insert(0, "source_file", path.name)
    return frame


# The encoding of a file read in chunks is detected on its first bytes, cut at a line end.
SAMPLE_BYTES = 4 << 20
UTF16_MARKS = (b"\xff\xfe", b"\xfe\xff")


def iter_contacts(path: Path, encoding: str | None = None, chunk_rows: int = 50_000) -> Iterator[pd.DataFrame]:
    """:func:`read_contacts` in chunks of at most ``chunk_rows`` rows, so memory stays flat.

    ``source_row`` counts on across chunks. CSV, TSV and JSON lines are decoded strictly as
    they are read: a byte that is not valid in the encoding given, or detected on the first
    :data:`SAMPLE_BYTES`, stops the run with an error, never with mojibake. Parquet is read by
    row batches; JSON documents and UTF-16 files are read whole, then cut.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix != ".parquet" and (suffix == ".json" or _starts_with(path, UTF16_MARKS)):
        frame = read_contacts(path, encoding)
        for start in range(0, max(len(frame), 1), chunk_rows):
            yield frame.iloc[start : start + chunk_rows].reset_index(drop=True)
        return
    offset, used = 0, encoding
    try:
        if suffix == ".parquet":
            chunks = _parquet_chunks(path, chunk_rows)
        else:
            used = _detected(path, encoding)
            chunks = _text_chunks(path, suffix, used, chunk_rows)
        for frame in chunks:
            frame = _with_source(frame, path, offset)
            offset += len(frame)
            yield frame
    except FileNotFoundError:
        raise InputError(f"input file not found: {path}") from None
    except InputError as error:
        raise InputError(f"{path}: {error}") from None
    except UnicodeDecodeError as error:
        raise InputError(
            f"{path}: not valid {used} after row {offset} ({error.reason}); give the file's encoding with --encoding"
        ) from None
    except pd.errors.ParserError as error:
        raise InputError(f"{path}: malformed CSV after row {offset}: {str(error).strip()}; fix the quoting of that line") from None
    except (ValueError, OSError) as error:
        raise InputError(f"cannot read {path}: {str(error).splitlines()[0]}") from None


def _starts_with(path: Path, marks: tuple[bytes, ...]) -> bool:
    try:
        with open(path, "rb") as handle:
            return handle.read(2).startswith(marks)
    except OSError:
        return False


def _detected(path: Path, encoding: str | None) -> str:
    """The encoding of the file's first bytes up to a line end (given, or detected and checked)."""
    with open(path, "rb") as handle:
        head = handle.read(SAMPLE_BYTES)
    if len(head) == SAMPLE_BYTES:
        head = head[: head.rfind(b"\n") + 1] or head
    sample, used = decode_bytes(head, encoding)
    if not sample.strip():
        raise InputError("the file is empty")
    return used


def _with_source(frame: pd.DataFrame, path: Path, offset: int) -> pd.DataFrame:
    duplicated = frame.columns[frame.columns.duplicated()].tolist()
    if duplicated:
        raise InputError(f"duplicated column names {duplicated}; rename them and run again")
    frame = frame.astype(object).where(frame.notna(), None)
    frame.insert(0, "source_row", range(offset + 1, offset + len(frame) + 1))
    frame.insert(0, "source_file", path.name)
    return frame


def _parquet_chunks(path: Path, chunk_rows: int) -> Iterator[pd.DataFrame]:
    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(path)
    empty = True
    for batch in parquet.iter_batches(batch_size=chunk_rows):
        empty = False
        yield _text_from_bytes(batch.to_pandas(integer_object_nulls=True))  # as read_contacts reads it
    if empty:
        yield parquet.schema_arrow.empty_table().to_pandas()


BLOCK_CHARS = 8 << 20


def _text_chunks(path: Path, suffix: str, used: str, chunk_rows: int) -> Iterator[pd.DataFrame]:
    """Blocks of whole records, each parsed by :func:`_parse_text` (the whole-file checks apply to
    every block; a CSV block carries the header), cut into frames of ``chunk_rows`` rows."""
    lines = suffix == ".jsonl"
    header, parsed = "", 0
    with open(path, encoding=used, errors="strict", newline="") as text:
        for block in _record_blocks(text, quoted=not lines):
            if lines:
                frame = _parse_json_lines(block.replace("\x00", " "), first_line=parsed + 1)
                parsed += block.count("\n")
            elif not header:
                end = _record_end(block, 0)
                header = block if end < 0 else block[: end + 1]
                frame = _parse_text(block, suffix, path)
            else:
                frame = _parse_text(header + block, suffix, path)
            for start in range(0, max(len(frame), 1), chunk_rows):
                yield frame.iloc[start : start + chunk_rows].reset_index(drop=True)


def _record_blocks(text, quoted: bool) -> Iterator[str]:
    """The stream's text in blocks of about :data:`BLOCK_CHARS` that end at a record's end: a line
    break outside quotes (CSV doubles a quote inside a quoted value, so the count is even there)."""
    buffer, yielded = "", False
    while piece := text.read(BLOCK_CHARS):
        buffer += piece
        cut = buffer.rfind("\n")
        if quoted and cut >= 0:
            # walk back to a line break outside quotes, counting each stretch's quotes once
            quotes = buffer.count('"', 0, cut)
            while cut >= 0 and quotes % 2:
                previous = buffer.rfind("\n", 0, cut)
                quotes -= buffer.count('"', max(previous, 0), cut)
                cut = previous
        if cut >= 0:
            yield buffer[: cut + 1]
            buffer, yielded = buffer[cut + 1 :], True
    if buffer.strip() or not yielded:
        yield buffer


def _record_end(text: str, start: int) -> int:
    """The position of the line break that ends the record starting at ``start`` (-1: none)."""
    cut = text.find("\n", start)
    quotes = text.count('"', start, cut) if cut >= 0 else 0
    while cut >= 0 and quotes % 2:  # each stretch counted once: an unclosed quote costs one pass
        following = text.find("\n", cut + 1)
        quotes += text.count('"', cut, following) if following >= 0 else 0
        cut = following
    return cut


def _parse_text(text: str, suffix: str, path: Path) -> pd.DataFrame:
    if not text or text.isspace():
        raise InputError("the file is empty")
    text = text.replace("\x00", " ")  # pandas' parser silently cuts a value at a NUL
    if suffix in (".jsonl", ".json"):
        return _parse_json(text, lines=suffix == ".jsonl")
    separator = "\t" if suffix == ".tsv" else ","
    try:
        first = text[: _record_end(text, 0) + 1] or text  # the header record alone: no copy of the block
        header = [name.strip().lstrip("\ufeff") for name in next(csv.reader(StringIO(first, newline=""), delimiter=separator))]
    except csv.Error as error:
        raise InputError(f"malformed CSV header: {error}") from None
    duplicated = sorted({name for name in header if header.count(name) > 1})
    if duplicated:
        raise InputError(f"duplicated column names {duplicated}; rename them and run again")
    if len(header) == 1 and (other := next((c for c in ";\t|" if c in header[0]), None)):
        raise InputError(f"the header is one column '{header[0][:60]}': the file is separated by {other!r}, not {separator!r}")
    body = text[len(first) :]
    frame = _arrow_csv(body, separator, len(header)) if '"' not in first and not body.startswith("\ufeff") else None
    if frame is None:
        frame = _pandas_csv(text, separator, len(header))
    _check_last_row(text, separator, len(header))
    frame.columns = header
    return frame


def _arrow_csv(body: str, separator: str, columns: int) -> pd.DataFrame | None:
    """The records after the header, read by Arrow's CSV parser (about 4 µs a row with the
    conversion to pandas, against pandas' 11), as pandas reads them: every value text, empty
    values missing. None when a record is irregular (a field count other than the header's) or
    Arrow refuses the text: :func:`_pandas_csv` then reads it and says what is wrong. (The
    caller keeps quoted headers and a leading BOM, which Arrow would drop, for pandas.)"""
    import pyarrow.csv as pcsv

    if body.count('"') % 2:  # Arrow ends a quote left open at the end of the text; pandas says so
        return None

    irregular: list[object] = []

    def note(row: object) -> str:
        irregular.append(row)
        return "skip"

    data = body.encode("utf-8")
    names = [f"column_{number}" for number in range(columns)]
    try:
        table = pcsv.read_csv(
            pa.BufferReader(data),
            read_options=pcsv.ReadOptions(use_threads=False, column_names=names, block_size=max(len(data) + 1, 1 << 20)),
            parse_options=pcsv.ParseOptions(delimiter=separator, newlines_in_values=True, invalid_row_handler=note),
            convert_options=pcsv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.string()), null_values=[""], strings_can_be_null=True,
                quoted_strings_can_be_null=True,
            ),
        )
    except (pa.ArrowException, ValueError):
        return None
    if irregular:
        return None
    return table.to_pandas()


def _pandas_csv(text: str, separator: str, columns: int) -> pd.DataFrame:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)
            return pd.read_csv(
                StringIO(text), sep=separator, dtype=str, keep_default_na=False, na_values=[""],
                on_bad_lines="error", index_col=False,
            )
    except pd.errors.ParserWarning:
        raise InputError(f"rows have more fields than the header's {columns}: quote values that hold {separator!r}") from None
    except pd.errors.ParserError as error:
        problem = str(error).strip()
        if "EOF inside string" in problem:
            raise InputError(f"malformed CSV, a quoted value is never closed ({problem}): the file looks truncated, or a quote is missing") from None
        raise InputError(f"malformed CSV: {problem}; fix the quoting of that line") from None


def _check_last_row(text: str, separator: str, columns: int) -> None:
    """A file cut short ends without a line break, in a row with too few fields."""
    if text.endswith(("\n", "\r")):
        return
    last = text.rsplit("\n", 1)[-1].rsplit("\r", 1)[-1]
    if '"' not in last and last.count(separator) + 1 < columns:  # quoted values: pandas has judged
        raise InputError(
            f"the last row has {last.count(separator) + 1} of {columns} fields and no line break: "
            "the file looks truncated; copy or export it again"
        )


def _parse_json(text: str, lines: bool) -> pd.DataFrame:
    """JSON records parsed by Python's json, which keeps big integer ids exact (pandas turns an
    integer column with a gap into floats: 9007199254740993 became 9007199254740992)."""
    if lines:
        return _parse_json_lines(text)
    try:
        records = json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(f"not valid JSON: {error}") from None
    if not isinstance(records, list) or not all(isinstance(record, dict) for record in records):
        raise InputError("a .json file must hold a list of objects, one per contact (or use .jsonl, one per line)")
    return pd.DataFrame(records, dtype=object)


def _parse_json_lines(text: str, first_line: int = 1) -> pd.DataFrame:
    """One object per line; a broken line in the middle becomes a row that ingest rejects.
    ``first_line``: the file's line number of the text's first line (a block of a large file)."""
    lines = text.split("\n")
    records: list[dict] = []
    for number, line in enumerate(lines, first_line):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            if number == first_line + len(lines) - 1:  # the last line, and no line break after it
                raise InputError(f"the last line ({number}) is cut short: the file looks truncated; copy or export it again") from None
            record = {s.READ_ERROR: f"line {number} is not valid JSON ({error.msg})"}
        if not isinstance(record, dict):
            record = {s.READ_ERROR: f"line {number} is not a JSON object"}
        records.append(record)
    frame = pd.DataFrame(records, dtype=object)
    if s.READ_ERROR in frame.columns and frame[s.READ_ERROR].notna().all():
        raise InputError(f"no line is a JSON object ({frame[s.READ_ERROR].iloc[0]})")
    return frame


def _text_from_bytes(frame: pd.DataFrame) -> pd.DataFrame:
    """Parquet binary columns hold UTF-8 text or they are not contact data."""
    frame = frame.copy()
    for column in frame.columns:
        values = frame[column]
        if values.dtype == object and values.map(lambda v: isinstance(v, bytes | bytearray)).any():
            try:
                frame[column] = values.map(lambda v: v.decode("utf-8") if isinstance(v, bytes | bytearray) else v)
            except UnicodeDecodeError:
                raise InputError(f"column '{column}' holds binary data, not UTF-8 text") from None
    return frame


def escape_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """Text cells that Excel would execute as a formula get a leading apostrophe."""
    escaped = frame.copy()
    for column in escaped.columns:
        # text lives in object, string or categorical columns (pandas 3 reads text as "str")
        if escaped[column].dtype == object or isinstance(escaped[column].dtype, pd.StringDtype | pd.CategoricalDtype):
            escaped[column] = escaped[column].astype(object).map(_escape_cell)
    return escaped


def _escape_cell(value: object) -> object:
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


@functools.cache
def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def sync_file(path: Path) -> None:
    """Put a written file's bytes on disk: renamed into place unsynced, a power cut could leave
    the new name on an empty or partial file (a kill -9 cannot: the kernel still writes it)."""
    handle = os.open(path, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def sync_folder(folder: Path) -> None:
    """Put a folder's entries (the renames just made in it) on disk; where the system cannot
    open or sync a folder (Windows, some network file systems) there is nothing more to do."""
    try:
        handle = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)


@contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success, put it on disk and rename it over
    ``target``, then put the rename on disk."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(handle)
    try:
        yield Path(temporary)
        os.chmod(temporary, 0o666 & ~_umask())  # mkstemp makes it private; the target should not be
        sync_file(Path(temporary))
        os.replace(temporary, target)
        sync_folder(target.parent)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


STAGING, REPLACED = ".staging-", ".replaced-"


@contextmanager
def staged_folder(target: Path) -> Iterator[Path]:
    """Yield an empty hidden folder beside ``target``; on success it replaces ``target`` whole.

    Readers see the old folder or the new one, never a mix of their files (files the new one
    does not write are carried over from the old one). The old folder is renamed aside, the new
    one renamed in, the old one deleted; a crash between the two renames leaves the old folder
    under its aside name, which ``remove_leftovers`` puts back.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}{STAGING}", dir=target.parent))
    os.chmod(staging, 0o777 & ~_umask())
    aside = target.with_name(f".{target.name}{REPLACED}{staging.name.rsplit('-', 1)[1]}")
    try:
        yield staging
        if target.exists():
            _carry_over(target, staging)
        _sync_tree(staging)
        if target.exists():
            os.rename(target, aside)
        try:
            os.rename(staging, target)
        except OSError:
            if aside.exists():
                os.rename(aside, target)
            raise
        sync_folder(target.parent)
        shutil.rmtree(aside, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _sync_tree(folder: Path) -> None:
    """Every file and folder under ``folder`` on disk, ``folder`` last."""
    for root, folders, files in os.walk(folder, topdown=False):
        for name in files:
            if not os.path.islink(os.path.join(root, name)):
                sync_file(Path(root, name))
        sync_folder(Path(root))


def _carry_over(old: Path, new: Path) -> None:
    """What the new folder does not write (a person's notes, a subfolder …) is copied over; copied,
    not moved, so that a crash before the swap leaves it where it was."""
    for path in old.iterdir():
        if path.name.startswith(".") or (new / path.name).exists():
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.copytree(path, new / path.name, symlinks=True)
        else:
            shutil.copy2(path, new / path.name, follow_symlinks=False)


def remove_leftovers(*roots: Path) -> None:
    """Undo what a killed writer left under ``roots``: temporary files, staging folders, and an
    old folder set aside but not yet replaced (put back). Call it only while holding the run lock."""
    for root in map(Path, roots):
        if not root.is_dir():
            continue
        for aside in sorted(root.glob(f".*{REPLACED}*")):
            target = aside.with_name(aside.name[1:].rsplit(REPLACED, 1)[0])
            if target.exists():
                shutil.rmtree(aside, ignore_errors=True)
            else:
                os.rename(aside, target)
                log.warning("recovered %s from an interrupted run", target)
        for staging in root.glob(f".*{STAGING}*"):
            shutil.rmtree(staging, ignore_errors=True)
        for temporary in root.rglob(".*.tmp"):
            temporary.unlink(missing_ok=True)


def write_csv(frame: pd.DataFrame, path: Path) -> Path:
    """A CSV for people: UTF-8 with BOM, no index, ISO dates, formula-safe."""
    with atomic_path(path) as temporary:
        escape_formulas(frame).to_csv(temporary, index=False, encoding="utf-8-sig", date_format="%Y-%m-%d")
    return Path(path)


def write_json(data: dict, path: Path) -> Path:
    with atomic_path(path) as temporary:
        temporary.write_text(json.dumps(data, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
    return Path(path)


def write_text(text: str, path: Path) -> Path:
    with atomic_path(path) as temporary:
        temporary.write_text(text, encoding="utf-8")
    return Path(path)


def write_parquet(frame: pd.DataFrame, path: Path) -> Path:
    with atomic_path(path) as temporary:
        frame.to_parquet(temporary, index=False)
    return Path(path)


def write_table(frame: pd.DataFrame, path: Path) -> Path:
    """Parquet or CSV by the file's suffix."""
    if Path(path).suffix.lower() == ".parquet":
        return write_parquet(frame, path)
    return write_csv(frame, path)


def read_table(paths: Sequence[Path]) -> pd.DataFrame:
    """Concatenate scored files (Parquet or CSV written by us)."""
    frames = []
    for path in paths:
        path = Path(path)
        if not path.exists():
            raise InputError(f"scored file not found: {path}")
        if path.suffix.lower() == ".parquet":
            frame = pd.read_parquet(path)
            # a store file (contact_date=D/batch=B.parquet) keeps its contact date in the folder name
            if "contact_date" not in frame.columns and path.parent.name.startswith("contact_date="):
                frame["contact_date"] = path.parent.name.split("=", 1)[1]
            frames.append(frame)
        else:
            frames.append(pd.read_csv(path, encoding="utf-8-sig", dtype={"contact_id": str, "customer_id": str}))
    if not frames:
        raise InputError("no scored files given")
    return pd.concat(frames, ignore_index=True)


def input_fingerprints(paths: Sequence[Path]) -> list[dict]:
    return [{"path": str(Path(p).resolve()), "sha256": file_sha256(Path(p))} for p in paths]


def read_denominator(settings: DenominatorSettings | None) -> pd.DataFrame | None:
    """The customers-or-orders file for contacts per 1,000: ``date`` (ISO text), the segment
    columns as text, and ``count``; None when none is configured. A file that cannot serve raises
    InputError naming what to fix."""
    if settings is None:
        return None
    path = Path(settings.path)
    try:
        frame = read_contacts(path).drop(columns=["source_file", "source_row"])
    except InputError as error:
        raise InputError(f"hotspots.denominator: {error}") from None
    missing = [c for c in (settings.date_column, settings.count_column) if c not in frame.columns]
    if missing:
        raise InputError(f"denominator file {path} lacks the column(s) {missing} named in hotspots.denominator; it has {list(frame.columns)}")
    dates = pd.to_datetime(frame[settings.date_column], errors="coerce", format="mixed")
    counts = pd.to_numeric(frame[settings.count_column], errors="coerce")
    bad = frame.index[dates.isna() | counts.isna() | (counts < 0)]
    if len(bad):
        rows = ", ".join(str(i + 2) for i in bad[:5])  # line numbers, after the header
        raise InputError(f"denominator file {path}: line(s) {rows} need a date and a count of zero or more")
    segments = [c for c in frame.columns if c not in (settings.date_column, settings.count_column)]
    table = frame[segments].astype(str).assign(date=dates.dt.strftime("%Y-%m-%d"), count=counts.astype(float))
    duplicated = table.duplicated(["date", *segments])
    if duplicated.any():
        raise InputError(f"denominator file {path}: more than one row for {table.loc[duplicated, ['date', *segments]].iloc[0].tolist()}")
    return table[["date", *segments, "count"]]

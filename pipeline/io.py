"""The edges: reading contact files and writing report files, atomically.

Readers return every row as text plus ``source_file``/``source_row`` so that ingest can account
for each one. Writers put CSV files in the shape Excel needs (UTF-8 with BOM, no formulas) and
replace files atomically (write a temporary file beside the target, then rename).
"""

from __future__ import annotations

import csv
import json
import logging
import os
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from pipeline.config import file_sha256
from pipeline.errors import InputError

log = logging.getLogger(__name__)

SUPPORTED_SUFFIXES = (".csv", ".tsv", ".txt", ".jsonl", ".json", ".parquet")
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# Tried in this order when no encoding is given and the file has no byte-order mark.
CANDIDATE_ENCODINGS = ("utf-8", "gb18030", "big5")
# Frequent characters of simplified and traditional Chinese prose: a decoding that produces many
# of them is the right one; mojibake produces rare characters.
COMMON_CHINESE = set(
    "的是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过家学"
    "对可她里后小么心多天而能好都然没日于起还发成事只作当想看文无开手十用主行方又如前所本见经头"
    "們個這來為時國說會對還發過裡後麼無開與當經點話電請您費網號碼帳單問題"
)


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


def decode_bytes(data: bytes, encoding: str | None = None) -> tuple[str, str]:
    """Decode a file's bytes: the given encoding, a byte-order mark, or the best candidate.

    A wrong guess must never produce silent mojibake, so a candidate is accepted only when it
    decodes strictly; when several do, the one yielding the most common Chinese characters wins.
    """
    if encoding:
        try:
            return data.decode(encoding), encoding
        except LookupError:
            raise InputError(f"unknown encoding '{encoding}'; try utf-8, gb18030, big5 or utf-16") from None
        except UnicodeDecodeError as error:
            raise InputError(
                f"the file is not valid {encoding} (byte {error.start}): "
                "check --encoding, or leave it out to detect the encoding"
            ) from None
    for bom, name in ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16")):
        if data.startswith(bom):
            return _decode_strict(data, name), name
    decoded = {}
    for name in CANDIDATE_ENCODINGS:
        try:
            decoded[name] = data.decode(name)
        except UnicodeDecodeError:
            continue
        if name == "utf-8":
            return decoded[name], name
    if not decoded:
        raise InputError(
            "cannot detect the file's encoding (tried UTF-8, GB18030, Big5): give it with --encoding"
        )
    best = max(decoded, key=lambda name: sum(ch in COMMON_CHINESE for ch in decoded[name]))
    return decoded[best], best


def _decode_strict(data: bytes, encoding: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as error:
        raise InputError(f"the file starts with a {encoding} byte-order mark but byte {error.start} is invalid") from None


def read_contacts(path: Path, encoding: str | None = None) -> pd.DataFrame:
    """Read one contact file with every value as text, plus ``source_file`` and ``source_row``."""
    path = Path(path)
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            frame = pd.read_parquet(path)
        else:
            text, used = decode_bytes(path.read_bytes(), encoding)
            log.debug("ingest - %s decoded as %s", path.name, used)
            frame = _parse_text(text, suffix, path)
    except FileNotFoundError:
        raise InputError(f"input file not found: {path}") from None
    except InputError as error:
        raise InputError(f"{path}: {error}") from None
    except (ValueError, OSError) as error:
        raise InputError(f"cannot read {path}: {str(error).splitlines()[0]}") from None
    duplicated = frame.columns[frame.columns.duplicated()].tolist()
    if duplicated:
        raise InputError(f"{path}: duplicated column names {duplicated}; rename them and run again")
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
            sample, used = _sample(path, encoding)
            chunks = _text_chunks(path, suffix, sample, used, chunk_rows)
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


def _sample(path: Path, encoding: str | None) -> tuple[str, str]:
    """The file's first bytes up to a line end, decoded, and the encoding used."""
    with open(path, "rb") as handle:
        head = handle.read(SAMPLE_BYTES)
    if len(head) == SAMPLE_BYTES:
        head = head[: head.rfind(b"\n") + 1] or head
    sample, used = decode_bytes(head, encoding)
    if not sample.strip():
        raise InputError("the file is empty")
    return sample, used


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
        yield batch.to_pandas()
    if empty:
        yield parquet.schema_arrow.empty_table().to_pandas()


def _text_chunks(path: Path, suffix: str, sample: str, used: str, chunk_rows: int) -> Iterator[pd.DataFrame]:
    from io import StringIO

    with open(path, encoding=used, errors="strict", newline="") as text:
        if suffix == ".jsonl":
            try:
                yield from pd.read_json(text, lines=True, dtype=False, chunksize=chunk_rows)
            except ValueError as error:
                raise InputError(f"not valid JSON lines: {error}") from None
            return
        separator = "\t" if suffix == ".tsv" else ","
        header = next(csv.reader(StringIO(sample), delimiter=separator), [])
        duplicated = sorted({name for name in header if header.count(name) > 1})
        if duplicated:
            raise InputError(f"duplicated column names {duplicated}; rename them and run again")
        empty = True
        for frame in pd.read_csv(
            text, sep=separator, dtype=str, keep_default_na=False, na_values=[""], on_bad_lines="error",
            chunksize=chunk_rows,
        ):
            empty = False
            yield frame
        if empty:
            yield pd.DataFrame(columns=header, dtype=object)


def _parse_text(text: str, suffix: str, path: Path) -> pd.DataFrame:
    from io import StringIO

    if not text.strip():
        raise InputError("the file is empty")
    if suffix in (".jsonl", ".json"):
        try:
            return pd.read_json(StringIO(text), lines=suffix == ".jsonl", dtype=False)
        except ValueError as error:
            raise InputError(f"not valid JSON lines: {error}") from None
    separator = "\t" if suffix == ".tsv" else ","
    header = next(csv.reader(StringIO(text), delimiter=separator), [])
    duplicated = sorted({name for name in header if header.count(name) > 1})
    if duplicated:
        raise InputError(f"duplicated column names {duplicated}; rename them and run again")
    try:
        return pd.read_csv(
            StringIO(text), sep=separator, dtype=str, keep_default_na=False, na_values=[""],
            on_bad_lines="error",
        )
    except pd.errors.ParserError as error:
        raise InputError(f"malformed CSV: {str(error).strip()}; fix the quoting of that line") from None


def escape_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """Text cells that Excel would execute as a formula get a leading apostrophe."""
    escaped = frame.copy()
    for column in escaped.columns:
        if escaped[column].dtype == object:
            escaped[column] = escaped[column].map(_escape_cell)
    return escaped


def _escape_cell(value: object) -> object:
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


@contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it over ``target`` only on success."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(handle)
    try:
        yield Path(temporary)
        os.replace(temporary, target)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


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
            frames.append(pd.read_parquet(path))
        else:
            frames.append(pd.read_csv(path, encoding="utf-8-sig", dtype={"contact_id": str, "customer_id": str}))
    if not frames:
        raise InputError("no scored files given")
    return pd.concat(frames, ignore_index=True)


def input_fingerprints(paths: Sequence[Path]) -> list[dict]:
    return [{"path": str(Path(p).resolve()), "sha256": file_sha256(Path(p))} for p in paths]

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


@functools.cache
def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it over ``target`` only on success."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(handle)
    try:
        yield Path(temporary)
        os.chmod(temporary, 0o666 & ~_umask())  # mkstemp makes it private; the target should not be
        os.replace(temporary, target)
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
            os.rename(target, aside)
        try:
            os.rename(staging, target)
        except OSError:
            if aside.exists():
                os.rename(aside, target)
            raise
        shutil.rmtree(aside, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _carry_over(old: Path, new: Path) -> None:
    """Files of the old folder that the new one does not write (a person's notes …) are kept."""
    for path in old.iterdir():
        if path.is_file() and not path.name.startswith(".") and not (new / path.name).exists():
            shutil.copy2(path, new / path.name)


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
            frames.append(pd.read_parquet(path))
        else:
            frames.append(pd.read_csv(path, encoding="utf-8-sig", dtype={"contact_id": str, "customer_id": str}))
    if not frames:
        raise InputError("no scored files given")
    return pd.concat(frames, ignore_index=True)


def input_fingerprints(paths: Sequence[Path]) -> list[dict]:
    return [{"path": str(Path(p).resolve()), "sha256": file_sha256(Path(p))} for p in paths]

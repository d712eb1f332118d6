"""Ingest: validate raw contact rows, coerce types, and reject bad rows with a reason.

Every row read leaves this stage either as a contact or as a reject, never silently.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline import schemas as s
from pipeline.config import ColumnSettings, IngestSettings
from pipeline.errors import InputError

log = logging.getLogger(__name__)

CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
HAS_OFFSET = re.compile(r"(?:Z|[+-]\d{2}:?\d{2})$", re.IGNORECASE)
TRUE_WORDS = {"true", "1", "yes", "y", "t", "是", "已解决", "已解決"}
FALSE_WORDS = {"false", "0", "no", "n", "f", "否", "未解决", "未解決"}


@dataclass(frozen=True)
class IngestResult:
    contacts: pd.DataFrame
    rejects: pd.DataFrame


def rename_columns(raw: pd.DataFrame, columns: ColumnSettings) -> pd.DataFrame:
    """Map the configured input names onto the canonical ones of DESIGN §2."""
    mapping = {configured: canonical for canonical, configured in columns.model_dump().items()}
    return raw.rename(columns={c: mapping[c] for c in raw.columns if c in mapping and mapping[c] != c})


def check_columns(raw: pd.DataFrame, required: tuple[str, ...], source: str) -> None:
    missing = [column for column in required if column not in raw.columns]
    if missing:
        raise InputError(
            f"{source} lacks required column(s) {missing}; it has {list(raw.columns)[2:12]}. "
            "Rename them or map them in the config's 'columns' section (or --text-col)"
        )


def ingest_contacts(
    raw: pd.DataFrame,
    columns: ColumnSettings,
    settings: IngestSettings,
    *,
    required: tuple[str, ...] = s.REQUIRED_COLUMNS,
    known_ids: frozenset[str] = frozenset(),
) -> IngestResult:
    """Validate renamed raw rows; ``known_ids`` are ids already stored by earlier runs."""
    frame = rename_columns(raw, columns)
    check_columns(frame, required, str(frame["source_file"].iloc[0]) if len(frame) else "input")
    reasons = pd.Series("", index=frame.index, dtype=object)

    ids = frame[s.CONTACT_ID].map(_clean_id)
    reasons[ids.isna()] = "missing contact_id"

    text = frame[s.TEXT].map(_clean_text)
    reasons[(reasons == "") & (text == "")] = "empty text"

    if s.STARTED_AT in frame.columns:
        started = parse_timestamps(frame[s.STARTED_AT], settings.timezone)
        bad_time = (reasons == "") & started.isna()
        reasons[bad_time] = "unparseable started_at: " + frame.loc[bad_time, s.STARTED_AT].astype(str).str[:40]
    else:
        started = pd.Series(pd.NaT, index=frame.index)

    first_seen = ids.where(reasons == "").dropna()
    duplicated = first_seen.duplicated(keep="first")
    first_row = frame.loc[first_seen.index, s.SOURCE_ROW].groupby(first_seen.values).transform("first")
    reasons[duplicated[duplicated].index] = (
        "duplicate contact_id in this batch (first at row " + first_row[duplicated].astype(str) + ")"
    )
    if known_ids:
        stored = (reasons == "") & ids.isin(known_ids)
        reasons[stored] = "contact_id already stored by an earlier run"

    rejected = reasons != ""
    rejects = pd.DataFrame(
        {
            "source_file": frame["source_file"],
            s.SOURCE_ROW: frame[s.SOURCE_ROW],
            s.CONTACT_ID: ids.fillna(""),
            "reason_rejected": reasons,
        }
    )[rejected].reset_index(drop=True)

    kept = frame[~rejected].copy()
    kept[s.CONTACT_ID] = ids[~rejected]
    truncated = text[~rejected].str.len() > settings.max_text_chars
    kept[s.TEXT] = text[~rejected].str.slice(0, settings.max_text_chars)
    kept[s.TEXT_TRUNCATED] = truncated
    if s.STARTED_AT in frame.columns:
        local = started[~rejected]
        kept[s.STARTED_AT] = local
        kept[s.CONTACT_DATE] = local.dt.strftime("%Y-%m-%d")
    kept = coerce_metadata(kept)
    log.info(
        "ingest - %d rows read, %d kept, %d rejected, %d truncated",
        len(frame), len(kept), len(rejects), int(truncated.sum()),
    )
    return IngestResult(kept.reset_index(drop=True), rejects)


def _clean_id(value: object) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    text = CONTROL_CHARACTERS.sub("", str(value)).strip()
    if text.endswith(".0") and text[:-2].isdigit():
        text = text[:-2]
    return text or None


def _clean_text(value: object) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    return CONTROL_CHARACTERS.sub(" ", str(value)).strip()


def parse_timestamps(values: pd.Series, timezone: str) -> pd.Series:
    """ISO-8601 strings to timezone-aware local times; naive ones are taken as ``timezone``."""
    text = values.map(lambda v: "" if v is None else str(v).strip())
    aware = text.str.contains(HAS_OFFSET)
    result = pd.Series(pd.NaT, index=values.index, dtype=f"datetime64[ns, {timezone}]")
    if aware.any():
        parsed = pd.to_datetime(text[aware], errors="coerce", utc=True, format="ISO8601")
        result[aware] = parsed.dt.tz_convert(timezone)
    naive = ~aware & (text != "")
    if naive.any():
        parsed = pd.to_datetime(text[naive], errors="coerce", format="ISO8601")
        result[naive] = parsed.dt.tz_localize(timezone, ambiguous="NaT", nonexistent="NaT")
    return result


def coerce_metadata(contacts: pd.DataFrame) -> pd.DataFrame:
    """Optional columns to their types; an unreadable optional value becomes missing."""
    contacts = contacts.copy()
    for column in s.NUMERIC_COLUMNS:
        if column in contacts.columns:
            # always float: a chunk's type must not depend on which rows it holds
            contacts[column] = pd.to_numeric(contacts[column], errors="coerce").astype(float)
    if s.RESOLVED in contacts.columns:
        contacts[s.RESOLVED] = contacts[s.RESOLVED].map(_to_bool).astype("boolean")
    for column in (s.CHANNEL, s.CUSTOMER_ID):
        if column in contacts.columns:
            contacts[column] = contacts[column].map(_clean_id)
    if s.CHANNEL in contacts.columns:
        contacts[s.CHANNEL] = contacts[s.CHANNEL].str.lower()
    return contacts


def _to_bool(value: object) -> bool | None:
    if isinstance(value, bool):
        return value
    if value is None:
        return None
    text = str(value).strip().lower()
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    return None

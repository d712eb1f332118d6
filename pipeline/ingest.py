"""Ingest: validate raw contact rows, coerce types, and reject bad rows with a reason.

Every row read leaves this stage either as a contact or as a reject, never silently.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa

from pipeline import schemas as s
from pipeline.config import ColumnSettings, IngestSettings
from pipeline.errors import InputError

log = logging.getLogger(__name__)

CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")  # and lone surrogates
# Invisible characters that make two spellings of one id differ: zero-width spaces, byte-order marks.
INVISIBLE = re.compile(r"[\u200b-\u200d\u2060\ufeff]")
# an offset after a time ("…:11+08:00", "…:11 +0800", "…:23+8", "…Z"); "2026-11-20" ends in none
HAS_OFFSET = re.compile(r"(?:Z|:\d{2}(?:[.,]\d+)?\s*[+-]\d{1,2}(?::?\d{2})?)$", re.IGNORECASE)
# a zone written as a name after the time, as databases print it: "… 10:00:00 UTC" (BigQuery),
# "…10:00 GMT+8", "…10:00:00 UTC+08:00": read as the offset it names
ZONE_NAME = re.compile(r"(?<=\d)\s*(?:UTC|GMT)(?:\s*([+-]\d{1,2}(?::?\d{2})?))?$", re.IGNORECASE)
TRUE_WORDS = {"true", "1", "yes", "y", "t", "是", "已解决", "已解決"}
FALSE_WORDS = {"false", "0", "no", "n", "f", "否", "未解决", "未解決"}


HASH_KEYS = ("contact-reasons1", "contact-reasons2")  # two independent 64-bit hashes: 128 bits an id
KEY = np.dtype([("first", np.uint64), ("second", np.uint64)])


class IdSet:
    """Contact ids, each with a number (the source row of its first valid row), held as two
    independent 64-bit hashes an id in a few sorted arrays: 24 bytes an id where a dict of
    Python strings takes about 150, so the ids of a batch of millions, or of the whole store,
    stay small. Two ids are taken as one only when all 128 bits agree (a chance of about
    1e-26 for a million ids against 30 million)."""

    def __init__(self) -> None:
        self.runs: list[tuple[np.ndarray, np.ndarray]] = []  # sorted keys, their numbers

    @classmethod
    def of(cls, ids: Iterable[str]) -> IdSet:
        known = cls()
        known.add(pd.Series(list(ids), dtype=object))
        return known

    def __len__(self) -> int:
        return sum(len(keys) for keys, _ in self.runs)

    def add(self, ids: pd.Series, numbers: np.ndarray | None = None) -> None:
        if not len(ids):
            return
        numbers = np.full(len(ids), -1, dtype=np.int64) if numbers is None else np.asarray(numbers, dtype=np.int64)
        self.runs.append(_sorted_run(_keys(ids), numbers))
        # runs of about doubling size: a lookup searches few arrays, each id is re-sorted log(n) times
        while len(self.runs) > 1 and len(self.runs[-2][0]) <= 2 * len(self.runs[-1][0]):
            (keys, numbers), (more_keys, more_numbers) = self.runs.pop(-2), self.runs.pop()
            self.runs.append(_sorted_run(np.concatenate([keys, more_keys]), np.concatenate([numbers, more_numbers])))

    def numbers(self, ids: pd.Series) -> pd.Series:
        """Each id's number, missing where the id is not held (ids may be missing)."""
        found, held = self.find(_keys(ids) if len(ids) and self.runs else np.empty(len(ids), dtype=KEY))
        return pd.Series(found, index=ids.index).where(held & ids.notna().to_numpy())

    def find(self, wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`numbers` of ids already hashed by :func:`_keys`: numbers, and whether held."""
        found = np.full(len(wanted), -1, dtype=np.int64)
        held = np.zeros(len(wanted), dtype=bool)
        if len(wanted) and self.runs:
            for keys, numbers in self.runs:
                # searched on the first half (numpy compares structured keys slowly), then the
                # second half checked; keys sharing a first half are searched whole
                first = keys["first"]
                at = np.searchsorted(first, wanted["first"])
                span = np.searchsorted(first, wanted["first"], side="right") - at
                at = np.minimum(at, len(keys) - 1)
                hit = ~held & (span == 1) & (keys["second"][at] == wanted["second"])
                found[hit], held[hit] = numbers[at[hit]], True
                shared = np.flatnonzero(~held & (span > 1))
                if len(shared):
                    exact = np.minimum(np.searchsorted(keys, wanted[shared]), len(keys) - 1)
                    match = keys[exact] == wanted[shared]
                    found[shared[match]], held[shared[match]] = numbers[exact[match]], True
        return found, held

    def contains(self, ids: pd.Series) -> pd.Series:
        return self.numbers(ids).notna()


class DatedIds:
    """Contact ids stored by earlier runs, by contact date, each date's read when a row first
    needs it. A row's id counts as stored when it is stored under a date within
    ``window_days`` of the row's own (a contact sent again keeps its date; a day either side
    also catches one re-sent with a corrected time zone), so a night's check reads the
    partitions around its dates, not every id the store has gathered over the years.

    ``days`` are the stored contact dates; ``load(day)`` gives the ids stored under one."""

    def __init__(self, days: Iterable[str], load: Callable[[str], IdSet], window_days: int) -> None:
        self.days = np.array(sorted(set(days)), dtype="datetime64[D]")
        self.load = load
        self.window = np.timedelta64(window_days, "D")
        self.loaded: dict[np.datetime64, IdSet] = {}

    def __len__(self) -> int:
        return len(self.days)

    def _ids(self, day: np.datetime64) -> IdSet:
        if day not in self.loaded:
            self.loaded[day] = self.load(str(day))
        return self.loaded[day]

    def contains(self, ids: pd.Series, days: np.ndarray | None) -> np.ndarray:
        """Whether each id is stored within the window of its day (of any date when ``days`` is
        None: input without timestamps)."""
        held = np.zeros(len(ids), dtype=bool)
        if not len(ids) or not len(self.days):
            return held
        keys = _keys(ids)  # hashed once, looked up under each date
        if days is None:
            for day in self.days:
                held |= self._ids(day).find(keys)[1]
            return held & ids.notna().to_numpy()
        days = np.asarray(days, dtype="datetime64[D]")
        dated = ~np.isnat(days) & ids.notna().to_numpy()
        wanted = np.unique(days[dated])
        low = np.searchsorted(self.days, wanted - self.window, side="left")
        high = np.searchsorted(self.days, wanted + self.window, side="right")
        near = np.unique(np.concatenate([self.days[a:b] for a, b in zip(low, high, strict=True)] or [self.days[:0]]))
        for day in near:
            rows = np.flatnonzero(dated & (np.abs(days - day) <= self.window))
            held[rows] |= self._ids(day).find(keys[rows])[1]
        return held


def _keys(ids: pd.Series) -> np.ndarray:
    values = ids.fillna("").astype(str).to_numpy(dtype=object)
    keys = np.empty(len(values), dtype=KEY)
    for name, hash_key in zip(KEY.names, HASH_KEYS, strict=True):
        keys[name] = pd.util.hash_array(values, hash_key=hash_key, categorize=False)
    return keys


def _sorted_run(keys: np.ndarray, numbers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.lexsort((keys["second"], keys["first"]))
    return keys[order], numbers[order]


@dataclass(frozen=True)
class IngestResult:
    contacts: pd.DataFrame
    rejects: pd.DataFrame
    # each id's first valid row here, and its source row: for a later chunk's ``earlier_rows``
    first_ids: pd.Series
    first_rows: np.ndarray


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
    known_ids: DatedIds | IdSet | Collection[str] = frozenset(),
    not_after: date | None = None,
    earlier_rows: IdSet | None = None,
) -> IngestResult:
    """Validate renamed raw rows; ``known_ids`` are ids already stored by earlier runs (by date,
    see :class:`DatedIds`, or of any date), and a contact dated after ``not_after`` is rejected
    (a clock or export error).

    ``earlier_rows`` holds the ids seen in earlier chunks of the same batch, numbered by the
    source row of their first valid row (see :attr:`IngestResult.first_rows`).
    """
    frame = rename_columns(raw, columns)
    check_columns(frame, required, str(frame["source_file"].iloc[0]) if len(frame) else "input")
    reasons = pd.Series("", index=frame.index, dtype=object)
    if s.READ_ERROR in frame.columns:  # a line the reader could not parse
        reasons[frame[s.READ_ERROR].notna()] = frame[s.READ_ERROR].dropna().astype(str)
        frame = frame.drop(columns=[s.READ_ERROR])

    ids = clean_ids(frame[s.CONTACT_ID])
    reasons[(reasons == "") & ids.isna()] = "missing contact_id"

    text = clean_texts(frame[s.TEXT])
    reasons[(reasons == "") & (text == "")] = "empty text"
    # files joined together repeat their header line as a row
    repeated_header = (ids == columns.contact_id) & (text == columns.text)
    reasons[(reasons == "") & repeated_header] = "a repeated header line (were files joined together?)"

    if s.STARTED_AT in frame.columns:
        started = parse_timestamps(frame[s.STARTED_AT], settings.timezone)
        bad_time = (reasons == "") & started.isna()
        reasons[bad_time] = "unparseable started_at: " + frame.loc[bad_time, s.STARTED_AT].astype(str).str[:40]
        days = local_days(started)
        if not_after is not None:
            future = (reasons == "") & (days > np.datetime64(not_after.isoformat(), "D"))
            reasons[future] = f"started_at after {not_after.isoformat()}, in the future: " + frame.loc[future, s.STARTED_AT].astype(str).str[:40]
    else:
        started = pd.Series(pd.NaT, index=frame.index)

    if earlier_rows is not None and len(earlier_rows):
        first_at = earlier_rows.numbers(ids)
        again = (reasons == "") & first_at.notna()
        reasons[again] = "duplicate contact_id in this batch (first at row " + first_at[again].astype("int64").astype(str) + ")"
    first_seen = ids.where(reasons == "").dropna()
    duplicated = first_seen.duplicated(keep="first")
    first_row = frame.loc[first_seen.index, s.SOURCE_ROW].groupby(first_seen.values).transform("first")
    reasons[duplicated[duplicated].index] = (
        "duplicate contact_id in this batch (first at row " + first_row[duplicated].astype(str) + ")"
    )
    if len(known_ids):
        check = (reasons == "").to_numpy()
        if isinstance(known_ids, DatedIds):
            stored = known_ids.contains(ids[check], days[check] if s.STARTED_AT in frame.columns else None)
        else:
            stored = (known_ids.contains(ids[check]) if isinstance(known_ids, IdSet) else ids[check].isin(known_ids)).to_numpy()
        reasons[frame.index[check][stored]] = "contact_id already stored by an earlier run"

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
        dates = np.datetime_as_string(days[~rejected.to_numpy()], unit="D").astype(object)
        kept[s.CONTACT_DATE] = pd.Series(dates, index=local.index).where(local.notna())
    kept = coerce_metadata(kept)
    log.debug(  # once per chunk: the batch logs the totals
        "ingest - %d rows read, %d kept, %d rejected, %d truncated",
        len(frame), len(kept), len(rejects), int(truncated.sum()),
    )
    first = first_seen[~duplicated]
    return IngestResult(kept.reset_index(drop=True), rejects, first, frame.loc[first.index, s.SOURCE_ROW].to_numpy())


def clean_id(value: object) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, float) and value.is_integer():  # a numeric column with gaps reads as float
        value = int(value)
    text = INVISIBLE.sub("", CONTROL_CHARACTERS.sub("", str(value))).strip()
    return text or None


_EITHER = re.compile(f"{CONTROL_CHARACTERS.pattern}|{INVISIBLE.pattern}")


def _clean_text(value: object) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    text = str(value)
    if _EITHER.search(text) is not None:  # one scan for the usual text, which holds neither
        text = INVISIBLE.sub("", CONTROL_CHARACTERS.sub(" ", text))
    return text.strip()


def _plain_strings(values: pd.Series) -> np.ndarray | None:
    """The column's values when each is a str or None and none holds a control or invisible
    character (the usual column, checked in one scan instead of a regex call a value), else None."""
    array = values.to_numpy(dtype=object)
    strings = [value for value in array if value is not None]
    if all(type(value) is str for value in strings) and _EITHER.search("\n".join(strings)) is None:
        return array
    return None


def clean_ids(values: pd.Series) -> pd.Series:
    """:func:`clean_id` over a column."""
    plain = _plain_strings(values)
    if plain is None:
        return values.map(clean_id)
    return pd.Series([value and value.strip() or None for value in plain], index=values.index, dtype=object)


def clean_texts(values: pd.Series) -> pd.Series:
    """:func:`_clean_text` over a column."""
    plain = _plain_strings(values)
    if plain is None:
        return values.map(_clean_text)
    return pd.Series([value.strip() if value else "" for value in plain], index=values.index, dtype=object)


def local_days(started: pd.Series) -> np.ndarray:
    """The calendar day (``datetime64[D]``, NaT where missing) on which each time-zone-aware
    time of :func:`parse_timestamps` falls where it happened. Vectorised: ``dt.strftime``
    formats one value at a time (10 s of a million-contact night)."""
    return started.dt.tz_localize(None).to_numpy(dtype="datetime64[ns]").astype("datetime64[D]")


_ISO_DAY = r"\d{4}-\d{2}-\d{2}"
_ISO_TIME = r"[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?"
# the usual shapes, matched by Arrow (RE2) in one pass: all aware, or all naive
_ARROW_AWARE = rf"^{_ISO_DAY}{_ISO_TIME}(?:[Zz]|[+-]\d{{2}}:?\d{{2}})$"
_ARROW_NAIVE = f"^{_ISO_DAY}(?:{_ISO_TIME})?$"


def _arrow_timestamps(values: pd.Series, timezone: str) -> pd.Series | None:
    """:func:`parse_timestamps` for a column of the usual shapes (every value missing or an
    ISO-8601 time, all with an offset or all without, no surrounding spaces), parsed by Arrow in
    one pass (about 0.3 µs a value against pandas' 4); None for any other column, or a value
    Arrow refuses (2026-02-30): pandas then parses it and judges each value."""
    import pyarrow.compute as pc

    array = values.to_numpy(dtype=object)
    if not all(type(value) is str or value is None for value in array):
        return None
    strings = pa.array(array, type=pa.string())
    present = len(strings) - strings.null_count
    for shape, kind in ((_ARROW_AWARE, pa.timestamp("ns", "UTC")), (_ARROW_NAIVE, pa.timestamp("ns"))):
        if (pc.sum(pc.match_substring_regex(strings, shape)).as_py() or 0) == present:
            try:
                parsed = strings.cast(kind).to_pandas().set_axis(values.index)
            except pa.ArrowException:
                return None
            if kind.tz:
                return parsed.dt.tz_convert(timezone)
            return parsed.dt.tz_localize(timezone, ambiguous="NaT", nonexistent="NaT")
    return None


def parse_timestamps(values: pd.Series, timezone: str) -> pd.Series:
    """ISO-8601 strings to timezone-aware local times; naive ones are taken as ``timezone``."""
    fast = _arrow_timestamps(values, timezone) if len(values) else None
    if fast is not None:
        return fast
    text = values.map(lambda v: "" if v is None else str(v).strip())
    text = text.str.replace(ZONE_NAME, lambda zone: zone.group(1) or "+00:00", regex=True)
    aware = text.str.contains(HAS_OFFSET)
    result = pd.Series(pd.NaT, index=values.index, dtype=f"datetime64[ns, {timezone}]")
    if aware.any():
        parsed = pd.to_datetime(text[aware], errors="coerce", utc=True, format="ISO8601")
        result[aware] = parsed.dt.tz_convert(timezone)
    naive = ~aware & (text != "")
    if naive.any():
        parsed = pd.to_datetime(text[naive], errors="coerce", format="ISO8601")
        if isinstance(parsed.dtype, pd.DatetimeTZDtype):  # an offset in a shape HAS_OFFSET does not know
            result[naive] = parsed.dt.tz_convert(timezone)
        else:
            result[naive] = parsed.dt.tz_localize(timezone, ambiguous="NaT", nonexistent="NaT")
    return result


def iso_strings(times: pd.Series) -> pd.Series:
    """``Timestamp.isoformat()`` of each time, None where missing (how the store keeps
    ``started_at``). A chunk of whole seconds at one UTC offset, the usual, is formatted by numpy
    (0.4 µs a time against 4.3)."""
    if isinstance(times.dtype, pd.DatetimeTZDtype) and len(times) and times.notna().all():
        local = times.dt.tz_localize(None).to_numpy(dtype="datetime64[ns]")
        offsets = np.unique(local - times.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy(dtype="datetime64[ns]"))
        whole = (local.view(np.int64) % 1_000_000_000 == 0).all()
        if len(offsets) == 1 and whole and local.min() >= np.datetime64("1970-01-01"):
            suffix = pd.Timestamp(times.iloc[0]).isoformat()[19:]  # the offset, "+08:00"
            seconds = np.datetime_as_string(local.astype("datetime64[s]"), unit="s").tolist()
            return pd.Series([second + suffix for second in seconds], index=times.index, dtype=object)
    return times.map(lambda t: t.isoformat() if pd.notna(t) else None)


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
            contacts[column] = clean_ids(contacts[column])
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

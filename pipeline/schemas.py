"""Column names shared by the stages: the input contract (DESIGN §2) and the scored frame."""

from __future__ import annotations

CONTACT_ID = "contact_id"
TEXT = "text"
STARTED_AT = "started_at"
CHANNEL = "channel"
CUSTOMER_ID = "customer_id"
HANDLE_TIME_S = "handle_time_s"
WAIT_TIME_S = "wait_time_s"
TRANSFERS = "transfers"
RESOLVED = "resolved"
CSAT = "csat"
CES = "ces"
REASON = "reason"
ROOT_CAUSE = "root_cause"

REQUIRED_COLUMNS = (CONTACT_ID, TEXT, STARTED_AT)
NUMERIC_COLUMNS = (HANDLE_TIME_S, WAIT_TIME_S, TRANSFERS, CSAT, CES)

# Added by the stages
SOURCE_ROW = "source_row"
CONTACT_DATE = "contact_date"
TEXT_TRUNCATED = "text_truncated"
READ_ERROR = "_read_error"  # why a reader could not parse a row (a broken JSON line): ingest rejects it
TEXT_MASKED = "text_masked"
CONFIDENCE = "confidence"
PREDICTED_BY = "predicted_by"
QUADRANT = "quadrant"
ACTION = "action"
EFFORT_SCORE = "effort_score"

EFFORT_MARKERS = (
    "repeat_contact",
    "transfer",
    "repeat_info",
    "long_wait",
    "unresolved",
    "channel_switch",
    "escalation",
)
EFFORT_COLUMNS = tuple(f"effort_{marker}" for marker in EFFORT_MARKERS)

REJECT_COLUMNS = ("source_file", SOURCE_ROW, CONTACT_ID, "reason_rejected")

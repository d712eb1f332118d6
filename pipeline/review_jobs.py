"""Jobs of the review loop and the taxonomy lint: the edges around ``review``, ``discover``,
``rules`` and ``taxonomy_check`` (kept apart from ``jobs`` so each command reads on one page)."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd

from pipeline import schemas as s
from pipeline.errors import InputError
from pipeline.ingest import rename_columns
from pipeline.io import read_contacts, read_table, write_csv, write_table
from pipeline.jobs import TrainOutcome, Workspace, read_inputs, read_labelled, train_job
from pipeline.normalize import prepare_texts
from pipeline.store import read_store

log = logging.getLogger(__name__)

QUEUE_REQUIRED = (s.CONTACT_ID, "text_masked", "correct_reason")


def _scored_contacts(workspace: Workspace, scored_files: list[Path] | None, day: date | None) -> tuple[pd.DataFrame, str]:
    """The scored contacts to review: given files, or one day of the store (default: the latest)."""
    if scored_files:
        return read_table(scored_files), ", ".join(Path(f).name for f in scored_files)
    store = workspace.path(workspace.config.paths.store)
    days = sorted(p.name.split("=", 1)[1] for p in store.glob("contact_date=*"))
    if not days:
        return pd.DataFrame(), ""
    chosen = day.isoformat() if day else days[-1]
    if chosen not in days:
        raise InputError(f"the store {store} holds no contacts of {chosen} (latest: {days[-1]}); run that night first or give --scored")
    return read_store(store, dates=[chosen]), f"scored {chosen}"


def review_export_job(
    workspace: Workspace,
    out: Path,
    *,
    scored_files: list[Path] | None = None,
    day: date | None = None,
    data: Path | None = None,
    text_col: str | None = None,
    label_col: str | None = None,
) -> dict:
    """Write ``review_queue.csv``: the contacts and training labels most worth a person's look."""
    from pipeline.discover import propose_new_reasons
    from pipeline.review import (
        build_queue,
        check_labels,
        label_error_model,
        labelled_candidates,
        scored_candidates,
    )
    from pipeline.rules import build_rule_model

    config = workspace.config
    candidates, summary = [], {"scored": 0, "labelled": 0}
    scored, origin = _scored_contacts(workspace, scored_files, day)
    if len(scored):
        missing = [c for c in (s.CONTACT_ID, s.TEXT, s.REASON, s.CONFIDENCE) if c not in scored.columns]
        if missing:
            raise InputError(f"the scored contacts lack {missing}: give files written by `contact-reasons score` or the store")
        scored = scored.reset_index(drop=True)
        rules = build_rule_model(workspace.taxonomy, config.normalize)
        tokenizer = workspace.tokenizer()
        prepared = prepare_texts(scored[s.TEXT], view=config.normalize.view, to_simplified=config.normalize.to_simplified)
        tokens = pd.Series([tokenizer(text) for text in prepared], index=scored.index, dtype=object)
        _, proposals = propose_new_reasons(scored, tokens, config.review, config.normalize.order_number_patterns, config.model.seed)
        candidates.append(scored_candidates(scored, rules.predict_proba(scored[s.TEXT]), rules.classes_, proposals, config.review, origin))
        summary["scored"] = len(scored)
    if data is not None:
        labelled, _, _ = read_labelled(workspace, data, text_col, label_col, None)
        from pipeline.tokenize import read_user_words

        model = label_error_model(config.model, config.normalize, read_user_words(config.userdict))
        issues = check_labels(labelled[s.TEXT], labelled[s.REASON], model, config.review.label_error_folds, config.model.seed)
        candidates.append(labelled_candidates(labelled, issues, Path(data).name, config.review.label_error_share))
        summary["labelled"] = len(labelled)
    if not summary["scored"] and not summary["labelled"]:
        raise InputError("nothing to review: give --scored files, run a night first (the store is empty), or give --data labelled.csv")
    queue = build_queue(candidates, config.hotspots.review_queue_size, config.normalize.order_number_patterns)
    write_csv(queue, out)
    summary.update(queue=str(out), rows=len(queue), kinds=queue["kind"].value_counts().to_dict())
    return summary


def review_import_job(
    workspace: Workspace,
    queue_file: Path,
    data: Path,
    *,
    reviewer: str | None = None,
    text_col: str | None = None,
    label_col: str | None = None,
    retrain: bool = False,
    track: bool = True,
) -> tuple[dict, TrainOutcome | None]:
    """Add the reviewed rows of a filled queue to the labelled set (with provenance); retrain on request."""
    from pipeline.review import merge_reviews, validate_reviews

    data = Path(data)
    if data.suffix.lower() not in (".csv", ".parquet"):
        raise InputError(f"{data}: the labelled set must be a .csv or .parquet file to be updated")
    queue = read_contacts(queue_file)
    missing = [c for c in QUEUE_REQUIRED if c not in queue.columns]
    if missing:
        raise InputError(f"{queue_file} lacks {missing}: import a review_queue.csv written by `review export` or the nightly run")
    if "current_reason" not in queue:  # the nightly reports' review_queue.csv
        queue = queue.assign(current_reason=queue.get("predicted_reason"), kind=queue.get("kind", "low_confidence"))
    reviewed, problems = validate_reviews(queue, workspace.taxonomy, reviewer)
    for problem in problems:
        log.error("review - %s: %s", Path(queue_file).name, problem)
    if problems:
        raise InputError(f"{len(problems)} reviewed row(s) of {queue_file} are invalid (listed above); fix them and import again. Nothing was imported")
    if reviewed.empty:
        log.warning("review - no row of %s has correct_reason filled; nothing to import", queue_file)
        return {"reviewed": 0, "relabelled": 0, "added": 0, "data": str(data)}, None
    columns = workspace.config.columns.model_copy(update={k: v for k, v in {"text": text_col, "reason": label_col}.items() if v})
    if data.exists():
        raw, _ = read_inputs(data, workspace.config.ingest.encoding)
    else:
        log.info("review - %s does not exist yet: starting the labelled set", data)
        raw = pd.DataFrame(columns=["source_file", s.SOURCE_ROW, columns.contact_id, columns.text, columns.reason])
    labelled = rename_columns(raw, columns)
    reviewed_at = datetime.now(UTC).isoformat(timespec="seconds")
    merged, counts = merge_reviews(labelled, reviewed, Path(queue_file).name, reviewed_at)
    back = {canonical: configured for canonical, configured in columns.model_dump().items() if canonical != configured}
    merged = merged.drop(columns=["source_file", s.SOURCE_ROW], errors="ignore").rename(columns=back)
    write_table(merged, data)
    log.info("review - %s: %d relabelled, %d added from %s", data, counts["relabelled"], counts["added"], queue_file)
    summary = {"reviewed": len(reviewed), **counts, "data": str(data)}
    trained = train_job(workspace, data, text_col=text_col, label_col=label_col, track=track) if retrain else None
    return summary, trained


def taxonomy_check_job(
    workspace: Workspace, taxonomy_file: Path | None = None, data: Path | None = None,
    text_col: str | None = None, label_col: str | None = None,
) -> list[str]:
    """Findings of the taxonomy lint, one line each (none: clean)."""
    from pipeline.config import load_taxonomy
    from pipeline.taxonomy_check import check_taxonomy

    taxonomy = load_taxonomy(taxonomy_file) if taxonomy_file else workspace.taxonomy
    labels = None
    if data is not None:
        labelled, _, _ = read_labelled(workspace, data, text_col, label_col, None)
        labels = labelled[s.REASON]
    return check_taxonomy(taxonomy, workspace.config.normalize, workspace.config.review, labels)

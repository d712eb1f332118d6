"""Jobs: each command's wiring of edges (files, store, MLflow) around the pure stages.

A job reads its inputs, runs the stages in order, writes its outputs and returns a small
summary for the CLI to print. Paths come from the config, resolved under ``home``.
"""

from __future__ import annotations

import json
import logging
import subprocess
from contextlib import contextmanager
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipeline import __version__
from pipeline import schemas as s
from pipeline.config import (
    PipelineConfig,
    Taxonomy,
    artifact_root,
    config_hash,
    file_sha256,
    load_taxonomy,
    resolve_under,
    tracking_uri,
    worker_count,
)
from pipeline.batch import (
    Spilled, by_contact_date, finish_parts, ingest_with, release_memory, score_chunk, stale_spills, stream_scores, whole,
)
from pipeline.effort import add_repeat_markers, repeat_contacts, repeat_flags
from pipeline.errors import InputError, PromotionRefused, RejectsExceeded
from pipeline.ingest import IdSet, rename_columns
from pipeline.io import find_input_files, input_fingerprints, read_contacts, read_denominator, write_csv, write_json, write_table, read_table
from pipeline.modelstore import (
    METADATA_FILE,
    LoadedModel,
    champion_dir,
    load_model,
    nightly_model_dir,
    next_version,
    save_model,
    set_champion,
)
from pipeline.quadrants import reason_table
from pipeline.report import build_report, report_columns, write_report
from pipeline.runlock import exclusive_run
from pipeline.store import StoredTexts, batch_path, drop_stale, read_store, read_timelines, stored_ids
from pipeline.tokenize import Tokenizer, read_stopwords, read_user_words, words_hash
from pipeline.train import evaluate_predictions, per_class_table, train_classifier

log = logging.getLogger(__name__)

TRACKING_FILE = "tracking.json"


@dataclass
class Workspace:
    """The config, its taxonomy and the folder that relative paths are resolved under."""

    config: PipelineConfig
    home: Path
    taxonomy: Taxonomy = field(init=False)

    def __post_init__(self) -> None:
        self.home = Path(self.home).resolve()
        for relative in self.config.paths.model_dump().values():  # at start-up, not when first used
            self.path(relative)
        self.taxonomy = load_taxonomy(self.config.taxonomy)

    def path(self, relative: Path) -> Path:
        return resolve_under(self.home, relative)

    @property
    def model_root(self) -> Path:
        return self.path(self.config.paths.models) / self.config.model.name

    def reasons(self, labels: tuple[str, ...] = ()) -> pd.DataFrame:
        return reason_table(self.taxonomy, self.config.quadrant_cutoff, labels)

    def tokenizer(self) -> Tokenizer:
        return Tokenizer(user_words=read_user_words(self.config.userdict), stopwords=read_stopwords(self.config.stopwords))


class Timer:
    """Seconds per stage: ``with timer("score"): ...``."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, stage: str):
        started = time.perf_counter()
        yield
        self.seconds[stage] = round(time.perf_counter() - started, 3)


def code_version() -> str:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=Path(__file__).parent, capture_output=True, text=True, timeout=5
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return f"{__version__}+{commit}" if commit else __version__


# ---------------------------------------------------------------- reading inputs

def read_inputs(source: Path, encoding: str | None) -> tuple[pd.DataFrame, list[Path]]:
    files = find_input_files(source)
    frames = [read_contacts(path, encoding) for path in files]
    raw = pd.concat(frames, ignore_index=True)
    if raw.empty:
        raise InputError(f"{source} holds no contact rows (a header only?): check the export and run again")
    return raw, files


def read_labelled(
    workspace: Workspace, data: Path, text_col: str | None, label_col: str | None, root_cause_col: str | None
) -> tuple[pd.DataFrame, pd.DataFrame, list[Path]]:
    """Labelled rows for training or evaluation; rows without text or label become rejects."""
    raw, files = read_inputs(data, workspace.config.ingest.encoding)
    columns = workspace.config.columns.model_copy(
        update={k: v for k, v in {"text": text_col, "reason": label_col, "root_cause": root_cause_col}.items() if v}
    )
    frame = rename_columns(raw, columns)
    missing = [c for c in (s.TEXT, s.REASON, *((s.ROOT_CAUSE,) if root_cause_col else ())) if c not in frame.columns]
    if missing:
        raise InputError(
            f"{data} has no {missing} column(s) (columns: {list(raw.columns)[2:12]}); "
            "name them with --text-col / --label-col / --root-cause-col"
        )
    text = frame[s.TEXT].fillna("").astype(str).str.strip()
    label = frame[s.REASON].fillna("").astype(str).str.strip()
    bad = (text == "") | (label == "")
    rejects = pd.DataFrame(
        {
            "source_file": frame["source_file"],
            s.SOURCE_ROW: frame[s.SOURCE_ROW],
            s.CONTACT_ID: frame.get(s.CONTACT_ID, pd.Series("", index=frame.index)),
            "reason_rejected": (text == "").map({True: "empty text", False: "missing label"}),
        }
    )[bad]
    if len(rejects):
        log.warning("train - %d rows without text or label set aside (see training_rejects.csv)", len(rejects))
    kept = frame[~bad].assign(**{s.TEXT: text[~bad], s.REASON: label[~bad]})
    return kept.reset_index(drop=True), rejects.reset_index(drop=True), files


# ---------------------------------------------------------------- train / evaluate

@dataclass
class TrainOutcome:
    model_dir: Path
    metrics: dict
    run_id: str | None


def train_job(
    workspace: Workspace,
    data: Path,
    *,
    text_col: str | None = None,
    label_col: str | None = None,
    root_cause_col: str | None = None,
    out: Path | None = None,
    track: bool = True,
) -> TrainOutcome:
    config = workspace.config
    labelled, rejects, files = read_labelled(workspace, data, text_col, label_col, root_cause_col)
    user_words = read_user_words(config.userdict)
    stopwords = read_stopwords(config.stopwords) if config.model.remove_stopwords else frozenset()
    result = train_classifier(labelled[s.TEXT], labelled[s.REASON], config.model, config.normalize, user_words, stopwords)
    root_cause = None
    if root_cause_col:
        causes = labelled[s.ROOT_CAUSE].fillna("").astype(str).str.strip()
        has_cause = causes != ""
        log.info("train - root-cause model on %d rows with a root-cause label", int(has_cause.sum()))
        root_cause = train_classifier(
            labelled.loc[has_cause, s.TEXT], causes[has_cause], config.model.model_copy(update={"cv_folds": 0}),
            config.normalize, user_words, stopwords,
        )
        result.metrics["root_cause"] = {k: root_cause.metrics[k] for k in ("accuracy", "macro_f1", "evaluated_rows")}
    version = next_version(workspace.model_root)
    model_dir = Path(out).resolve() if out else workspace.model_root / str(version)
    labels = sorted(result.label_counts)
    metadata = {
        "name": config.model.name,
        "version": model_dir.name,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "labels": labels,
        "labels_outside_taxonomy": [label for label in labels if workspace.taxonomy.reason(label) is None],
        "label_counts": result.label_counts,
        "unknown_threshold": result.threshold,
        "metrics": {k: v for k, v in result.metrics.items() if k != "confused_pairs"},
        "training_data": input_fingerprints(files),
        "training_rows": len(labelled),
        "rows_set_aside": len(rejects),
        "config_hash": config_hash(config),
        "taxonomy_sha256": file_sha256(config.taxonomy),
        "userdict_sha256": words_hash(user_words),
        "code_version": code_version(),
    }
    save_model(result.model, model_dir, metadata, root_cause.model if root_cause else None)
    write_json(result.metrics, model_dir / "training_metrics.json")
    write_csv(result.per_class, model_dir / "per_class.csv")
    write_csv(result.curve, model_dir / "coverage_precision.csv")
    if len(rejects):
        write_csv(rejects, model_dir / "training_rejects.csv")
    run_id = None
    if track:
        from pipeline.tracking import log_training, register_model

        run_id, model_uri = log_training(
            uri=tracking_uri(config, workspace.home),
            experiment=config.tracking.experiment,
            artifact_location=artifact_root(config, workspace.home),
            model_dir=model_dir,
            params={**config.model.model_dump(), "view": config.normalize.view, "rows": len(labelled), "data": str(data)},
            metrics=result.metrics,
            tables={"per_class": result.per_class, "coverage_precision": result.curve},
            files=[config.taxonomy, config.userdict, config.stopwords, model_dir / "model.json"],
            config=config.model_dump(mode="json"),
            tags={"code_version": metadata["code_version"], "model_dir": str(model_dir)},
        )
        uri = tracking_uri(config, workspace.home)
        version = register_model(uri, model_uri, config.model.name)
        write_json(
            {"tracking_uri": uri, "run_id": run_id, "registered_model": config.model.name, "registered_version": version},
            model_dir / TRACKING_FILE,
        )
    return TrainOutcome(model_dir, result.metrics, run_id)


def evaluate_job(
    workspace: Workspace, model_dir: Path, data: Path, *, text_col: str | None = None, label_col: str | None = None
) -> dict:
    labelled, rejects, files = read_labelled(workspace, data, text_col, label_col, None)
    metrics = evaluate_model(load_model(model_dir), labelled)
    metrics["data"] = input_fingerprints(files)
    metrics["rows_set_aside"] = len(rejects)
    write_json(metrics, Path(model_dir) / "metrics.json")
    return metrics


def evaluate_model(model: LoadedModel, labelled: pd.DataFrame) -> dict:
    probabilities = model.pipeline.predict_proba(labelled[s.TEXT])
    truth = labelled[s.REASON].to_numpy()
    metrics = evaluate_predictions(truth, probabilities, model.pipeline.classes_, model.threshold)
    predicted = model.pipeline.classes_[probabilities.argmax(axis=1)]
    metrics["per_class"] = per_class_table(truth, predicted).to_dict(orient="records")
    metrics["unseen_labels"] = sorted(set(truth) - set(model.pipeline.classes_))
    metrics["model"] = model.model_id
    return metrics


def promote_job(
    workspace: Workspace, model_dir: Path, data: Path, *, text_col: str | None = None, label_col: str | None = None
) -> dict:
    """Make ``model_dir`` the champion only if it beats the current one on the same data."""
    settings = workspace.config.model
    metric, margin = settings.promotion_metric, settings.promotion_margin
    labelled, _, files = read_labelled(workspace, data, text_col, label_col, None)
    candidate_dir = Path(model_dir).resolve()
    candidate = evaluate_model(load_model(candidate_dir), labelled)[metric]
    current_dir = champion_dir(workspace.model_root)
    current = None
    if current_dir is not None and current_dir.resolve() == candidate_dir:
        raise PromotionRefused(f"{candidate_dir} is already the champion; nothing to do")
    if current_dir is not None:
        current = evaluate_model(load_model(current_dir), labelled)[metric]
        if candidate < current + margin:
            raise PromotionRefused(
                f"refused: candidate {metric} {candidate:.4f} does not beat the champion {current_dir} "
                f"({current:.4f}) by the margin {margin} on {data}; the champion stays"
            )
    evidence = {
        "metric": metric, "candidate": candidate, "previous_champion": str(current_dir) if current_dir else None,
        "previous": current, "margin": margin, "evaluation_data": input_fingerprints(files),
        "promoted_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    tracked = candidate_dir / TRACKING_FILE
    if tracked.exists():
        from pipeline.tracking import set_champion_alias

        info = json.loads(tracked.read_text(encoding="utf-8"))
        set_champion_alias(info["tracking_uri"], info["registered_model"], info["registered_version"])
        evidence["registered_version"] = info["registered_version"]
    set_champion(workspace.model_root, candidate_dir, evidence)
    log.info("promote - %s is the champion (%s %.4f, previous %s)", candidate_dir, metric, candidate, current)
    return evidence


# ---------------------------------------------------------------- scoring

def score_frame(
    workspace: Workspace, model: LoadedModel, contacts: pd.DataFrame, history: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Score ingested contacts in one piece (a Spark partition): :func:`batch.score_chunk` and the
    repeat markers against each other and ``history``, as the streamed batch merges them in."""
    scored = score_chunk(workspace, model, contacts)
    repeat, switched = repeat_contacts(contacts, history, workspace.config.effort.repeat_window_days)
    effort = [*s.EFFORT_COLUMNS, s.EFFORT_SCORE]
    scored[effort] = add_repeat_markers(scored[effort], repeat.to_numpy(), switched.to_numpy())
    return scored


def lookback_days(first: date, last: date, window_days: int) -> list[str]:
    """The contact dates a repeat contact of contacts dated ``first``–``last`` can look back to."""
    return [(first - timedelta(days=window_days - i)).isoformat() for i in range((last - first).days + window_days + 1)]


def batch_repeats(
    workspace: Workspace, timeline: pa.Table, store: Path | None, except_batch: str | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Repeat contact and channel switch for each contact of a batch (its small columns, see
    :func:`effort.timeline_table`, in batch order), against each other and the stored days a
    repeat can look back to (without ``except_batch``, the batch a rerun replaces)."""
    recent = None
    window_days = workspace.config.effort.repeat_window_days
    if store is not None and timeline.num_rows and s.CUSTOMER_ID in timeline.column_names:
        started = timeline[s.STARTED_AT].to_pandas()
        days = lookback_days(started.min().date(), started.max().date(), window_days)
        # only the batch's customers' contacts can make a repeat: a week at a million a day stays small
        customers = pc.unique(timeline[s.CUSTOMER_ID]).drop_null()
        recent = None if not len(customers) else read_timelines(store, days, customers, except_batch)
    return repeat_flags(timeline, recent, window_days)


def score_batch(
    workspace: Workspace, model: LoadedModel, files: list[Path], encoding: str | None, *,
    required: tuple[str, ...], known_ids: IdSet | frozenset[str], key_of, spill_root: Path, not_after: date | None = None,
) -> Spilled:
    return stream_scores(
        workspace, model, files, encoding=encoding or workspace.config.ingest.encoding,
        ingest=ingest_with(workspace, required, known_ids, not_after), key_of=key_of, spill_root=spill_root,
        workers=worker_count(workspace.config.runtime),
    )


def check_tolerance(read: int, rejects: pd.DataFrame, tolerance: float, rejects_path: Path) -> None:
    if read and len(rejects) / read > tolerance:
        top = rejects["reason_rejected"].str.split(":").str[0].value_counts().head(3)
        summary = ", ".join(f"{reason} ({n})" for reason, n in top.items())
        raise RejectsExceeded(
            f"{len(rejects)} of {read} rows rejected ({len(rejects) / read:.1%}), above the tolerance of "
            f"{tolerance:.1%}: {summary}. See {rejects_path}; fix the file or raise ingest.reject_tolerance"
        )


def score_job(
    workspace: Workspace, model_dir: Path, source: Path, output: Path, encoding: str | None = None,
    engine: str = "local", master: str | None = None,
) -> dict:
    if engine == "spark":
        from pipeline import spark_engine

        return spark_engine.score_job(workspace, model_dir, source, output, encoding, master)
    model = load_model(model_dir)
    output = Path(output)
    files = find_input_files(source)
    spilled = score_batch(
        workspace, model, files, encoding, required=(s.CONTACT_ID, s.TEXT), known_ids=frozenset(),
        key_of=whole, spill_root=output.parent,
    )
    try:
        rejects = spilled.all_rejects
        rejects_path = output.with_name(output.stem + ".rejects.csv")
        write_csv(rejects, rejects_path)
        check_tolerance(spilled.read, rejects, workspace.config.ingest.reject_tolerance, rejects_path)
        repeat, switched = batch_repeats(workspace, spilled.timeline, None)
        if spilled.parts:
            finish_parts(spilled, repeat, switched, lambda key: output)
        else:  # nothing scored: an empty file with the input's columns
            write_table(spilled.columns, output)
    finally:
        spilled.discard()
    return {"read": spilled.read, "scored": spilled.scored, "rejected": len(rejects), "output": str(output), "rejects": str(rejects_path)}


# ---------------------------------------------------------------- reports and the nightly run

def manifest(
    workspace: Workspace, as_of: date, files: list[Path], counts: dict, model: dict | None, timer: Timer
) -> dict:
    return {
        "as_of": as_of.isoformat(),
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "inputs": input_fingerprints(files),
        **counts,
        "model": model,
        "config_hash": config_hash(workspace.config),
        "taxonomy_sha256": file_sha256(workspace.config.taxonomy),
        "timings_s": timer.seconds,
        "code_version": code_version(),
    }


def report_job(workspace: Workspace, scored_files: list[Path], as_of: date, out: Path) -> Path:
    timer = Timer()
    denominator = read_denominator(workspace.config.hotspots.denominator)
    with timer("read"):
        scored = read_table(scored_files)
    missing = [c for c in (s.CONTACT_ID, s.CONTACT_DATE, s.REASON, s.CONFIDENCE, s.TEXT, s.EFFORT_SCORE) if c not in scored.columns]
    if missing:
        raise InputError(f"the scored files lack {missing}: give files written by `contact-reasons score` or the store")
    scored[s.CONTACT_DATE] = scored[s.CONTACT_DATE].astype(str)
    labels = tuple(scored[s.REASON].dropna().unique())
    with timer("report"):
        report = build_report(scored, as_of, workspace.reasons(labels), workspace.config, workspace.tokenizer(), denominator)
    counts = {"rows_read": len(scored), "rows_scored": len(scored), "rows_rejected": 0}
    return write_report(report, out, manifest(workspace, as_of, list(scored_files), counts, None, timer), pd.DataFrame())


def rule_model(workspace: Workspace) -> LoadedModel:
    """The cold-start model: the taxonomy's keywords as rules, no labelled data needed."""
    from pipeline.rules import build_rule_model

    pipeline = build_rule_model(workspace.taxonomy, workspace.config.normalize)
    metadata = {
        "name": "keyword-rules",
        "version": file_sha256(workspace.config.taxonomy)[:12],
        "kind": "rules",
        "labels": [str(label) for label in pipeline.classes_],
        "unknown_threshold": workspace.config.review.rules_threshold,
        "taxonomy_sha256": file_sha256(workspace.config.taxonomy),
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "code_version": code_version(),
    }
    return LoadedModel(pipeline, metadata, Path(workspace.config.taxonomy))


def save_rule_model(workspace: Workspace, out: Path | None = None) -> Path:
    """A model directory of kind ``rules`` (``train --rules``), scored like any trained model."""
    model = rule_model(workspace)
    model_dir = Path(out).resolve() if out else workspace.model_root / str(next_version(workspace.model_root))
    return save_model(model.pipeline, model_dir, model.metadata)


def cold_start(workspace: Workspace) -> bool:
    """No trained model yet (day one): the nightly job scores with the keyword rules, and says so."""
    root = workspace.model_root
    if champion_dir(root) is not None or any((p / METADATA_FILE).exists() for p in root.glob("*") if p.name.isdigit()):
        return False
    log.warning(
        "run - no trained model under %s: scoring with the taxonomy's keyword rules (cold start); reports mark "
        "these reasons predicted_by=rules. Label contacts (`contact-reasons review export`) and train to replace them",
        root,
    )
    return True


def nightly_model(workspace: Workspace, model_dir: Path | None = None) -> LoadedModel:
    """``--model``, else the champion or latest version, else (day one) the keyword rules."""
    if model_dir is not None:
        return load_model(model_dir)
    if cold_start(workspace):
        return rule_model(workspace)
    return load_model(nightly_model_dir(workspace.model_root))


def nightly_model_path(workspace: Workspace, model_dir: Path | None = None) -> Path:
    """:func:`nightly_model`'s directory, for an engine whose workers load the model by path: on
    day one the keyword rules are written to ``<model root>/rules-<taxonomy hash>/`` (a name the
    version lookup skips, so the first trained model still takes over)."""
    if model_dir is not None:
        return Path(model_dir).resolve()
    if not cold_start(workspace):
        return nightly_model_dir(workspace.model_root).resolve()
    model = rule_model(workspace)
    folder = workspace.model_root / f"rules-{model.metadata['version']}"
    if not (folder / METADATA_FILE).exists():
        save_model(model.pipeline, folder, model.metadata)
    return folder.resolve()


def default_input(workspace: Workspace, run_date: date) -> Path:
    incoming = workspace.path(workspace.config.paths.incoming)
    matches = sorted(incoming.glob(f"{run_date.isoformat()}*"))
    if not matches:
        raise InputError(f"no input for {run_date} in {incoming} (expected {run_date}.csv or a folder); give --input")
    return matches[0]


@dataclass
class RunOutcome:
    reports: Path
    counts: dict


@dataclass(frozen=True)
class Night:
    """Where a nightly run reads and writes, and what it checks first; the same for every engine."""

    date: date
    store: Path
    out: Path  # reports/<date>/, swapped in whole at the end
    denominator: pd.DataFrame | None
    baseline_days: int

    @property
    def batch(self) -> str:
        return self.date.isoformat()

    @property
    def refused(self) -> Path:
        """The rejects of a run refused for too many, beside the day's folder: its last good report stays whole."""
        return self.out.with_name(f"{self.batch}.rejects.csv")

    @property
    def window(self) -> list[str]:
        """The contact dates the report reads: the day and its baseline."""
        return [(self.date - timedelta(days=i)).isoformat() for i in range(self.baseline_days + 1)]

    @property
    def not_after(self) -> date:
        return self.date + timedelta(days=1)  # later contacts are clock errors (a day's grace: late exports)


def plan_night(workspace: Workspace, run_date: date) -> Night:
    config = workspace.config
    return Night(
        run_date, workspace.path(config.paths.store), workspace.path(config.paths.reports) / run_date.isoformat(),
        read_denominator(config.hotspots.denominator),  # a bad file fails before anything is written
        config.hotspots.baseline_days,
    )


def counted(night: Night, files: list[Path], read: int, rejects: pd.DataFrame, tolerance: float) -> dict:
    """The run's counts so far; an input without rows, or with rejects above the tolerance, stops
    the run before the store is touched (the rejects written to ``night.refused``)."""
    if not read:
        raise InputError(f"{', '.join(map(str, files))} holds no contact rows (a header only?): check the export and run again")
    if len(rejects) / read > tolerance:
        write_csv(rejects, night.refused)
        check_tolerance(read, rejects, tolerance, night.refused)
    return {"rows_read": read, "rows_scored": read - len(rejects), "rows_rejected": len(rejects)}


def publish(
    workspace: Workspace, night: Night, report, files: list[Path], counts: dict, model: LoadedModel, timer: Timer,
    rejects: pd.DataFrame, engine: str = "",
) -> RunOutcome:
    """Write the night's report folder (swapped in whole) with its manifest and rejects."""
    model_info = {"id": model.model_id, "path": str(model.path), "sha256": model.metadata.get("model_sha256")}
    write_report(report, night.out, manifest(workspace, night.date, files, counts, model_info, timer), rejects, whole_folder=True)
    night.refused.unlink(missing_ok=True)
    log.info(
        "run - %s%s: %d read, %d scored, %d rejected; reports in %s",
        night.batch, engine, counts["rows_read"], counts["rows_scored"], counts["rows_rejected"], night.out,
    )
    return RunOutcome(night.out, counts)


@exclusive_run
def run_job(
    workspace: Workspace,
    run_date: date,
    *,
    source: Path | None = None,
    model_dir: Path | None = None,
    encoding: str | None = None,
    engine: str = "local",
    master: str | None = None,
) -> RunOutcome:
    """The nightly job: ingest the day's input, score, store by contact date, report as of the date."""
    if engine == "spark":
        from pipeline import spark_engine

        return spark_engine.run_job(workspace, run_date, source=source, model_dir=model_dir, encoding=encoding, master=master)
    config = workspace.config
    timer = Timer()
    night = plan_night(workspace, run_date)
    with timer("load_model"):
        model = nightly_model(workspace, model_dir)
    files = find_input_files(source or default_input(workspace, run_date))
    stale_spills(night.store)
    with timer("ingest_and_score"):
        spilled = score_batch(
            workspace, model, files, encoding, required=s.REQUIRED_COLUMNS, known_ids=stored_ids(night.store, night.batch, config.ingest.duplicate_window_days),
            key_of=by_contact_date, spill_root=night.store, not_after=night.not_after,
        )
    try:
        rejects = spilled.all_rejects
        counts = counted(night, files, spilled.read, rejects, config.ingest.reject_tolerance)
        with timer("repeat_contacts"):
            repeat, switched = batch_repeats(workspace, spilled.timeline, night.store, except_batch=night.batch)
        with timer("store"):
            written = finish_parts(spilled, repeat, switched, lambda contact_date: batch_path(night.store, contact_date, night.batch))
            drop_stale(night.store, night.batch, written)
            log.info("store - batch %s: %d contacts in %d partitions", night.batch, spilled.scored, len(written))
    finally:
        spilled.discard()
    release_memory()  # the batch's, before the report's
    with timer("report"):
        history = read_store(night.store, dates=night.window, columns=report_columns(config), arrow_ids=True, label_categories=True)
        release_memory()
        labels = tuple(model.metadata.get("labels", ()))
        report = build_report(
            history, run_date, workspace.reasons(labels), config, workspace.tokenizer(), night.denominator,
            StoredTexts(night.store, night.window),
        )
    return publish(workspace, night, report, files, counts, model, timer, rejects)


# ---------------------------------------------------------------- demo

def demo_job(workspace: Workspace, *, seed: int | None = None) -> RunOutcome:
    """Write the demo contacts under ``home``, train on the labelled share, run the last day."""
    from pipeline.demo import DEMO_END, generate_demo

    data = generate_demo(workspace.taxonomy, **({"seed": seed} if seed is not None else {}))
    data_dir = workspace.home / "data"
    incoming = workspace.path(workspace.config.paths.incoming)
    last_day = DEMO_END
    write_csv(data.labelled, data_dir / "labelled.csv")
    write_csv(data.truth, data_dir / "truth.csv")
    contacts_file = write_csv(data.contacts, incoming / f"{last_day.isoformat()}.csv")
    log.info("demo - %d contacts, %d labelled, last day %s", len(data.contacts), len(data.labelled), last_day)
    trained = train_job(workspace, data_dir / "labelled.csv", out=workspace.model_root / "demo")
    return run_job(workspace, last_day, source=contacts_file, model_dir=trained.model_dir)

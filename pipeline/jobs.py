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

import pandas as pd

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
)
from pipeline.effort import detect_effort
from pipeline.errors import InputError, PromotionRefused, RejectsExceeded
from pipeline.ingest import ingest_contacts, rename_columns
from pipeline.io import find_input_files, input_fingerprints, read_contacts, write_csv, write_json, write_table, read_table
from pipeline.modelstore import (
    LoadedModel,
    champion_dir,
    load_model,
    nightly_model_dir,
    next_version,
    save_model,
    set_champion,
)
from pipeline.pii import mask_pii_series
from pipeline.predict import score_contacts
from pipeline.quadrants import reason_table
from pipeline.report import build_report, write_report
from pipeline.store import read_store, stored_ids, write_batch
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
    return pd.concat(frames, ignore_index=True), files


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
    """Score ingested contacts: reason, taxonomy columns, effort; text PII-masked for storage."""
    reasons = workspace.reasons(tuple(model.metadata.get("labels", ())))
    scored = score_contacts(model.pipeline, contacts, model.threshold, reasons, model.root_cause_pipeline)
    scored = pd.concat([scored, detect_effort(contacts, workspace.config.effort, history)], axis=1)
    scored[s.TEXT] = mask_pii_series(scored[s.TEXT], tuple(workspace.config.normalize.order_number_patterns))
    scored["model_id"] = model.model_id
    if s.STARTED_AT in scored.columns:
        scored[s.STARTED_AT] = scored[s.STARTED_AT].map(lambda t: t.isoformat() if pd.notna(t) else None)
    return scored


def ingest_inputs(workspace: Workspace, source: Path, encoding: str | None, required, known_ids=frozenset()):
    raw, files = read_inputs(source, encoding or workspace.config.ingest.encoding)
    result = ingest_contacts(raw, workspace.config.columns, workspace.config.ingest, required=required, known_ids=known_ids)
    return raw, result, files


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
    raw, ingested, files = ingest_inputs(workspace, source, encoding, (s.CONTACT_ID, s.TEXT))
    rejects_path = Path(output).with_name(Path(output).stem + ".rejects.csv")
    write_csv(ingested.rejects, rejects_path)
    check_tolerance(len(raw), ingested.rejects, workspace.config.ingest.reject_tolerance, rejects_path)
    scored = score_frame(workspace, model, ingested.contacts)
    write_table(scored, output)
    return {"read": len(raw), "scored": len(scored), "rejected": len(ingested.rejects), "output": str(output), "rejects": str(rejects_path)}


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
    with timer("read"):
        scored = read_table(scored_files)
    missing = [c for c in (s.CONTACT_ID, s.CONTACT_DATE, s.REASON, s.CONFIDENCE, s.TEXT, s.EFFORT_SCORE) if c not in scored.columns]
    if missing:
        raise InputError(f"the scored files lack {missing}: give files written by `contact-reasons score` or the store")
    scored[s.CONTACT_DATE] = scored[s.CONTACT_DATE].astype(str)
    labels = tuple(scored[s.REASON].dropna().unique())
    with timer("report"):
        report = build_report(scored, as_of, workspace.reasons(labels), workspace.config, workspace.tokenizer())
    counts = {"rows_read": len(scored), "rows_scored": len(scored), "rows_rejected": 0}
    return write_report(report, out, manifest(workspace, as_of, list(scored_files), counts, None, timer), pd.DataFrame())


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
    batch = run_date.isoformat()
    store = workspace.path(config.paths.store)
    out = workspace.path(config.paths.reports) / batch
    with timer("load_model"):
        model = load_model(model_dir or nightly_model_dir(workspace.model_root))
    with timer("ingest"):
        source = source or default_input(workspace, run_date)
        raw, ingested, files = ingest_inputs(workspace, source, encoding, s.REQUIRED_COLUMNS, stored_ids(store, batch))
    counts = {"rows_read": len(raw), "rows_scored": 0, "rows_rejected": len(ingested.rejects)}
    if len(raw) and len(ingested.rejects) / len(raw) > config.ingest.reject_tolerance:
        write_csv(ingested.rejects, out / "rejects.csv")
        check_tolerance(len(raw), ingested.rejects, config.ingest.reject_tolerance, out / "rejects.csv")
    with timer("score"):
        recent = None
        if len(ingested.contacts):  # only the days a repeat contact can look back to
            first = date.fromisoformat(ingested.contacts[s.CONTACT_DATE].min())
            last = date.fromisoformat(ingested.contacts[s.CONTACT_DATE].max())
            span = (last - first).days + config.effort.repeat_window_days + 1
            days = [(first - timedelta(days=config.effort.repeat_window_days) + timedelta(days=i)).isoformat() for i in range(span)]
            recent = read_store(store, dates=days, columns=[s.CONTACT_ID, s.CUSTOMER_ID, s.STARTED_AT, s.CHANNEL])
        scored = score_frame(workspace, model, ingested.contacts, recent)
    counts["rows_scored"] = len(scored)
    with timer("store"):
        write_batch(scored, store, batch)
    with timer("report"):
        window = [(run_date - timedelta(days=i)).isoformat() for i in range(config.hotspots.baseline_days + 1)]
        history = read_store(store, dates=window)
        labels = tuple(model.metadata.get("labels", ()))
        report = build_report(history, run_date, workspace.reasons(labels), config, workspace.tokenizer())
    model_info = {"id": model.model_id, "path": str(model.path), "sha256": model.metadata.get("model_sha256")}
    write_report(report, out, manifest(workspace, run_date, files, counts, model_info, timer), ingested.rejects)
    log.info("run - %s: %d read, %d scored, %d rejected; reports in %s", batch, counts["rows_read"], counts["rows_scored"], counts["rows_rejected"], out)
    return RunOutcome(out, counts)


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

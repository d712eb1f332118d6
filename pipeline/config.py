"""Typed configuration: ``pipeline.yaml`` and ``taxonomy.yaml``, validated at start-up.

Every section is a pydantic model with ``extra="forbid"`` so that a typo fails at once with the
key's path. Stages receive the typed section they need, never a raw dict. This is also the only
module that reads environment variables.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from pipeline.errors import ConfigError

PACKAGE_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG_DIR = PACKAGE_ROOT / "configs"

QUADRANT_ACTIONS = {
    "leverage": "encourage: make it easy to reach",
    "simplify": "keep, but remove friction",
    "automate": "move to self-service, FAQ or proactive notice",
    "eliminate": "fix the root cause so the contact never happens",
    "unassigned": "add the reason to the taxonomy to get an action",
}
UNKNOWN_REASON = "unknown"


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ColumnSettings(Section):
    """Names of the input columns (DESIGN §2), for exports that call them something else."""

    contact_id: str = "contact_id"
    text: str = "text"
    started_at: str = "started_at"
    channel: str = "channel"
    customer_id: str = "customer_id"
    handle_time_s: str = "handle_time_s"
    wait_time_s: str = "wait_time_s"
    transfers: str = "transfers"
    resolved: str = "resolved"
    csat: str = "csat"
    ces: str = "ces"
    reason: str = "reason"
    root_cause: str = "root_cause"


class IngestSettings(Section):
    timezone: str = "Asia/Shanghai"
    max_text_chars: int = Field(20_000, gt=0)
    reject_tolerance: float = Field(0.05, ge=0, le=1)
    encoding: str | None = None
    # an id stored under a contact date this many days either side of a row's is a duplicate
    duplicate_window_days: int = Field(1, ge=0, le=3660)


class NormalizeSettings(Section):
    view: Literal["customer", "agent", "all"] = "customer"
    to_simplified: bool = True
    lowercase: bool = True
    drop_boilerplate: bool = True
    order_number_patterns: list[str] = Field(default_factory=lambda: [r"\b[A-Z]{2,4}\d{8,14}\b"])


class ModelSettings(Section):
    name: str = "contact-reasons"
    # "auto": the lowest confidence at which held-out predictions reach target_precision
    unknown_threshold: float | Literal["auto"] = "auto"
    target_precision: float = Field(0.95, gt=0, le=1)
    # Share of labels hidden from an extra fit to stand in for reasons the model has never seen,
    # so that "auto" also rejects unseen reasons (0 = choose on seen reasons only).
    open_set_share: float = Field(0.1, ge=0, lt=0.5)
    word_ngrams: tuple[int, int] = (1, 2)
    char_ngrams: tuple[int, int] = (1, 4)
    min_df: int = Field(2, ge=1)
    # Sentence embeddings appended to the n-grams: all-MiniLM-L6-v2 (English) +2.5 points on
    # Banking77 (0.916 → 0.941) at ~100–200 texts/s on 2 cores; universal-sentence-encoder-
    # multilingual (Chinese and 15 other languages) see README, Sentence embeddings.
    embeddings: Literal["none", "all-MiniLM-L6-v2", "universal-sentence-encoder-multilingual"] = "none"
    embedding_weight: float = Field(2.0, gt=0)
    # Stop words carry intent ("not", "can't", "how", 吗): dropping them before the word
    # n-grams cost 1.1 points of accuracy on Banking77. They are always dropped from top phrases.
    remove_stopwords: bool = False
    max_features: int | None = 400_000
    regularisation_c: float = Field(1.0, gt=0)
    # "svm": one class-weighted linear SVM on all features, its scores temperature-scaled (the
    # default: fastest to train and score). "stack": the same SVM and a multinomial naive Bayes
    # on the n-grams, plus, with embeddings, a small neural network on the sentence embeddings,
    # combined by a logistic regression fitted on their out-of-fold scores (stack_folds folds).
    # Chinese reviews: category macro-F1 0.891 → 0.902, sentiment accuracy 0.936 → 0.941 (README,
    # Sentence embeddings); scoring is no slower: the features take nearly all of its time.
    classifier: Literal["svm", "stack"] = "svm"
    stack_folds: int = Field(5, ge=2)
    # Adds a complement naive Bayes (alpha 0.3) on the n-grams to the stack. Chosen on a
    # validation split only (80/20 of the Chinese reviews' training rows, stratified, seed 42),
    # with the multilingual encoder at weight 0.5 and regularisation_c 0.1: category macro-F1
    # 0.9057 → 0.9063, accuracy 0.9087 → 0.9110 (level-2 cross-validation on the 80%: 0.9038 →
    # 0.9051). Small, within the split's noise, but cheap (seconds per fit); off by default.
    # On test, run once with both: macro-F1 0.9087 (0.9080 before), sentiment accuracy 0.9431.
    stack_complement_nb: bool = False
    # Adds NB-SVM (Wang & Manning 2012: per label, the n-grams scaled by their naive Bayes
    # log-count ratio, then a logistic regression) to the stack. Chosen on the same validation
    # split, with the complement naive Bayes and the settings above: macro-F1 0.9055 → 0.9090,
    # accuracy 0.9109 → 0.9125 (paired bootstrap 95% interval -0.0013 to +0.0086). It costs one
    # regression per label per fit (about 20 s per fit on the 40,000 reviews); off by default.
    # On test, run once with all three: macro-F1 0.9110 (accuracy 0.9152), sentiment 0.9433.
    stack_nbsvm: bool = False
    calibration: Literal["temperature", "sigmoid", "isotonic"] = "temperature"
    calibration_folds: int = Field(3, ge=2)
    cv_folds: int = Field(3, ge=0)
    test_size: float = Field(0.2, gt=0, lt=1)
    min_examples_per_label: int = Field(6, ge=2)
    promotion_metric: Literal["macro_f1", "accuracy", "weighted_f1"] = "macro_f1"
    promotion_margin: float = Field(0.005, ge=0)
    seed: int = 42

    @field_validator("unknown_threshold")
    @classmethod
    def _probability(cls, value: float | str) -> float | str:
        if isinstance(value, float) and not 0 <= value < 1:
            raise ValueError(f"unknown_threshold must be 'auto' or a number in [0, 1), got {value}")
        return value

    @field_validator("word_ngrams", "char_ngrams")
    @classmethod
    def _ordered(cls, value: tuple[int, int]) -> tuple[int, int]:
        if not 1 <= value[0] <= value[1]:
            raise ValueError(f"n-gram range must be 1 <= low <= high, got {list(value)}")
        return value


class EffortSettings(Section):
    repeat_window_days: int = Field(7, ge=1)
    long_wait_s: float = Field(300, gt=0)
    high_effort_score: int = Field(3, ge=1, le=5)
    # Score points for an answer the customer never confirmed, and per doubling of the customer's
    # words past reference_length (Chinese characters or Latin words; at most three doublings).
    # Fitted on half of the STC-3 helpdesk dialogues by benchmarks/bench_effort.py --fit.
    unconfirmed_weight: float = Field(1.75, ge=0, le=4)
    length_weight: float = Field(0.5, ge=0, le=4)
    reference_length: int = Field(60, ge=1)


class DenominatorSettings(Section):
    """Customers or orders per day, for contacts per 1,000 (CPX): a CSV with a date column, a count
    column and, optionally, segment columns named like the contact columns (region, product …)."""

    path: Path
    date_column: str = "date"
    count_column: str = "customers"


class HotspotSettings(Section):
    baseline_days: int = Field(28, ge=7)
    alpha: float = Field(0.01, gt=0, lt=1)
    min_count: int = Field(10, ge=1)
    min_relative_change: float = Field(0.3, ge=0)
    segments: list[str] = Field(default_factory=list)
    examples: int = Field(3, ge=0, le=10)
    top_phrases: int = Field(5, ge=0, le=20)
    review_queue_size: int = Field(200, ge=0)
    # A reason irritates customers, whatever the workshop said, when its share of high-effort
    # contacts over the window is this many times the share among all contacts.
    irritation_ratio: float = Field(1.3, gt=1)
    denominator: DenominatorSettings | None = None


class ReviewSettings(Section):
    """The human review loop: cold-start keyword rules, the review queue, new-reason proposals
    and the taxonomy lint."""

    # keyword-rule confidence below which a contact is 'unknown' (one clean keyword hit ≈ 0.5)
    rules_threshold: float = Field(0.4, gt=0, lt=1)
    # out-of-fold folds of the label-error check on the labelled set
    label_error_folds: int = Field(3, ge=2)
    # share of the labelled set the label-error check may put in the queue at most
    label_error_share: float = Field(0.15, gt=0, le=1)
    # a rules/model disagreement is queued when both are at least this confident
    disagreement_confidence: float = Field(0.5, ge=0, le=1)
    # new-reason proposals: clusters of the day's unknown contacts
    new_reason_max_clusters: int = Field(8, ge=1)
    new_reason_min_contacts: int = Field(5, ge=2)
    # taxonomy lint: a reason needs this many labelled examples
    min_examples_per_reason: int = Field(20, ge=1)
    min_reasons: int = Field(10, ge=1)
    max_reasons: int = Field(60, ge=1)


class CostSettings(Section):
    currency: str = "CNY"
    cost_per_minute: float = Field(2.5, ge=0)
    deflection_rate: float = Field(0.4, ge=0, le=1)


class RuntimeSettings(Section):
    """How a large batch is processed: in chunks of ``chunk_rows`` rows, on ``workers`` processes."""

    # None: every core this process may use
    workers: int | None = Field(None, ge=1)
    # small enough that a modest batch still keeps every worker busy
    chunk_rows: int = Field(5_000, ge=1)
    # at most this many texts per side when finding a hotspot's distinctive phrases
    phrase_sample: int = Field(2_000, ge=100)


class PathSettings(Section):
    """Where things live, relative to the directory that holds the config file's parent."""

    models: Path = Path("models")
    store: Path = Path("store")
    reports: Path = Path("reports")
    incoming: Path = Path("incoming")
    tracking: Path = Path("mlflow")


class RunSettings(Section):
    # A second `run` on the same store waits this long for the first to finish, then fails.
    lock_timeout_s: float = Field(300, ge=0)


class TrackingSettings(Section):
    uri: str | None = None
    experiment: str = "contact-reasons"


class SparkSettings(Section):
    """The Spark engine (``--engine spark``): where it runs and how it cuts the work."""

    # None: the master spark-submit gave, else local[*]; --master overrides both
    master: str | None = None
    app_name: str = "contact-reasons"
    executor_memory: str | None = "2g"
    # rows per Arrow batch handed to the pandas scoring code (spark.sql.execution.arrow.maxRecordsPerBatch)
    arrow_batch_size: int = Field(5_000, ge=100)
    # shuffle partitions, and the number of groups contacts are scored in (by customer)
    partitions: int = Field(8, ge=1)
    conf: dict[str, str] = Field(default_factory=dict)


class PipelineConfig(Section):
    columns: ColumnSettings = ColumnSettings()
    ingest: IngestSettings = IngestSettings()
    normalize: NormalizeSettings = NormalizeSettings()
    model: ModelSettings = ModelSettings()
    effort: EffortSettings = EffortSettings()
    hotspots: HotspotSettings = HotspotSettings()
    cost: CostSettings = CostSettings()
    review: ReviewSettings = ReviewSettings()
    paths: PathSettings = PathSettings()
    run: RunSettings = RunSettings()
    tracking: TrackingSettings = TrackingSettings()
    runtime: RuntimeSettings = RuntimeSettings()
    spark: SparkSettings = SparkSettings()
    quadrant_cutoff: float = Field(3, ge=1, le=5)
    taxonomy: Path = Path("taxonomy.yaml")
    userdict: Path = Path("userdict.txt")
    stopwords: Path = Path("stopwords.txt")


class Keywords(Section):
    zh: list[str] = Field(default_factory=list)
    en: list[str] = Field(default_factory=list)


class RootCause(Section):
    id: str
    name_zh: str
    name_en: str
    owner: str


class Reason(Section):
    id: str
    name_zh: str
    name_en: str
    description: str
    keywords: Keywords
    customer_value: int = Field(ge=1, le=5)
    company_value: int = Field(ge=1, le=5)
    root_cause: str
    self_service: str | None = None


class Taxonomy(Section):
    root_causes: list[RootCause]
    reasons: list[Reason]

    @model_validator(mode="after")
    def _consistent(self) -> Taxonomy:
        for kind, items in (("reason", self.reasons), ("root cause", self.root_causes)):
            ids = [item.id for item in items]
            duplicated = sorted({i for i in ids if ids.count(i) > 1})
            if duplicated:
                raise ValueError(f"duplicate {kind} ids: {duplicated}")
        if UNKNOWN_REASON in {r.id for r in self.reasons}:
            raise ValueError(f"'{UNKNOWN_REASON}' is reserved for low-confidence contacts")
        known = {c.id for c in self.root_causes}
        for reason in self.reasons:
            if reason.root_cause not in known:
                raise ValueError(
                    f"reason '{reason.id}' names root cause '{reason.root_cause}', "
                    f"which is not among root_causes {sorted(known)}"
                )
        return self

    def reason(self, reason_id: str) -> Reason | None:
        return {r.id: r for r in self.reasons}.get(reason_id)

    def root_cause(self, root_cause_id: str) -> RootCause | None:
        return {c.id: c for c in self.root_causes}.get(root_cause_id)


def _read_yaml(path: Path) -> dict:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot read config file {path}: {error}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigError(f"{path} is not valid YAML: {error}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a mapping at the top level, found {type(data).__name__}")
    return data


def _validated(model: type[Section], data: dict, path: Path) -> Section:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in issue['loc']) or '(top)'}: {issue['msg']}"
            for issue in error.errors()
        )
        raise ConfigError(f"{path}: {problems}") from None


def write_config(path: Path, **sections: object) -> Path:
    """The shipped ``pipeline.yaml`` with ``sections`` merged in, written to ``path``: a mapping
    updates the section of its name, anything else replaces the key. The taxonomy, dictionary and
    stop-word paths are made absolute, so the copy works from any folder."""
    config = _read_yaml(DEFAULT_CONFIG_DIR / "pipeline.yaml")
    for name, value in sections.items():
        if isinstance(value, dict):
            config.setdefault(name, {}).update(value)
        else:
            config[name] = value
    for key in ("taxonomy", "userdict", "stopwords"):
        config[key] = str(_beside(DEFAULT_CONFIG_DIR, Path(config[key])))
    path = Path(path)
    path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def load_config(path: Path | None = None) -> PipelineConfig:
    """Read and validate ``pipeline.yaml`` (the shipped default when ``path`` is None)."""
    path = Path(path) if path else DEFAULT_CONFIG_DIR / "pipeline.yaml"
    config = _validated(PipelineConfig, _read_yaml(path), path)
    base = path.resolve().parent
    denominator = config.hotspots.denominator
    if denominator is not None:
        denominator = denominator.model_copy(update={"path": _beside(base, denominator.path)})
    return config.model_copy(
        update={
            "hotspots": config.hotspots.model_copy(update={"denominator": denominator}),
            "taxonomy": _beside(base, config.taxonomy),
            "userdict": _beside(base, config.userdict),
            "stopwords": _beside(base, config.stopwords),
        }
    )


def _beside(base: Path, path: Path) -> Path:
    return path if path.is_absolute() else base / path


def load_taxonomy(path: Path) -> Taxonomy:
    return _validated(Taxonomy, _read_yaml(Path(path)), Path(path))


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def config_hash(config: PipelineConfig) -> str:
    return hashlib.sha256(config.model_dump_json().encode()).hexdigest()[:16]


def resolve_under(root: Path, relative: Path) -> Path:
    """``root / relative``, refusing a configured path that climbs out of ``root``."""
    root = Path(root).resolve()
    target = (root / relative).resolve()
    if target != root and root not in target.parents:
        raise ConfigError(f"path '{relative}' escapes its root {root}; use a path inside it")
    return target


def tracking_uri(config: PipelineConfig, home: Path) -> str:
    """The MLflow tracking URI: ``MLFLOW_TRACKING_URI``, then the config, then a local store."""
    uri = os.environ.get("MLFLOW_TRACKING_URI") or config.tracking.uri
    if uri:
        return uri
    store = resolve_under(home, config.paths.tracking)
    return f"sqlite:///{store / 'mlflow.db'}"


def spark_master(config: PipelineConfig, override: str | None = None) -> str | None:
    """``--master``, then the config; None under spark-submit (its master stands), else local[*]."""
    if override or config.spark.master:
        return override or config.spark.master
    return None if os.environ.get("PYSPARK_GATEWAY_PORT") else "local[*]"


def java_available() -> bool:
    """Java for Spark: ``java`` on PATH or ``JAVA_HOME`` set."""
    import shutil

    return bool(shutil.which("java") or os.environ.get("JAVA_HOME"))


def artifact_root(config: PipelineConfig, home: Path) -> Path:
    return resolve_under(home, config.paths.tracking) / "artifacts"


def worker_count(settings: RuntimeSettings) -> int:
    """``runtime.workers``, or every core this process may run on."""
    if settings.workers:
        return settings.workers
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


# Scoring workers fork from a server that imported these once (not a fork of a process that
# holds Arrow's threads); the CLI starts it early, see :func:`start_worker_server`.
WORKER_SERVER_PRELOAD = ["pipeline.batch", "pipeline.ngramkernel"]


def start_worker_server() -> None:
    """Start the worker fork server now: its imports (about 1.5 s) then run beside the caller's
    own start-up instead of holding up the first chunk. Idempotent."""
    import multiprocessing
    from multiprocessing import forkserver

    multiprocessing.get_context("forkserver").set_forkserver_preload(WORKER_SERVER_PRELOAD)
    forkserver.ensure_running()


def quiet_progress() -> bool:
    """True when nobody watches: ``CI`` is set (the CLI also checks for a TTY)."""
    return bool(os.environ.get("CI"))

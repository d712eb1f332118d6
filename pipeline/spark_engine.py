"""The Spark engine: ``score`` and ``run`` on a Spark cluster, with the local engine's own code.

Spark reads the input files and moves rows between machines; the pandas stages run unchanged
inside ``mapInPandas``, each on a whole partition that holds every row of its key:

1. ingest (``ingest_contacts``) on partitions keyed by the cleaned contact id, so that the
   duplicates of an id, and an id stored by an earlier run, meet in one partition;
2. scoring (``jobs.score_frame``: reason, root cause, quadrant, effort, PII masking) on
   partitions keyed by customer, with those customers' stored contacts, so that repeat contacts
   are found across the batch and the store exactly as the local engine finds them;
3. the scored contacts go to the same store layout (one Parquet file per contact date), the
   daily counts behind the baselines are counted by Spark, and the same report code writes the
   same report files.

Every path (input, model, store, reports) must be visible to the driver and the executors:
local mode, or a filesystem they share. Row order follows the input files, as locally.
"""

from __future__ import annotations

import logging
import shutil
import sys
import uuid
from datetime import date
from pathlib import Path

import pandas as pd

from pipeline import schemas as s
from pipeline.config import SparkSettings, java_available, spark_master
from pipeline.errors import ConfigError, InputError
from pipeline.hotspots import Window, group_keys
from pipeline.ingest import DatedIds, IdSet, check_columns, clean_ids, ingest_contacts, rename_columns
from pipeline.io import find_input_files, sync_file, sync_folder, write_csv
from pipeline.modelstore import LoadedModel, load_model
from pipeline.store import PARTITION, batch_files, read_store, store_files

log = logging.getLogger(__name__)

FILE_ORDER = "_file_order"  # position of the row's file among the inputs (rows keep file order)
ID_KEY = "_id"  # the cleaned contact id, computed before ingest to bring duplicates together
STORED = "_stored"  # the dates the store holds the id under (from other batches), or null
HISTORY = "_history"  # a stored contact, there only for repeat-contact detection
REJECTED = "reason_rejected"
READERS = {".csv": "csv", ".tsv": "csv", ".txt": "csv", ".jsonl": "json", ".json": "json", ".parquet": "parquet"}
SNIFF_BYTES = 1 << 20
SPARK_ENCODINGS = {"utf-8-sig": "UTF-8", "utf-8": "UTF-8", "gb18030": "GB18030", "big5": "Big5", "utf-16": "UTF-16"}

_models: dict[str, LoadedModel] = {}  # per Python worker: each model is loaded once, not per partition


# ---------------------------------------------------------------- session

def spark_session(settings: SparkSettings, master: str | None):
    """The active SparkSession (spark-submit's, or one built from the settings)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise ConfigError("the Spark engine needs pyspark: pip install 'contact-reasons[spark]'") from None
    if not java_available():
        raise ConfigError("the Spark engine needs Java 17 (java on PATH or JAVA_HOME); install openjdk-17-jre-headless")
    conf = {
        "spark.app.name": settings.app_name,
        **({"spark.master": master} if master else {}),
        # workers of a local master are this interpreter, which has the package
        **({"spark.pyspark.python": sys.executable} if master and master.startswith("local") else {}),
        **({"spark.executor.memory": settings.executor_memory} if settings.executor_memory else {}),
        "spark.sql.shuffle.partitions": str(settings.partitions),
        "spark.sql.execution.arrow.maxRecordsPerBatch": str(settings.arrow_batch_size),
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        # the store's contact_date=… folders stay text, as read_store gives them
        "spark.sql.sources.partitionColumnTypeInference.enabled": "false",
        # a window is 29 folders: list them on the driver rather than in a Spark job each time
        "spark.sql.sources.parallelPartitionDiscovery.threshold": "512",
        **settings.conf,
    }
    # an existing session (spark-submit's, a notebook's) keeps its master and static settings
    # and takes the rest
    return SparkSession.builder.config(map=conf).getOrCreate()


# ---------------------------------------------------------------- reading

def ingest_files(
    spark, files: list[Path], encoding: str | None, config, required: tuple[str, ...], stored_ids=None, not_after: date | None = None
):
    """Read and ingest the files: the ingested frame (persisted; the caller unpersists it), the
    rejects in input order, and the number of rows read."""
    raw = read_input(spark, files, encoding).persist()  # parsed once, used twice
    try:
        numbered, read = _number_rows(spark, raw)
        ingested = ingest(spark, numbered, config, required, stored_ids, not_after).persist()
        rejects = collect_rejects(ingested)
    finally:
        raw.unpersist()
    return ingested, rejects, read


def read_input(spark, files: list[Path], encoding: str | None):
    """Every row of the files as Spark reads them, with ``source_file``, the file's position
    among the inputs, and where the row sits in the file (split start and position)."""
    from pyspark.sql import functions as F

    names = [path.name for path in files]
    if len(set(names)) < len(names):
        raise InputError(f"the Spark engine needs input files with distinct names; {sorted(names)} repeat one")
    frames = []
    for kind in dict.fromkeys(READERS.get(path.suffix.lower(), "csv") for path in files):
        group = [path for path in files if READERS.get(path.suffix.lower(), "csv") == kind]
        frames.append(_read_files(spark, group, kind, encoding))
    raw = frames[0]
    for frame in frames[1:]:
        raw = raw.unionByName(frame, allowMissingColumns=True)
    order = F.create_map(*[F.lit(x) for i, name in enumerate(names) for x in (name, i)])
    return raw.withColumn(FILE_ORDER, order[F.col("source_file")].cast("int"))


def _read_files(spark, files: list[Path], kind: str, encoding: str | None):
    from pyspark.sql import functions as F

    paths = [str(path) for path in files]
    if kind == "parquet":
        frame = spark.read.parquet(*paths)
    elif kind == "json":  # JSON lines, or a JSON array in a .json file
        multiline = files[0].suffix.lower() == ".json"
        frame = spark.read.option("primitivesAsString", True).option("multiLine", multiline).option("mode", "FAILFAST").json(paths)
    else:
        used = encoding or _sniff_encoding(files[0])
        _check_header(files, used)
        frame = (
            spark.read.option("header", True).option("multiLine", True).option("escape", '"')
            .option("mode", "FAILFAST").option("encoding", SPARK_ENCODINGS.get(used.lower(), used))
            .option("sep", "\t" if files[0].suffix.lower() == ".tsv" else ",").csv(paths)
        )
        frame = frame.toDF(*[name.lstrip("\ufeff") for name in frame.columns])
    return frame.select(
        F.col("_metadata.file_name").alias("source_file"),
        F.col("_metadata.file_block_start").alias("_block"),
        F.monotonically_increasing_id().alias("_position"),
        *frame.columns,
    )


def _check_header(files: list[Path], encoding: str) -> None:
    """Spark renames repeated column names (text0, text3); the local engine refuses them."""
    import csv

    for path in files:
        with open(path, encoding=encoding, newline="") as handle:
            header = next(csv.reader(handle, delimiter="\t" if path.suffix.lower() == ".tsv" else ","), [])
        duplicated = sorted({name.lstrip("\ufeff") for name in header if header.count(name) > 1})
        if duplicated:
            raise InputError(f"{path}: duplicated column names {duplicated}; rename them and run again")


def _sniff_encoding(path: Path) -> str:
    """The local engine's detection on the file's first MiB (cut at a line end)."""
    from pipeline.io import decode_bytes

    with open(path, "rb") as handle:
        head = handle.read(SNIFF_BYTES)
    if len(head) == SNIFF_BYTES and b"\n" in head:
        head = head[: head.rindex(b"\n") + 1]
    return decode_bytes(head)[1]


def _number_rows(spark, raw):
    """``source_row`` (1-based within its file) without a global sort: rows of one file split
    are consecutive in one Spark partition, so a row's number is its split's offset in the file
    plus its place in the split. Also the number of rows."""
    from pyspark.sql import functions as F

    splits = (
        raw.groupBy("source_file", FILE_ORDER, "_block")
        .agg(F.count(F.lit(1)).alias("_rows"), F.min("_position").alias("_first"))
        .toPandas()
        .sort_values([FILE_ORDER, "_block"])
    )
    splits["_offset"] = splits.groupby(FILE_ORDER)["_rows"].cumsum() - splits["_rows"]
    if splits.empty:
        raise InputError("the input files hold no rows")
    offsets = spark.createDataFrame(splits[["source_file", "_block", "_first", "_offset"]].astype({"_offset": "int64"}))
    numbered = raw.join(F.broadcast(offsets), ["source_file", "_block"])
    row = F.col("_offset") + F.col("_position") - F.col("_first") + 1
    columns = [c for c in raw.columns if c not in ("source_file", "_block", "_position", FILE_ORDER)]
    return numbered.select("source_file", row.alias(s.SOURCE_ROW), FILE_ORDER, *columns), int(splits["_rows"].sum())


# ---------------------------------------------------------------- ingest

def ingest(spark, raw, config, required: tuple[str, ...], stored_ids=None, not_after: date | None = None):
    """``ingest_contacts`` on partitions keyed by the cleaned id: one frame of kept contacts and
    rejects (``reason_rejected`` set), typed for the scoring stage."""
    from pyspark.sql import functions as F
    from pyspark.sql.functions import pandas_udf

    columns = config.columns
    check_columns(rename_columns(pd.DataFrame(columns=raw.columns), columns), required, "the input")
    keyed = raw.withColumn(ID_KEY, pandas_udf(clean_ids, "string")(F.col(columns.contact_id)))
    if stored_ids is not None:
        stored = stored_ids.groupBy(F.col(s.CONTACT_ID).alias(ID_KEY)).agg(F.collect_set(s.CONTACT_DATE).alias(STORED))
        keyed = keyed.join(stored, ID_KEY, "left")
    else:
        keyed = keyed.withColumn(STORED, F.lit(None).cast("array<string>"))
    fallback = F.concat_ws("#", "source_file", F.col(s.SOURCE_ROW).cast("string"))
    keyed = keyed.repartition(config.spark.partitions, F.coalesce(F.col(ID_KEY), fallback))

    probe = ingest_contacts(pd.DataFrame(columns=[c for c in raw.columns]), columns, config.ingest, required=required)
    names = [*probe.contacts.columns, REJECTED]
    input_types = {_canonical(c, columns): raw.schema[c].dataType.simpleString() for c in raw.columns}
    schema = ", ".join(f"`{name}` {_spark_type(name, input_types)}" for name in names)
    settings = config.ingest

    def ingest_partition(batches):
        rows = _whole(batches)
        if rows is None:
            return
        known = _stored_by_date(rows.loc[rows[STORED].notna(), [ID_KEY, STORED]], settings.duplicate_window_days)
        rows = rows.drop(columns=[ID_KEY, STORED])
        rows = rows.astype(object).where(rows.notna(), None)  # as io.read_contacts hands rows over
        result = ingest_contacts(rows.reset_index(drop=True), columns, settings, required=required, known_ids=known, not_after=not_after)
        contacts = result.contacts
        if s.STARTED_AT in contacts.columns:
            contacts[s.STARTED_AT] = contacts[s.STARTED_AT].map(lambda t: t.isoformat() if pd.notna(t) else None)
        order = rows.drop_duplicates("source_file").set_index("source_file")[FILE_ORDER]
        rejects = result.rejects.assign(**{FILE_ORDER: result.rejects["source_file"].map(order)})
        yield pd.concat([contacts, rejects], ignore_index=True).reindex(columns=names)

    return keyed.mapInPandas(ingest_partition, schema)


def _stored_by_date(stored: pd.DataFrame, window_days: int) -> DatedIds:
    """The partition's ids that the store holds, with the dates it holds them under, checked
    as the local engine checks them."""
    by_date: dict[str, list[str]] = {}
    for key, dates in zip(stored[ID_KEY], stored[STORED], strict=True):
        for contact_date in dates:
            by_date.setdefault(contact_date, []).append(key)
    return DatedIds(by_date, lambda contact_date: IdSet.of(by_date[contact_date]), window_days)


def _whole(batches) -> pd.DataFrame | None:
    """A partition's Arrow batches as one frame in input order (None when it is empty): every
    row of a key is in the partition, so the pandas stage sees all of them at once."""
    frames = list(batches)
    if not frames:
        return None
    rows = pd.concat(frames, ignore_index=True)
    return rows.sort_values([FILE_ORDER, s.SOURCE_ROW], kind="mergesort").reset_index(drop=True)



def _canonical(name: str, columns) -> str:
    mapping = {configured: canonical for canonical, configured in columns.model_dump().items()}
    return mapping.get(name, name)


def _spark_type(name: str, input_types: dict[str, str]) -> str:
    """Spark type of a column of the ingested or scored frame (other columns keep their input type)."""
    if name == s.SOURCE_ROW:
        return "bigint"
    if name == FILE_ORDER:
        return "int"
    if name in (*s.NUMERIC_COLUMNS, s.CONFIDENCE, s.EFFORT_SCORE):
        return "double"
    if name in (s.RESOLVED, s.TEXT_TRUNCATED, *s.EFFORT_COLUMNS):
        return "boolean"
    if name in (s.CONTACT_ID, s.TEXT, s.STARTED_AT, s.CHANNEL, s.CUSTOMER_ID, s.CONTACT_DATE, "source_file"):
        return "string"
    return input_types.get(name, "string")


def collect_rejects(ingested) -> pd.DataFrame:
    from pyspark.sql import functions as F

    rejects = ingested.filter(F.col(REJECTED).isNotNull()).select(*s.REJECT_COLUMNS, FILE_ORDER).toPandas()
    rejects = rejects.sort_values([FILE_ORDER, s.SOURCE_ROW], kind="mergesort").drop(columns=[FILE_ORDER])
    return rejects.astype({s.SOURCE_ROW: object}).reset_index(drop=True)


# ---------------------------------------------------------------- scoring

def score(spark, contacts, history, workspace, model_dir: Path):
    """``score_frame`` on partitions that hold every contact of a customer with that
    customer's stored history (``history``: contact_id, customer_id, started_at, channel)."""
    from pyspark.sql import functions as F

    from pipeline.jobs import score_frame

    has_customer = s.CUSTOMER_ID in contacts.columns
    key = F.coalesce(F.col(s.CUSTOMER_ID), F.col(s.CONTACT_ID)) if has_customer else F.col(s.CONTACT_ID)
    model = load_model(model_dir)
    probe = pd.DataFrame(columns=contacts.columns)
    names = list(score_frame(workspace, model, _restore(probe, workspace), None).columns)
    input_types = {field.name: field.dataType.simpleString() for field in contacts.schema.fields}
    schema = ", ".join(f"`{name}` {_spark_type(name, input_types)}" for name in names)
    history_columns = [] if history is None else history.columns
    rows = contacts.withColumn(HISTORY, F.lit(False))
    if history is not None and has_customer:
        history = history.join(contacts.select(s.CONTACT_ID), s.CONTACT_ID, "left_anti")  # a rerun replaces these
        history = history.filter(F.col(s.CUSTOMER_ID).isNotNull()).withColumn(HISTORY, F.lit(True))
        rows = rows.unionByName(history, allowMissingColumns=True)

    def score_partition(batches):
        frame = _whole(batches)
        if frame is None:
            return
        past = frame.loc[frame[HISTORY].astype(bool), history_columns]
        frame = frame[~frame[HISTORY].astype(bool)].drop(columns=[HISTORY]).reset_index(drop=True)
        scored = score_frame(workspace, _worker_model(model_dir), _restore(frame, workspace), past if len(past) else None)
        yield scored.reindex(columns=names)

    return rows.repartition(workspace.config.spark.partitions, key).mapInPandas(score_partition, schema)


def _restore(rows: pd.DataFrame, workspace) -> pd.DataFrame:
    """Types the ingested contacts had before Spark carried them (and before stored rows,
    which lack most columns, shared their partition): local times, flags, row numbers."""
    rows = rows.astype({FILE_ORDER: "int64", s.SOURCE_ROW: "int64", s.TEXT_TRUNCATED: bool})
    rows[s.SOURCE_ROW] = rows[s.SOURCE_ROW].astype(object)  # as io.read_contacts numbers rows
    if s.STARTED_AT in rows.columns:
        rows[s.STARTED_AT] = pd.to_datetime(rows[s.STARTED_AT], utc=True).dt.tz_convert(workspace.config.ingest.timezone)
    if s.RESOLVED in rows.columns:
        rows[s.RESOLVED] = rows[s.RESOLVED].astype("boolean")
    return rows


def _worker_model(model_dir: Path) -> LoadedModel:
    """The model, loaded once per Python worker: from the driver's path when the executor sees
    it (local mode, shared filesystem), else from a folder of that name in the working
    directory (``spark-submit --archives model.zip#<name>``)."""
    path = Path(model_dir) if Path(model_dir).exists() else Path(Path(model_dir).name).resolve()
    key = str(path)
    if key not in _models:
        _models[key] = load_model(path)
    return _models[key]


def read_stored(spark, store: Path, dates: list[str], text_columns: list[str] | None = None, except_batch: str | None = None):
    """The store's rows of ``dates`` as a Spark frame with ``contact_date`` (None when empty):
    all columns (schemas merged: optional columns may be absent from some files), or only the
    given text columns (null where a file lacks one, as ``read_store`` gives them); without the
    files of ``except_batch`` (the batch a rerun replaces)."""
    folders = [str(path) for _, path in store_files(store, dates, except_batch)]
    if not folders:
        return None
    reader = spark.read.option("basePath", str(store))
    if text_columns is None:
        return reader.option("mergeSchema", True).parquet(*folders)
    return reader.schema(", ".join(f"`{c}` string" for c in text_columns)).parquet(*folders).select(*text_columns)


# ---------------------------------------------------------------- writing

def write_store(scored, store: Path, batch: str) -> list[Path]:
    """One Parquet file per contact date, ``contact_date=D/batch=<batch>.parquet`` as
    ``store.write_batch`` lays it out: Spark writes into a hidden staging folder, then each file
    is renamed into place (atomically) and the batch's files of other dates are removed."""
    staging = Path(store) / f".staging-{batch}-{uuid.uuid4().hex[:8]}"
    try:
        (
            scored.repartition(s.CONTACT_DATE)
            .sortWithinPartitions(s.CONTACT_DATE, FILE_ORDER, s.SOURCE_ROW)
            .drop(FILE_ORDER)
            .write.partitionBy(s.CONTACT_DATE)
            .parquet(str(staging))
        )
        written = []
        for folder in sorted(staging.glob(f"{PARTITION}*")):
            parts = sorted(folder.glob("part-*.parquet"))
            if len(parts) != 1:
                raise RuntimeError(f"Spark wrote {len(parts)} files for {folder.name}; expected one")
            target = Path(store) / folder.name / f"batch={batch}.parquet"
            target.parent.mkdir(parents=True, exist_ok=True)
            sync_file(parts[0])
            parts[0].replace(target)
            sync_folder(target.parent)
            written.append(target)
        for stale in set(batch_files(store, batch)) - set(written):
            stale.unlink()
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    log.info("store - batch %s: %d partitions written by Spark", batch, len(written))
    return written


def write_scored(scored, output: Path) -> Path:
    """The ``score`` output: one Parquet file (renamed from Spark's single part) or a CSV file
    written by the local writer (Excel-safe), rows in input order."""
    ordered = scored.repartition(1).sortWithinPartitions(FILE_ORDER, s.SOURCE_ROW).drop(FILE_ORDER)
    output = Path(output)
    if output.suffix.lower() != ".parquet":
        return write_csv(ordered.toPandas(), output)
    staging = output.parent / f".staging-{output.name}-{uuid.uuid4().hex[:8]}"
    try:
        ordered.write.parquet(str(staging))
        parts = sorted(staging.glob("part-*.parquet"))
        output.parent.mkdir(parents=True, exist_ok=True)
        sync_file(parts[0])
        parts[0].replace(output)
        sync_folder(output.parent)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return output


def daily_counts_by_spark(spark, store: Path, as_of: date, settings) -> dict[tuple[str, ...], pd.DataFrame]:
    """``count_contacts`` for every grouping of the report, counted by Spark over the window."""
    from pyspark.sql import functions as F

    window = Window(as_of, settings.baseline_days)
    stored = read_stored(spark, store, [*window.history_dates, window.as_of_text])
    if stored is None:
        return None
    groupings = group_keys(settings, stored.columns)
    finest = list(dict.fromkeys(column for by in groupings for column in by))
    table = stored.groupBy(s.CONTACT_DATE, *finest).agg(F.count(F.lit(1)).alias("contacts")).toPandas()
    # the coarser groupings add up the finest one (a handful of rows a day); like pandas, a row
    # with a missing key is not counted in a grouping by that key
    return {
        tuple(by): table.groupby([s.CONTACT_DATE, *by], dropna=True)["contacts"].sum().astype("int64").reset_index()
        for by in groupings
    }


# ---------------------------------------------------------------- the jobs

def score_job(workspace, model_dir: Path, source: Path, output: Path, encoding: str | None = None, master: str | None = None) -> dict:
    """``jobs.score_job`` on Spark: same output file, same rejects file beside it."""
    from pipeline.jobs import check_tolerance

    config = workspace.config
    spark = spark_session(config.spark, spark_master(config, master))
    model_dir = Path(model_dir).resolve()
    files = find_input_files(source)
    ingested, rejects, read = ingest_files(spark, files, encoding or config.ingest.encoding, config, (s.CONTACT_ID, s.TEXT))
    try:
        rejects_path = Path(output).with_name(Path(output).stem + ".rejects.csv")
        write_csv(rejects, rejects_path)
        check_tolerance(read, rejects, config.ingest.reject_tolerance, rejects_path)
        contacts = _kept(ingested)
        write_scored(score(spark, contacts, None, workspace, model_dir), output)
    finally:
        ingested.unpersist()
    return {"read": read, "scored": read - len(rejects), "rejected": len(rejects), "output": str(output), "rejects": str(rejects_path)}


def _kept(ingested):
    from pyspark.sql import functions as F

    return ingested.filter(F.col(REJECTED).isNull()).drop(REJECTED)


def run_job(
    workspace, run_date: date, *, source: Path | None = None, model_dir: Path | None = None,
    encoding: str | None = None, master: str | None = None,
):
    """``jobs.run_job`` on Spark: the same store files, the same report files."""
    from pyspark.sql import functions as F

    from pipeline.jobs import Timer, counted, default_input, lookback_days, nightly_model_path, plan_night, publish
    from pipeline.report import build_report

    config = workspace.config
    timer = Timer()
    night = plan_night(workspace, run_date)
    with timer("spark_session"):
        spark = spark_session(config.spark, spark_master(config, master))
    with timer("load_model"):
        model_dir = nightly_model_path(workspace, model_dir)
        model = load_model(model_dir)
    with timer("ingest"):
        files = find_input_files(source or default_input(workspace, run_date))
        stored = read_stored(spark, night.store, None, except_batch=night.batch)
        stored_ids = None if stored is None else stored.select(s.CONTACT_ID, s.CONTACT_DATE)
        ingested, rejects, read = ingest_files(
            spark, files, encoding or config.ingest.encoding, config, s.REQUIRED_COLUMNS, stored_ids, not_after=night.not_after,
        )
    try:
        counts = counted(night, files, read, rejects, config.ingest.reject_tolerance)
        with timer("score_and_store"):
            contacts = _kept(ingested)
            recent = None
            bounds = contacts.agg(F.min(s.CONTACT_DATE), F.max(s.CONTACT_DATE)).first()
            if bounds[0] is not None and s.CUSTOMER_ID in contacts.columns:  # only the days a repeat can look back to
                days = lookback_days(date.fromisoformat(bounds[0]), date.fromisoformat(bounds[1]), config.effort.repeat_window_days)
                recent = read_stored(spark, night.store, days, [s.CONTACT_ID, s.CUSTOMER_ID, s.STARTED_AT, s.CHANNEL], except_batch=night.batch)
            write_store(score(spark, contacts, recent, workspace, model_dir), night.store, night.batch)
    finally:
        ingested.unpersist()
    with timer("report"):
        daily = daily_counts_by_spark(spark, night.store, run_date, config.hotspots)
        history = read_store(night.store, dates=night.window)
        labels = tuple(model.metadata.get("labels", ()))
        report = build_report(
            history, run_date, workspace.reasons(labels), config, workspace.tokenizer(), night.denominator, counts=daily
        )
    return publish(workspace, night, report, files, counts, model, timer, rejects, engine=" on Spark")

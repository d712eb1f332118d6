"""Throughput of the Spark engine with 1 and 2 local cores, and the scaling efficiency.

    python benchmarks/bench_spark.py [--contacts 200000] [--files 8] [--partitions 8]

Generates demo-like contacts (28 days) as a folder of CSV files (an export in parts: Spark
parses one CSV file with quoted newlines in one task, so a single file would make the read
serial), trains a small model on their labelled share, then, in
a fresh process per master (one SparkContext per process), runs ``score --engine spark`` into
Parquet twice: ingest, scoring (reason, effort, PII masking) and the write. The first run pays
for starting the Python workers, loading the model in each and warming the JVM; the second is
the steady state a nightly job on a long-running cluster sees, and gives the scaling
efficiency = (t1 / t2) / 2 (1.0 is perfect). The session start is not timed. Needs pyspark
and Java 17.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MASTERS = ("local[1]", "local[2]")


def prepare(folder: Path, contacts: int, parts: int = 8) -> tuple[Path, Path]:
    from pipeline.config import DEFAULT_CONFIG_DIR, load_config, load_taxonomy
    from pipeline.demo import generate_demo
    from pipeline.modelstore import save_model
    from pipeline.tokenize import read_user_words
    from pipeline.train import train_classifier

    config = load_config()
    data = generate_demo(load_taxonomy(DEFAULT_CONFIG_DIR / "taxonomy.yaml"), days=28, daily_mean=contacts / 28)
    source = folder / "contacts"
    source.mkdir()
    size = -(-len(data.contacts) // parts)
    for part, start in enumerate(range(0, len(data.contacts), size)):
        data.contacts.iloc[start:start + size].to_csv(source / f"part-{part:02d}.csv", index=False)
    labelled = data.labelled.groupby("reason", group_keys=False).head(60)
    settings = config.model.model_copy(update={"cv_folds": 0, "open_set_share": 0})
    trained = train_classifier(labelled["text"], labelled["reason"], settings, config.normalize, read_user_words(config.userdict))
    metadata = {"name": "bench", "version": "1", "unknown_threshold": trained.threshold, "labels": list(trained.model.classes_)}
    return source, save_model(trained.model, folder / "model", metadata)


def measure(master: str, source: Path, model: Path, partitions: int) -> dict:
    """One master, in this process: the scoring job, first and second run."""
    from pipeline.config import load_config
    from pipeline.jobs import Workspace
    from pipeline.spark_engine import score_job, spark_session

    config = load_config()
    config = config.model_copy(update={"spark": config.spark.model_copy(update={
        "partitions": partitions, "conf": {"spark.ui.enabled": "false", "spark.ui.showConsoleProgress": "false"}})})
    workspace = Workspace(config, source.parent)
    spark_session(config.spark, master).sparkContext.setLogLevel("ERROR")
    seconds = []
    for run in (1, 2):
        started = time.perf_counter()
        summary = score_job(workspace, model, source, source.with_name(f"scored-{master[6]}-{run}.parquet"), master=master)
        seconds.append(round(time.perf_counter() - started, 2))
    return {"master": master, "rows": summary["scored"], "first_s": seconds[0], "seconds": seconds[1], "rows_per_s": round(summary["scored"] / seconds[1])}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--contacts", type=int, default=200_000)
    parser.add_argument("--files", type=int, default=8, help="CSV files the contacts are written to")
    parser.add_argument("--partitions", type=int, default=8, help="partitions ingest and scoring run on (spark.partitions)")
    parser.add_argument("--measure", nargs=3, metavar=("MASTER", "SOURCE", "MODEL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        master, source, model = args.measure
        print(json.dumps(measure(master, Path(source), Path(model), args.partitions)))
        return 0
    try:
        import pyspark  # noqa: F401
    except ImportError:
        print("skipped: pyspark is not installed (pip install -e '.[spark]')")
        return 0
    from pipeline.config import java_available

    if not java_available():
        print("skipped: Java 17 is not installed")
        return 0
    env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1", "PYSPARK_PYTHON": sys.executable}
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        source, model = prepare(Path(folder), args.contacts, args.files)
        print(f"{args.contacts} contacts generated and a model trained in {time.perf_counter() - started:.0f} s")
        results = {}
        for master in MASTERS:
            command = [sys.executable, __file__, "--partitions", str(args.partitions), "--measure", master, str(source), str(model)]
            output = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
            results[master] = json.loads(output.strip().splitlines()[-1])
            r = results[master]
            print(f"{master}: {r['rows']} contacts in {r['seconds']} s ({r['rows_per_s']} contacts/s); first run {r['first_s']} s")
    t1, t2 = results["local[1]"]["seconds"], results["local[2]"]["seconds"]
    print(f"scaling efficiency 1 -> 2 cores: (t1/t2)/2 = ({t1}/{t2})/2 = {t1 / t2 / 2:.2f} (target >= 0.8)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

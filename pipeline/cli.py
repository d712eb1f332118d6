"""The command line: parse, call a job, turn named exceptions into one line and an exit code.

Exit codes: 0 success; 1 failed run; 2 bad usage or config; 3 input rejected beyond tolerance.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import warnings
from datetime import date
from pathlib import Path

from pipeline import __version__
from pipeline.errors import ConfigError, PipelineError

log = logging.getLogger("pipeline")

EXAMPLES = {
    "demo": "contact-reasons demo --out demo-output",
    "train": "contact-reasons train --data labelled.csv --text-col text --label-col reason --out models/mine/1",
    "evaluate": "contact-reasons evaluate --model models/mine/1 --data test.csv --label-col reason",
    "score": "contact-reasons score --model models/mine/1 --input contacts.csv --output scored.parquet",
    "report": "contact-reasons report --scored scored.parquet --as-of 2026-11-20 --out reports/2026-11-20",
    "run": "contact-reasons run --date 2026-11-20 --input incoming/2026-11-20.csv",
    "promote": "contact-reasons promote --model models/contact-reasons/4 --data holdout.csv",
    "review": "contact-reasons review export --date 2026-11-20 --data labelled.csv --out review_queue.csv",
    "review import": "contact-reasons review import --queue review_queue.csv --data labelled.csv --reviewer wang.li --retrain",
    "taxonomy": "contact-reasons taxonomy check --data labelled.csv",
}


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a date like 2026-11-20") from None


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", type=Path, help="pipeline.yaml (default: the shipped configs/pipeline.yaml)")
    common.add_argument("--home", type=Path, default=Path("."), help="folder that models/, store/, reports/ and mlflow/ live in (default: .)")
    common.add_argument("--quiet", action="store_true", help="only errors")
    common.add_argument("-v", "--verbose", action="store_true", help="debug logging")

    parser = argparse.ArgumentParser(
        prog="contact-reasons",
        description="Why customers contact you, and which contacts to eliminate, automate, simplify or leverage.",
        epilog="Run `contact-reasons COMMAND --help` for a command's options and an example.",
    )
    parser.add_argument("--version", action="version", version=f"contact-reasons {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        return commands.add_parser(
            name, parents=[common], help=help_text, description=help_text,
            epilog=f"example:\n  {EXAMPLES[name]}", formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    demo = command("demo", "write the built-in demo contacts, train, run the nightly job for the last day")
    demo.add_argument("--out", type=Path, default=Path("demo-output"), help="folder for everything the demo writes")
    demo.add_argument("--seed", type=int, help="demo data seed (default: the fixed demo seed)")

    train = command("train", "train and evaluate a reason classifier, log it to MLflow, write the model directory")
    train.add_argument("--data", type=Path, help="labelled CSV / JSONL / Parquet (required unless --rules)")
    train.add_argument("--rules", action="store_true", help="no labels yet: write a model directory of the taxonomy's keyword rules (cold start)")
    train.add_argument("--text-col", help="text column (default: text)")
    train.add_argument("--label-col", help="label column (default: reason)")
    train.add_argument("--root-cause-col", help="root-cause label column, when the data has one")
    train.add_argument("--out", type=Path, help="model directory (default: models/<name>/<next version>)")
    train.add_argument("--no-tracking", action="store_true", help="do not log the run to MLflow")

    evaluate = command("evaluate", "score labelled data with a model, write metrics.json beside the model")
    evaluate.add_argument("--model", type=Path, required=True, help="model directory")
    evaluate.add_argument("--data", type=Path, required=True, help="labelled CSV / JSONL / Parquet")
    evaluate.add_argument("--text-col", help="text column (default: text)")
    evaluate.add_argument("--label-col", help="label column (default: reason)")

    score = command("score", "score contacts with a model (CSV or Parquet out)")
    score.add_argument("--model", type=Path, required=True, help="model directory")
    score.add_argument("--input", type=Path, required=True, help="contacts file, folder or glob")
    score.add_argument("--output", type=Path, required=True, help="scored file (.csv or .parquet)")
    score.add_argument("--encoding", help="input encoding (default: detected)")
    add_engine_options(score)

    report = command("report", "hotspot reports from scored contacts")
    report.add_argument("--scored", type=Path, nargs="+", required=True, help="scored files from `score`")
    report.add_argument("--as-of", type=_date, required=True, help="report day (YYYY-MM-DD)")
    report.add_argument("--out", type=Path, required=True, help="report folder")

    promote = command("promote", "make a model the champion the nightly job uses, only if it beats the current one")
    promote.add_argument("--model", type=Path, required=True, help="candidate model directory")
    promote.add_argument("--data", type=Path, required=True, help="labelled evaluation data (both models are scored on it)")
    promote.add_argument("--text-col", help="text column (default: text)")
    promote.add_argument("--label-col", help="label column (default: reason)")

    run = command("run", "the nightly job: ingest the day's contacts, score, store, report")
    run.add_argument("--date", type=_date, required=True, help="run date (YYYY-MM-DD)")
    run.add_argument("--input", type=Path, help="contacts file, folder or glob (default: incoming/<date>*)")
    run.add_argument("--model", type=Path, help="model directory (default: the champion, else the latest under models/<name>/)")
    run.add_argument("--encoding", help="input encoding (default: detected)")
    add_engine_options(run)

    def group(name: str, help_text: str, example: str):
        parent = commands.add_parser(
            name, help=help_text, description=help_text, epilog=f"example:\n  {example}",
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        return parent.add_subparsers(dest="action", required=True, metavar="ACTION")

    review = group("review", "the human review loop: export the contacts worth a look, import the answers",
                   f"{EXAMPLES['review']}\n  {EXAMPLES['review import']}")
    export = review.add_parser("export", parents=[common], help="write review_queue.csv ranked by the value of a look",
                               description="write review_queue.csv ranked by the value of a look", epilog=f"example:\n  {EXAMPLES['review']}",
                               formatter_class=argparse.RawDescriptionHelpFormatter)
    export.add_argument("--date", type=_date, help="the night of the store to review (default: the latest)")
    export.add_argument("--scored", type=Path, nargs="+", help="scored files instead of the store")
    export.add_argument("--data", type=Path, help="labelled set to check for likely label errors")
    export.add_argument("--text-col", help="text column of --data (default: text)")
    export.add_argument("--label-col", help="label column of --data (default: reason)")
    export.add_argument("--out", type=Path, default=Path("review_queue.csv"), help="queue file (default: review_queue.csv)")
    imported = review.add_parser("import", parents=[common], help="add a filled review_queue.csv to the labelled set",
                                 description="add a filled review_queue.csv to the labelled set", epilog=f"example:\n  {EXAMPLES['review import']}",
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    imported.add_argument("--queue", type=Path, required=True, help="the filled review_queue.csv")
    imported.add_argument("--data", type=Path, required=True, help="labelled set to update (.csv or .parquet; created if absent)")
    imported.add_argument("--reviewer", help="reviewer for rows whose reviewer cell is empty")
    imported.add_argument("--text-col", help="text column of --data (default: text)")
    imported.add_argument("--label-col", help="label column of --data (default: reason)")
    imported.add_argument("--retrain", action="store_true", help="train a new model version on the updated set")

    taxonomy = group("taxonomy", "check the taxonomy: overlapping keywords, size, translations, labels", EXAMPLES["taxonomy"])
    check = taxonomy.add_parser("check", parents=[common], help="lint the taxonomy; exit 1 with one line per finding",
                                description="lint the taxonomy; exit 1 with one line per finding", epilog=f"example:\n  {EXAMPLES['taxonomy']}",
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    check.add_argument("--taxonomy", type=Path, help="taxonomy.yaml (default: the config's)")
    check.add_argument("--data", type=Path, help="labelled set: labels outside the taxonomy, reasons with too few examples")
    check.add_argument("--text-col", help="text column of --data (default: text)")
    check.add_argument("--label-col", help="label column of --data (default: reason)")
    return parser


def add_engine_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--engine", choices=("local", "spark"), default="local", help="where scoring runs (default: local)")
    command.add_argument("--master", help="Spark master URL for --engine spark: local[*], spark://host:7077, yarn, k8s://… (default: spark.master in the config)")


def configure_logging(quiet: bool, verbose: bool) -> None:
    level = logging.ERROR if quiet else logging.DEBUG if verbose else logging.INFO
    # MLflow would add its own stderr handler when imported; ours (below) gets its records instead
    os.environ.setdefault("MLFLOW_CONFIGURE_LOGGING", "false")
    # nor draw a progress bar for the few small files it copies when logging a model
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr, force=True)
    for noisy in ("jieba", "mlflow", "alembic", "urllib3", "git", "py4j"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
    if not verbose:
        warnings.filterwarnings("ignore", module="mlflow")


def dispatch(args: argparse.Namespace) -> int:
    from pipeline.config import load_config, start_worker_server, worker_count

    config = load_config(args.config)
    if args.command == "run" and args.engine == "local" and worker_count(config.runtime) > 1:
        start_worker_server()  # its imports beside ours (next line), not after them
    from pipeline import jobs

    home = args.out if args.command == "demo" else args.home
    workspace = jobs.Workspace(config, home)
    if args.command == "demo":
        outcome = jobs.demo_job(workspace, seed=args.seed)
        print(f"demo: {outcome.counts['rows_scored']} contacts scored; reports in {outcome.reports}")
        print(f"open {outcome.reports / 'hotspots.csv'} (Excel) or {outcome.reports / 'report.html'} (browser)")
    elif args.command == "train" and args.rules:
        print(f"keyword-rule model (cold start) in {jobs.save_rule_model(workspace, args.out)}")
    elif args.command == "train":
        if args.data is None:
            raise ConfigError("train needs --data labelled.csv (or --rules for a keyword-rule model)")
        trained = jobs.train_job(
            workspace, args.data, text_col=args.text_col, label_col=args.label_col,
            root_cause_col=args.root_cause_col, out=args.out, track=not args.no_tracking,
        )
        print(
            f"trained: accuracy {trained.metrics['accuracy']:.3f}, macro-F1 {trained.metrics['macro_f1']:.3f} "
            f"(held out); model in {trained.model_dir}" + (f"; MLflow run {trained.run_id}" if trained.run_id else "")
        )
    elif args.command == "evaluate":
        metrics = jobs.evaluate_job(workspace, args.model, args.data, text_col=args.text_col, label_col=args.label_col)
        print(json.dumps({k: v for k, v in metrics.items() if k not in ("per_class", "data")}, ensure_ascii=False, indent=2))
        print(f"metrics written to {Path(args.model) / 'metrics.json'}")
    elif args.command == "score":
        summary = jobs.score_job(workspace, args.model, args.input, args.output, args.encoding, args.engine, args.master)
        print(f"scored {summary['scored']} of {summary['read']} rows into {summary['output']}; {summary['rejected']} rejected ({summary['rejects']})")
    elif args.command == "report":
        out = jobs.report_job(workspace, args.scored, args.as_of, args.out)
        print(f"reports in {out}")
    elif args.command == "promote":
        evidence = jobs.promote_job(workspace, args.model, args.data, text_col=args.text_col, label_col=args.label_col)
        previous = f"{evidence['previous']:.4f}" if evidence["previous"] is not None else "none"
        print(f"promoted {args.model}: {evidence['metric']} {evidence['candidate']:.4f} (champion before: {previous})")
    elif args.command == "run":
        outcome = jobs.run_job(
            workspace, args.date, source=args.input, model_dir=args.model, encoding=args.encoding, engine=args.engine, master=args.master
        )
        c = outcome.counts
        print(f"run {args.date}: {c['rows_read']} read, {c['rows_scored']} scored, {c['rows_rejected']} rejected; reports in {outcome.reports}")
    else:
        return dispatch_review(workspace, args)
    return 0


def dispatch_review(workspace, args: argparse.Namespace) -> int:
    from pipeline import review_jobs

    if args.command == "review" and args.action == "export":
        summary = review_jobs.review_export_job(
            workspace, args.out, scored_files=args.scored, day=args.date, data=args.data,
            text_col=args.text_col, label_col=args.label_col,
        )
        print(f"review queue: {summary['rows']} rows {summary['kinds']} in {summary['queue']}; fill correct_reason and reviewer, then `review import`")
    elif args.command == "review":
        summary, trained = review_jobs.review_import_job(
            workspace, args.queue, args.data, reviewer=args.reviewer, text_col=args.text_col,
            label_col=args.label_col, retrain=args.retrain, track=True,
        )
        print(f"imported {summary['reviewed']} reviewed rows into {summary['data']}: {summary['relabelled']} relabelled, {summary['added']} added")
        if trained is not None:
            print(f"retrained: macro-F1 {trained.metrics['macro_f1']:.3f} (held out); model in {trained.model_dir}")
    else:
        findings = review_jobs.taxonomy_check_job(workspace, args.taxonomy, args.data, args.text_col, args.label_col)
        for finding in findings:
            print(finding)
        if findings:
            print(f"{len(findings)} finding(s)", file=sys.stderr)
            return 1
        print("taxonomy ok: no findings")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args.quiet, args.verbose)
    try:
        return dispatch(args)
    except ConfigError as error:
        print(f"contact-reasons: config error: {error}", file=sys.stderr)
        return error.exit_code
    except PipelineError as error:
        print(f"contact-reasons: {error}", file=sys.stderr)
        return error.exit_code
    except BrokenPipeError:  # `contact-reasons evaluate … | head`: the reader left, nothing is wrong
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("contact-reasons: interrupted; nothing half-written (rerun the same command)", file=sys.stderr)
        return 1
    except Exception as error:  # the last line of defence: never a traceback for the user
        log.debug("unexpected error", exc_info=True)
        print(
            f"contact-reasons: internal error ({type(error).__name__}: {error}); rerun with -v and report it",
            file=sys.stderr,
        )
        return 1

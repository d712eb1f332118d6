"""The nightly job at scale: contacts per second and peak memory, beside the obvious notebook.

For each size, ``n`` contacts of realistic length are generated into a temporary CSV: each one
stitches transcripts of one reason from the demo's labelled data (simplified, traditional /
Cantonese and English turns, as the demo mixes them) up to a length drawn log-uniformly from
50–2,000 characters, with customers (so repeat contacts occur), channels and handle times. A model
is trained once on the demo's labelled data. Then, each in a child process of its own:

* **run** - the real ``contact-reasons run`` (ingest, score, store, reports), timed end to end;
* **notebook** - what a user would write instead: ``pd.read_csv``, ``TfidfVectorizer`` with
  ``jieba.lcut`` as tokenizer and ``LogisticRegression``, trained on the same labelled data
  (training not timed), then predicting every contact and counting per reason (timed). Plain
  jieba segments ~0.4 M chars/s, so by default it is timed on at most ``--notebook-n`` contacts
  of the same file and its rate extrapolated (``--notebook-n 0`` times it on all).

Peak memory: the RSS of the largest single process (``wait4``) and the whole process tree's
(the run's workers included) proportional set size, sampled from /proc every 0.5 s.

    python benchmarks/bench_nightly.py [--sizes 100000 1000000] [--workers N] [--notebook-n 100000]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.config import load_config, load_taxonomy, write_config

RUN_DATE = date(2026, 11, 20)
TARGET_SECONDS_1M, TARGET_RATIO, TARGET_RSS_GB, TARGET_GROWTH = 600, 10.0, 2.0, 1.3


# ---------------------------------------------------------------- data

def labelled_data() -> pd.DataFrame:
    from pipeline.demo import generate_demo

    return generate_demo(load_taxonomy(load_config().taxonomy)).labelled[["text", "reason"]]


def write_contacts(labelled: pd.DataFrame, n: int, path: Path, seed: int = 7, block: int = 50_000) -> float:
    """``n`` contacts into ``path``, written in blocks; returns the mean text length."""
    rng = np.random.default_rng(seed)
    pools = {reason: group["text"].tolist() for reason, group in labelled.groupby("reason")}
    reasons = list(pools)
    channels = np.array(["phone", "chat", "email", "app", "store"])
    start = pd.Timestamp(RUN_DATE.isoformat() + "T00:00:00+08:00")
    total_chars = 0
    for first in range(0, n, block):
        size = min(block, n - first)
        lengths = np.exp(rng.uniform(np.log(50), np.log(2000), size)).astype(int)
        texts = []
        for length, reason in zip(lengths, rng.choice(reasons, size)):
            pool, parts, have = pools[reason], [], 0
            while have < length:
                part = pool[rng.integers(len(pool))]
                parts.append(part)
                have += len(part) + 1
            texts.append("\n".join(parts)[:length])
        total_chars += sum(map(len, texts))
        seconds = rng.integers(0, 86_400, size)
        frame = pd.DataFrame(
            {
                "contact_id": [f"B{first + i:08d}" for i in range(size)],
                "started_at": [(start + pd.Timedelta(seconds=int(s))).isoformat() for s in seconds],
                "channel": rng.choice(channels, size),
                "customer_id": [f"U{c:07d}" for c in rng.integers(0, max(n // 3, 1), size)],
                "text": texts,
                "handle_time_s": rng.integers(30, 1_800, size),
                "wait_time_s": rng.integers(0, 900, size),
                "transfers": rng.poisson(0.3, size),
                "resolved": rng.random(size) > 0.2,
            }
        )
        frame.to_csv(path, mode="w" if first == 0 else "a", header=first == 0, index=False)
    return total_chars / max(n, 1)


def train_model(labelled: pd.DataFrame, folder: Path) -> Path:
    from pipeline.modelstore import save_model
    from pipeline.tokenize import read_user_words
    from pipeline.train import train_classifier

    config = load_config()
    settings = config.model.model_copy(update={"cv_folds": 0})
    trained = train_classifier(labelled["text"], labelled["reason"], settings, config.normalize, read_user_words(config.userdict))
    metadata = {"name": "bench", "version": "1", "unknown_threshold": trained.threshold, "labels": sorted(trained.label_counts)}
    return save_model(trained.model, folder / "model", metadata)


# ---------------------------------------------------------------- measuring a child process

def tree_rss(root: int) -> int:
    """Memory of ``root`` and all its descendants, from /proc: the proportional set size (PSS,
    pages shared between the pool's forked workers counted once overall), else resident size."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    ppid = int(handle.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            parents.setdefault(ppid, []).append(int(entry))
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        todo.extend(parents.get(pid, []))
        try:
            with open(f"/proc/{pid}/smaps_rollup") as handle:
                total += next(int(line.split()[1]) * 1024 for line in handle if line.startswith("Pss:"))
        except (OSError, StopIteration, ValueError):
            try:
                with open(f"/proc/{pid}/statm") as handle:
                    total += int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
            except (OSError, IndexError, ValueError):
                continue
    return total


def measure(command: list[str]) -> dict:
    """Run ``command``; wall seconds, peak RSS of its largest process and of its process tree."""
    import subprocess

    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        child = subprocess.Popen(command, stdout=out, stderr=err)
        peak_tree, done = 0, threading.Event()

        def sample() -> None:
            nonlocal peak_tree
            while not done.is_set():
                peak_tree = max(peak_tree, tree_rss(child.pid))
                done.wait(0.5)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(child.pid, 0)  # this child's own rusage, not every child's so far
        seconds = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        done.set()
        sampler.join()
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if child.returncode != 0:
        raise SystemExit(f"{' '.join(command[:4])} … failed ({child.returncode}):\n{stderr[-2000:]}")
    # ru_maxrss: the largest of the child and the descendants it waited for, in KiB
    return {"seconds": seconds, "largest_rss": usage.ru_maxrss * 1024, "tree_rss": max(peak_tree, usage.ru_maxrss * 1024), "stdout": stdout}


# ---------------------------------------------------------------- the notebook baseline

def notebook(labelled_csv: str, contacts_csv: str, limit: int) -> None:
    """The obvious notebook, as a user would write it; prints seconds and contacts as JSON."""
    import jieba
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    jieba.setLogLevel(60)
    labelled = pd.read_csv(labelled_csv)
    vectorizer = TfidfVectorizer(tokenizer=jieba.lcut, token_pattern=None, ngram_range=(1, 2), min_df=2, sublinear_tf=True)
    classifier = LogisticRegression(max_iter=1000).fit(vectorizer.fit_transform(labelled["text"]), labelled["reason"])

    started = time.perf_counter()
    contacts = pd.read_csv(contacts_csv, nrows=limit or None)
    contacts["reason"] = classifier.predict(vectorizer.transform(contacts["text"].fillna("")))
    per_reason = contacts.groupby("reason").size().sort_values(ascending=False)
    seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "contacts": len(contacts), "reasons": len(per_reason)}))


# ---------------------------------------------------------------- main

def run_config(folder: Path, workers: int | None) -> Path:
    return write_config(folder / "pipeline.yaml", runtime={"workers": workers})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[20_000], help="contacts per run (default 20000; the issue's figures: 100000 1000000)")
    parser.add_argument("--workers", type=int, help="runtime.workers for the run (default: every core)")
    parser.add_argument("--notebook-n", type=int, default=100_000, help="contacts the notebook is timed on, its rate extrapolated (0 = all)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--notebook-child", nargs=3, metavar=("LABELLED", "CONTACTS", "LIMIT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.notebook_child:
        notebook(args.notebook_child[0], args.notebook_child[1], int(args.notebook_child[2]))
        return

    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-nightly-") as temporary:
        folder = Path(temporary)
        labelled = labelled_data()
        labelled_csv = folder / "labelled.csv"
        labelled.to_csv(labelled_csv, index=False)
        print(f"training the model once on {len(labelled):,} labelled demo contacts …", file=sys.stderr)
        model = train_model(labelled, folder)
        config = run_config(folder, args.workers)
        workers = load_config(config).runtime
        from pipeline.config import worker_count

        for n in args.sizes:
            contacts = folder / f"contacts-{n}.csv"
            mean_chars = write_contacts(labelled, n, contacts, args.seed)
            print(f"{n:,} contacts, mean {mean_chars:.0f} chars, {contacts.stat().st_size / 1e6:.0f} MB of CSV", file=sys.stderr)
            home = folder / f"home-{n}"
            run = measure([
                sys.executable, "-m", "pipeline", "run", "--date", RUN_DATE.isoformat(), "--input", str(contacts),
                "--model", str(model), "--home", str(home), "--config", str(config), "--quiet",
            ])
            limit = min(n, args.notebook_n) if args.notebook_n else n
            book = measure([sys.executable, __file__, "--notebook-child", str(labelled_csv), str(contacts), str(limit)])
            timed = json.loads(book["stdout"].strip().splitlines()[-1])
            rows.append({"engine": f"run ({worker_count(workers)} workers)", "n": n, "seconds": run["seconds"], "rate": n / run["seconds"],
                         "largest_rss": run["largest_rss"], "tree_rss": run["tree_rss"], "timed_on": n, "chars": mean_chars})
            rows.append({"engine": "notebook", "n": n, "seconds": timed["seconds"] * n / timed["contacts"],
                         "rate": timed["contacts"] / timed["seconds"], "largest_rss": book["largest_rss"], "tree_rss": book["tree_rss"],
                         "timed_on": timed["contacts"], "chars": mean_chars})
            print_table(rows)
    print_verdict(rows)


def print_table(rows: list[dict]) -> None:
    print(f"\n{'engine':<18}{'n':>10}{'seconds':>10}{'contacts/s':>12}{'peak RSS':>10}{'tree PSS':>10}{'ratio':>8}  note")
    for row in rows:
        base = next((r for r in rows if r["engine"] == "notebook" and r["n"] == row["n"]), None)
        ratio = row["rate"] / base["rate"] if base else float("nan")
        note = f"timed on {row['timed_on']:,}, extrapolated" if row["timed_on"] < row["n"] else ""
        print(
            f"{row['engine']:<18}{row['n']:>10,}{row['seconds']:>10.1f}{row['rate']:>12,.0f}"
            f"{row['largest_rss'] / 2**30:>9.2f}G{row['tree_rss'] / 2**30:>9.2f}G{ratio:>7.1f}x  {note}"
        )


def print_verdict(rows: list[dict]) -> None:
    runs = {row["n"]: row for row in rows if row["engine"].startswith("run")}
    books = {row["n"]: row for row in rows if row["engine"] == "notebook"}
    largest = max(runs)
    print(f"\ntargets (issue 6), at the largest size measured ({largest:,}):")
    seconds_1m = runs[largest]["seconds"] * 1_000_000 / largest
    print(f"  1M in <= {TARGET_SECONDS_1M} s: {seconds_1m:.0f} s" + ("" if largest == 1_000_000 else " (extrapolated linearly)"))
    print(f"  >= {TARGET_RATIO:.0f}x the notebook: {runs[largest]['rate'] / books[largest]['rate']:.1f}x")
    print(f"  peak RSS <= {TARGET_RSS_GB} GB: largest process {runs[largest]['largest_rss'] / 2**30:.2f} GB, process tree (PSS) {runs[largest]['tree_rss'] / 2**30:.2f} GB")
    if len(runs) > 1:
        smallest = min(runs)
        growth = {kind: runs[largest][kind] / runs[smallest][kind] for kind in ("largest_rss", "tree_rss")}
        print(
            f"  RSS at {largest:,} within {TARGET_GROWTH}x of {smallest:,}: largest process {growth['largest_rss']:.3f}x "
            f"({runs[smallest]['largest_rss'] / 2**20:,.0f} -> {runs[largest]['largest_rss'] / 2**20:,.0f} MiB), "
            f"process tree (PSS) {growth['tree_rss']:.3f}x"
        )


if __name__ == "__main__":
    main()

"""Throughput of the text stages: normalize + tokenize, against plain ``jieba.lcut``.

The pair is what the model runs on every contact: ``prepare_texts`` with the shipped normalize
settings, then the ``Tokenizer`` with ``configs/userdict.txt`` (and the stop words when the config
removes them). ``jieba.lcut`` (default dictionary, HMM on) segments the same raw texts. Target:
the pair at least 10× jieba's characters per second.

Texts: windows of 1–3 consecutive lines of the JDDC customer-service chats
(``../shared/data/jddc_chat/train.enc``, each line a comma-joined stretch of a chat) when that
file is present, otherwise the demo contacts, repeated. jieba is timed on a random subset of the
texts (``--jieba-n``) and its rate extrapolated: at under 1 M chars/s it would take minutes on all.
Each timing is the best of ``--repeat`` passes (other work on the machine only ever slows a pass).

The pair is timed on one core, and on every core (``--workers``) through the process pool the
nightly job scores with (``pipeline.batch.ordered_map``, chunks of ``runtime.chunk_rows`` texts,
engines built once per worker before the clock starts, as on one core). ``jieba.lcut`` is timed
on one core: the notebook it stands for runs on one.

    python benchmarks/bench_text.py [--n 100000] [--seed 7] [--jieba-n 20000] [--repeat 3] [--workers N]
"""

from __future__ import annotations

import argparse
import logging
import random
import time
from pathlib import Path

import jieba

from pipeline.batch import ordered_map
from pipeline.config import load_config, load_taxonomy, worker_count
from pipeline.demo import generate_demo
from pipeline.features import build_text_preparation
from pipeline.normalize import prepare_texts
from pipeline.tokenize import Tokenizer, read_stopwords, read_user_words

JDDC = Path(__file__).resolve().parents[2] / "shared" / "data" / "jddc_chat" / "train.enc"
TARGET = 10.0


def chat_windows(path: Path, count: int, rng: random.Random) -> list[str]:
    """``count`` texts, each 1–3 consecutive lines of ``path`` from a random start."""
    lines = [line for line in path.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()]
    texts = []
    for _ in range(count):
        start, size = rng.randrange(len(lines)), rng.randint(1, 3)
        texts.append("\n".join(lines[start : start + size]))
    return texts


def demo_texts(count: int) -> list[str]:
    contacts = generate_demo(load_taxonomy(load_config().taxonomy)).contacts["text"].tolist()
    return (contacts * (count // len(contacts) + 1))[:count]


_STAGE: dict = {}


def start_text_worker(options: dict, tokenizer: Tokenizer) -> None:
    """Build the engines once per worker, as the nightly job's workers do when loading the model."""
    jieba.setLogLevel(logging.WARNING)
    _STAGE["options"], _STAGE["tokenizer"] = options, tokenizer
    tokenizer(" ".join(prepare_texts(["客户：我的宽带断了 broadband is down"], **options)))


def text_stage(texts: list[str]) -> int:
    """normalize + tokenize of a chunk in a worker; only the token count travels back."""
    tokenizer = _STAGE["tokenizer"]
    return sum(len(tokenizer(text)) for text in prepare_texts(texts, **_STAGE["options"]))


def all_cores(texts: list[str], options: dict, tokenizer: Tokenizer, workers: int, chunk: int, repeat: int) -> float:
    """Best seconds of ``repeat`` passes of the pair over ``texts`` on a warm pool of ``workers``."""
    chunks = [texts[start : start + chunk] for start in range(0, len(texts), chunk)]
    warm = [chunks[0][:1]] * workers  # every worker initialised before the clock starts
    best = float("inf")
    for _ in range(repeat):
        results = ordered_map(text_stage, [*warm, *chunks], workers, start_text_worker, (options, tokenizer))
        for _ in warm:
            next(results)
        started = time.perf_counter()
        sum(results)
        best = min(best, time.perf_counter() - started)
    return best


def timed(work, repeat: int) -> tuple[float, object]:
    """Best wall-clock seconds of ``repeat`` calls, and the last result."""
    best, result = float("inf"), None
    for _ in range(repeat):
        started = time.perf_counter()
        result = work()
        best = min(best, time.perf_counter() - started)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="number of texts (default 100000)")
    parser.add_argument("--seed", type=int, default=7, help="seed for the windows and the jieba subset")
    parser.add_argument("--jieba-n", type=int, default=20_000, help="texts jieba.lcut is timed on (default 20000)")
    parser.add_argument("--repeat", type=int, default=3, help="passes per timing, the best counts (default 3)")
    parser.add_argument("--workers", type=int, help="processes for the all-core timing (default: runtime.workers, every core)")
    args = parser.parse_args()

    config = load_config()
    rng = random.Random(args.seed)
    if JDDC.exists():
        source, texts = f"JDDC chat windows of 1-3 lines ({JDDC})", chat_windows(JDDC, args.n, rng)
    else:
        source, texts = "demo contacts, repeated (JDDC sample not found)", demo_texts(args.n)
    chars = sum(map(len, texts))
    options = build_text_preparation(config.normalize).kw_args  # exactly the model's first step
    stopwords = read_stopwords(config.stopwords) if config.model.remove_stopwords else frozenset()
    tokenizer = Tokenizer(user_words=read_user_words(config.userdict), stopwords=stopwords)

    # dictionaries and engines load once per process: not part of the rate
    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    tokenizer(" ".join(prepare_texts(texts[:200], **options)))

    normalize_seconds, prepared = timed(lambda: prepare_texts(texts, **options), args.repeat)
    tokenize_seconds, _ = timed(lambda: [tokenizer(text) for text in prepared], args.repeat)
    pair_seconds = normalize_seconds + tokenize_seconds
    workers = args.workers or worker_count(config.runtime)
    pool_seconds = all_cores(texts, options, tokenizer, workers, config.runtime.chunk_rows, args.repeat)
    subset = rng.sample(texts, min(args.jieba_n, len(texts)))
    subset_chars = sum(map(len, subset))
    jieba_seconds, _ = timed(lambda: [jieba.lcut(text) for text in subset], args.repeat)

    pair_rate, jieba_rate, pool_rate = chars / pair_seconds, subset_chars / jieba_seconds, chars / pool_seconds
    ratio, pool_ratio = pair_rate / jieba_rate, pool_rate / jieba_rate
    print(f"texts:              {len(texts):,} ({source}); best of {args.repeat} passes")
    print(f"total chars:        {chars:,} ({chars / len(texts):.0f} per text)")
    print(f"normalize:          {chars / normalize_seconds / 1e6:6.2f} M chars/s ({normalize_seconds:.1f} s)")
    print(f"tokenize:           {chars / tokenize_seconds / 1e6:6.2f} M chars/s of raw text ({tokenize_seconds:.1f} s)")
    print(f"normalize+tokenize: {pair_rate / 1e6:6.2f} M chars/s ({pair_seconds:.1f} s)")
    print(
        f"jieba.lcut:         {jieba_rate / 1e6:6.2f} M chars/s ({jieba_seconds:.1f} s on a random {len(subset):,} of the texts, "
        f"{subset_chars:,} chars; rate extrapolated to all)"
    )
    print(f"on {workers} processes:     {pool_rate / 1e6:6.2f} M chars/s ({pool_seconds:.1f} s, the nightly job's pool, warm)")
    print(f"ratio, one core:    {ratio:.1f}x jieba.lcut - {'meets' if ratio >= TARGET else 'MISSES'} the >= {TARGET:.0f}x target")
    print(f"ratio, {workers} processes: {pool_ratio:.1f}x jieba.lcut on one core - {'meets' if pool_ratio >= TARGET else 'MISSES'} the >= {TARGET:.0f}x target")


if __name__ == "__main__":
    main()

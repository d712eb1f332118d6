"""One nightly run at a time per store, and a clean slate after a crash.

The lock is ``fcntl.flock`` on ``<store>/.run.lock``. The kernel drops it when the holding
process ends, however it ends (kill -9 included), so a crash never leaves a stale lock behind. A
second run polls for the lock for ``run.lock_timeout_s`` seconds and then fails with
``RunLocked``. Once it holds the lock a run clears what a killed run may have left: temporary
files and half-built report folders (see ``io.remove_leftovers``).
"""

from __future__ import annotations

import fcntl
import functools
import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from pipeline.errors import PipelineError, RunLocked
from pipeline.io import remove_leftovers

log = logging.getLogger(__name__)

LOCK_FILE = ".run.lock"
POLL_SECONDS = 0.1
Job = TypeVar("Job", bound=Callable)


@contextmanager
def run_lock(store: Path, timeout_s: float, holder: str = "run") -> Iterator[Path]:
    """Hold the store's lock for the duration of the block; wait up to ``timeout_s`` for it."""
    store = Path(store)
    store.mkdir(parents=True, exist_ok=True)
    path = store / LOCK_FILE
    with open(path, "a+", encoding="utf-8") as handle:
        _acquire(handle, path, timeout_s)
        try:
            handle.seek(0)
            handle.truncate()
            started = datetime.now(UTC).isoformat(timespec="seconds")
            handle.write(f"{holder} (pid {os.getpid()}, since {started})\n")
            handle.flush()
            yield path
        finally:
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle, fcntl.LOCK_UN)


def _acquire(handle, path: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    announced = False
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            pass
        except OSError as error:
            raise PipelineError(
                f"cannot lock {path} ({error.strerror}); keep the store on a local file system"
            ) from None
        holder = _holder(path)
        if time.monotonic() >= deadline:
            raise RunLocked(
                f"another run holds {path}: {holder}; waited {timeout_s:g} s. "
                "Let it finish and run again, or raise run.lock_timeout_s"
            )
        if not announced:
            log.warning("run - waiting up to %g s for %s to finish (%s)", timeout_s, holder, path)
            announced = True
        time.sleep(POLL_SECONDS)


def _holder(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8").strip() or "a run that is starting"
    except OSError:
        return "another process"


def exclusive_run(job: Job) -> Job:
    """Wrap ``run_job(workspace, run_date, ...)``: hold the store's lock, clear a crash's leftovers."""

    @functools.wraps(job)
    def locked(workspace, run_date, *args, **kwargs):
        config = workspace.config
        store = workspace.path(config.paths.store)
        with run_lock(store, config.run.lock_timeout_s, holder=f"run --date {run_date}"):
            remove_leftovers(store, workspace.path(config.paths.reports))
            return job(workspace, run_date, *args, **kwargs)

    return locked  # type: ignore[return-value]

"""Two runs on one store: the second waits for the lock, then fails with one clear line; a run
killed with SIGKILL leaves no stale lock behind."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from pipeline.config import write_config
from pipeline.demo import DEMO_END

HOLD_THE_LOCK = """
import sys, time
from pipeline.runlock import run_lock
with run_lock(sys.argv[1], 0, holder="the test's holder"):
    print("locked", flush=True)
    sys.stdin.read()  # until the test closes our stdin (or kills us)
"""


def lock_config(folder, lock_timeout_s: float):
    return write_config(folder / f"pipeline-{lock_timeout_s:g}.yaml", run={"lock_timeout_s": lock_timeout_s})


@pytest.fixture
def contacts(tmp_path, demo_data):
    day = demo_data.contacts["started_at"].str[:10] == DEMO_END.isoformat()
    path = tmp_path / "contacts.csv"
    demo_data.contacts[day].head(30).to_csv(path, index=False)
    return path


def hold_lock(store) -> subprocess.Popen:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_THE_LOCK, str(store)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout.readline().strip() == "locked"
    return holder


def command(tmp_path, config, contacts, model_dir) -> list[str]:
    return [
        sys.executable, "-m", "pipeline", "run", "--date", DEMO_END.isoformat(), "--input", str(contacts),
        "--model", str(model_dir), "--home", str(tmp_path), "--config", str(config),
    ]


def run(tmp_path, config, contacts, model_dir) -> tuple[subprocess.CompletedProcess, float]:
    started = time.monotonic()
    result = subprocess.run([*command(tmp_path, config, contacts, model_dir), "--quiet"], capture_output=True, text=True, timeout=300, check=False)
    return result, time.monotonic() - started


def test_second_run_fails_after_the_wait_and_kill_9_leaves_no_stale_lock(tmp_path, contacts, model_dir):
    holder = hold_lock(tmp_path / "store")
    try:
        result, seconds = run(tmp_path, lock_config(tmp_path, 1), contacts, model_dir)
        assert result.returncode == 1
        message = result.stderr.strip()
        assert "\n" not in message and "Traceback" not in message, message
        assert "another run holds" in message and "the test's holder" in message and "lock_timeout_s" in message
        assert seconds >= 1
        assert not (tmp_path / "reports").exists(), "the waiting run wrote something"
    finally:
        holder.kill()  # SIGKILL: the holder gets no chance to clean up
        holder.communicate()
    result, _ = run(tmp_path, lock_config(tmp_path, 1), contacts, model_dir)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "reports" / DEMO_END.isoformat() / "run_manifest.json").exists()


def test_second_run_waits_for_the_first_to_finish(tmp_path, contacts, model_dir):
    holder = hold_lock(tmp_path / "store")
    second = subprocess.Popen(command(tmp_path, lock_config(tmp_path, 120), contacts, model_dir), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in second.stderr:  # it announces the wait, then waits …
        if "waiting up to 120 s" in line:
            break
    else:
        pytest.fail("the second run never waited for the lock")
    time.sleep(0.5)
    assert second.poll() is None, "the second run did not wait"
    holder.communicate("")  # … until the first one lets go
    _, errors = second.communicate(timeout=300)
    assert second.returncode == 0, errors
    assert (tmp_path / "reports" / DEMO_END.isoformat() / "run_manifest.json").exists()

"""kill -9 at many points of a nightly run, then run again: nothing half-written is ever visible,
and the rerun leaves the store and the reports exactly as an uninterrupted run does.

The scenario: the store already holds batch D-1 and a first version of batch D (four contact
dates). A corrected input for D (one contact date fewer, rows dropped, added and changed) is run
and killed. The reference is a home that never saw the first version: a rerun must replace a
batch so completely that nothing of the old version shows, not even in the repeat-contact history.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from pipeline.demo import DEMO_END

KILLSWITCH = Path(__file__).with_name("killswitch.py")
D = DEMO_END
DAYS = {k: (D - timedelta(days=k)).isoformat() for k in range(4)}
MANIFEST = "run_manifest.json"
VOLATILE = ("created_at", "timings_s")  # the only fields two identical runs may differ in


class Server:
    """Talks to ``killswitch.py``: each request runs the CLI in a fresh child process."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.count = 0
        self.process = subprocess.Popen(
            [sys.executable, str(KILLSWITCH)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            env={**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"},
        )

    def run(self, home: Path, argv: list[str], kill: str | None = None) -> tuple[dict, str, list[str]]:
        self.count += 1
        events, output = self.folder / f"events-{self.count}.tsv", self.folder / f"output-{self.count}.txt"
        request = {"argv": [*argv, "--home", str(home)], "root": str(home), "kill": kill, "events": str(events), "output": str(output)}
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        answer = json.loads(self.process.stdout.readline())
        lines = events.read_text(encoding="utf-8").splitlines() if events.exists() else []
        return answer, output.read_text(encoding="utf-8"), lines

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=30)
        self.process.stdout.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    server = Server(tmp_path_factory.mktemp("killswitch"))
    yield server
    server.close()


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, demo_data):
    """Input files for batch D-1 and two versions of batch D (kept outside every home, so that
    the manifests of different homes name the same paths)."""
    folder = tmp_path_factory.mktemp("inputs")
    contacts = demo_data.contacts.copy()
    day = contacts["started_at"].str[:10]
    by_day = {k: contacts[day == DAYS[k]].reset_index(drop=True) for k in range(4)}
    previous = by_day[1].iloc[:30]
    late = pd.concat([by_day[3].iloc[:8], by_day[2].iloc[:12], by_day[1].iloc[30:45], by_day[0].iloc[:40]])
    # Customer C contacted us on D-1 in the first version only, and again on D: after the
    # correction, D's contact is no repeat, whatever the first version said.
    pair = late.iloc[[20, 60]].copy()
    pair["contact_id"] = ["CRASH-X", "CRASH-Y"]
    pair["customer_id"] = "CRASH-CUSTOMER"
    pair["started_at"] = [f"{DAYS[1]}T12:00:00+08:00", f"{D.isoformat()}T09:00:00+08:00"]
    first = pd.concat([late, pair.iloc[[0]]])
    corrected = pd.concat([late[~late["started_at"].str.startswith(DAYS[3])].iloc[:-5], by_day[0].iloc[40:46], pair.iloc[[1]]])
    corrected.loc[corrected["started_at"].str.startswith(DAYS[2]), "text"] += " 谢谢"
    paths = {}
    for name, frame in {"previous": previous, "first": first, "corrected": corrected}.items():
        paths[name] = folder / f"{name}.csv"
        frame.to_csv(paths[name], index=False)
    return paths


def run_args(model_dir: Path, run_date: date, source: Path) -> list[str]:
    return ["run", "--date", run_date.isoformat(), "--input", str(source), "--model", str(model_dir), "-v"]


def snapshot(home: Path) -> dict[str, bytes]:
    """Every file under ``home`` but the lock, manifests without their volatile fields."""
    files = {}
    for path in sorted(home.rglob("*")):
        if path.is_file() and path.name != ".run.lock":
            data = path.read_bytes()
            if path.name == MANIFEST:
                manifest = {k: v for k, v in json.loads(data).items() if k not in VOLATILE}
                data = json.dumps(manifest, sort_keys=True).encode()
            files[path.relative_to(home).as_posix()] = data
    return files


def visible(files: dict[str, bytes]) -> dict[str, bytes]:
    return {name: data for name, data in files.items() if not any(part.startswith(".") for part in name.split("/"))}


def folder(files: dict[str, bytes], prefix: str) -> dict[str, bytes]:
    return {name[len(prefix):]: data for name, data in files.items() if name.startswith(prefix)}


@pytest.fixture(scope="module")
def homes(tmp_path_factory, server, inputs, model_dir):
    """``base``: D-1 and the first version of D. ``reference``: D-1, then only the corrected D."""
    base, reference = tmp_path_factory.mktemp("base"), tmp_path_factory.mktemp("reference")
    for home, versions in ((base, ("previous", "first")), (reference, ("previous", "corrected"))):
        for run_date, version in zip((D - timedelta(days=1), D), versions):
            answer, output, _ = server.run(home, run_args(model_dir, run_date, inputs[version]))
            assert answer["exit"] == 0, output
    return base, reference


def kill_points(events: list[str], logs: int) -> list[str]:
    """Points spread over every stage of the run, chosen by what happens there."""
    rows = [line.split("\t") for line in events]
    chosen: list[int] = [0]  # the lock's folder, before anything is read

    def first(kind: str, path_pattern: str) -> None:
        match = next((int(n) for n, k, path in rows if k == kind and re.search(path_pattern, path)), None)
        if match is not None and match not in chosen:
            chosen.append(match)

    first("after mkstemp", r"^store/")
    for day in DAYS.values():
        for kind in ("before replace", "after replace"):
            first(kind, rf"^store/contact_date={day}/")
        for kind in ("before unlink", "after unlink"):  # the partition the corrected input no longer has
            first(kind, rf"^store/contact_date={day}/.*\.parquet$")
    first("after mkdir", r"\.staging-")
    first("after replace", r"/\.hotspots\.csv\.")
    first("before replace", r"/\.report\.html\.")
    for kind in ("after mkstemp", "before replace", "after replace"):
        first(kind, r"/\.run_manifest\.json\.")
    for kind in ("before rename", "after rename"):
        first(kind, r"\.staging-")
        first(kind, rf"^reports/{D.isoformat()}$")
    first("before unlink", r"\.replaced-")
    return [f"fs:{n}" for n in sorted(chosen)] + [f"log:{n}" for n in range(1, logs)]


def test_kill_9_anywhere_then_rerun_gives_the_uninterrupted_result(tmp_path, server, homes, inputs, model_dir):
    base, reference = homes
    before, after = snapshot(base), snapshot(reference)
    corrected = run_args(model_dir, D, inputs["corrected"])
    dry = tmp_path / "dry"
    shutil.copytree(base, dry)
    answer, output, events = server.run(dry, corrected)
    assert answer["exit"] == 0, output
    assert snapshot(dry) == after, "an uninterrupted rerun over the first version differs from the reference"
    points = kill_points(events, logs=5)

    today = f"reports/{D.isoformat()}/"
    for point in points:
        home = tmp_path / point.replace(":", "-")
        shutil.copytree(base, home)
        answer, output, _ = server.run(home, corrected, kill=point)
        assert answer["signal"] == 9, f"{point}: the run ended before its kill point ({output[-300:]})"
        crashed = snapshot(home)
        shown = visible(crashed)
        for name, data in shown.items():
            assert data in (before.get(name), after.get(name)), f"{point}: {name} is neither the old nor the new version"
        assert folder(shown, f"reports/{DAYS[1]}/") == folder(before, f"reports/{DAYS[1]}/"), point
        day_report = folder(shown, today)
        if day_report:
            assert day_report in (folder(before, today), folder(after, today)), f"{point}: {today} mixes two runs"
        else:  # killed between renaming the old folder aside and the new one in: the old one is whole
            aside = [name for name in crashed if name.startswith(f"reports/.{D.isoformat()}.replaced-")]
            assert aside, f"{point}: {today} is gone"
            prefix = aside[0].split("/")[0] + "/" + aside[0].split("/")[1] + "/"
            assert folder(crashed, prefix) == folder(before, today), point
        for name in shown:
            if name.endswith(".parquet"):
                pq.read_table(home / name)

        answer, output, _ = server.run(home, corrected)
        assert answer["exit"] == 0, f"{point}: rerun failed: {output[-500:]}"
        assert snapshot(home) == after, f"{point}: the rerun differs from an uninterrupted run"
    assert len(points) >= 20, points


def test_a_corrupt_input_changes_nothing(tmp_path, server, homes, inputs, model_dir):
    base, _ = homes
    before = snapshot(base)
    good = inputs["corrected"].read_bytes()
    cut_in_a_character = good[: good.index("谢谢".encode()) + 1]
    cases = {
        "cut-mid-char.csv": cut_in_a_character,
        "cut-mid-row.csv": good[: good.rindex(b"\n", 0, len(good) - 1) + 25],
        "corrupt.parquet": b"PAR1" + bytes(range(256)) * 4,
        "garbage.csv.gz": b"\x1f\x8b\x08\x00" + bytes(range(255, 0, -1)) * 8,
    }
    for name, data in cases.items():
        home = tmp_path / name
        shutil.copytree(base, home)
        source = tmp_path / name.replace(".", "-input.", 1)
        source.write_bytes(data)
        answer, output, _ = server.run(home, run_args(model_dir, D, source)[:-1] + ["--quiet"])
        assert answer["exit"] == 1, f"{name}: {output}"
        message = output.strip()
        assert "\n" not in message and source.name in message and "Traceback" not in message, message
        assert snapshot(home) == before, f"{name} changed the store or the reports"

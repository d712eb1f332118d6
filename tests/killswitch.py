"""A fork server for the crash tests: imports the pipeline once, then runs each CLI command in a
forked child process that kills itself with SIGKILL at a chosen point, as ``kill -9`` would.

Forking saves each run the seconds of importing pandas, scikit-learn and pyarrow; the child is
still a real process that dies without running any cleanup. Requests come as JSON lines on
stdin, answers go as JSON lines on stdout::

    {"argv": ["run", "--date", …], "root": HOME, "kill": "fs:7", "events": FILE, "output": FILE}
    {"exit": null, "signal": 9}

Kill points: ``fs:N`` is the N-th point around file-system changes under ``root`` (just before
and just after each rename, replace, unlink, mkdir and rmdir, and after each new temporary file);
``log:N`` is just after the N-th log record of the pipeline's loggers; null runs to the end. Each
fs point is appended to ``events`` (kind and path) before it fires, so an uninterrupted run
lists them all.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import signal
import sys
import tempfile

state: dict = {"root": None, "kill": None, "events": None, "fs": 0, "log": 0}


def _die_at(kind: str) -> None:
    if state["kill"] == f"{kind}:{state[kind]}":
        os.kill(os.getpid(), signal.SIGKILL)
    state[kind] += 1


def _checkpoint(kind: str, path) -> None:
    if state["root"] is None:
        return
    where = os.path.realpath(os.fspath(path))
    if not where.startswith(state["root"]):
        return
    with open(state["events"], "a", encoding="utf-8") as events:
        events.write(f"{state['fs']}\t{kind}\t{os.path.relpath(where, state['root'])}\n")
    _die_at("fs")


def _hook(module, name: str, after_only: bool = False) -> None:
    original = getattr(module, name)

    @functools.wraps(original)
    def hooked(*args, **kwargs):
        path = kwargs.get("dir", ".") if name == "mkstemp" else args[0]
        if kwargs.get("dir_fd") is not None:  # shutil.rmtree works relative to an open folder
            path = os.path.join(os.readlink(f"/proc/self/fd/{kwargs['dir_fd']}"), os.fspath(path))
        if not after_only:
            _checkpoint(f"before {name}", path)
        result = original(*args, **kwargs)
        _checkpoint(f"after {name}", result[1] if name == "mkstemp" else path)
        return result

    setattr(module, name, hooked)


class _KillAfterRecord(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        _die_at("log")


def _child(request: dict) -> None:
    state.update(root=os.path.realpath(request["root"]), kill=request.get("kill"), events=request["events"], fs=0, log=0)
    output = os.open(request["output"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(output, 1)
    os.dup2(output, 2)
    logging.getLogger("pipeline").addHandler(_KillAfterRecord())
    try:
        code = main(request["argv"])
    except SystemExit as stop:  # argparse
        code = stop.code if isinstance(stop.code, int) else 2
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


for _name in ("replace", "rename", "unlink", "rmdir", "mkdir"):
    _hook(os, _name)
_hook(tempfile, "mkstemp", after_only=True)

import pipeline.jobs  # noqa: F401  (imported once here, after the hooks, not in every child)
from pipeline.cli import main

if __name__ == "__main__":
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _child(request)
        _, status = os.waitpid(pid, 0)
        answer = {
            "exit": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
            "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
        }
        print(json.dumps(answer), flush=True)

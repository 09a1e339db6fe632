"""The embedded PostgreSQL after a crash: a process that died without stopping the server must
not keep every later clean stop from stopping it."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from storage.embedded import HANDLE_PIDS, forget_dead_handles

START = """
import sys, time
from pathlib import Path
from storage.embedded import EmbeddedPostgres
server = EmbeddedPostgres(Path(sys.argv[1]))
server.start()
print("started", flush=True)
if sys.argv[2] == "crash":
    time.sleep(600)  # killed by the test, as a crash would end it
else:
    server.stop()
"""


def postmaster_pid(data_dir: Path) -> int:
    return int((data_dir / "pgdata" / "postmaster.pid").read_text().splitlines()[0])


def running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def until_stopped(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while running(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.fixture
def data_dir() -> Iterator[Path]:
    # a short path: the server's unix socket lives in its data directory
    root = Path(tempfile.mkdtemp(prefix="rpe-", dir="/tmp"))
    try:
        yield root
    finally:
        pid_file = root / "pgdata" / "postmaster.pid"
        if pid_file.exists():  # whatever happened, no server is left behind by the test
            pid = postmaster_pid(root)
            if running(pid):
                os.kill(pid, signal.SIGTERM)
                until_stopped(pid)
        shutil.rmtree(root, ignore_errors=True)


def run_app(data_dir: Path, mode: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", START, str(data_dir), mode],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "started"
    return proc


def test_a_clean_stop_after_a_crash_stops_postgres(data_dir: Path) -> None:
    crashed = run_app(data_dir, "crash")
    crashed.kill()
    crashed.wait(10)
    server = postmaster_pid(data_dir)
    assert running(server)  # a crash leaves postgres behind, its pid still counted as a user
    assert crashed.pid in json.loads((data_dir / "pgdata" / HANDLE_PIDS).read_text())

    clean = run_app(data_dir, "stop")  # the next run reattaches, then stops cleanly
    assert clean.wait(30) == 0
    assert until_stopped(server), "postgres was left running after a clean stop"
    assert json.loads((data_dir / "pgdata" / HANDLE_PIDS).read_text()) == []


def test_forgetting_keeps_live_processes(tmp_path: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait(10)
    (tmp_path / HANDLE_PIDS).write_text(json.dumps([os.getpid(), dead.pid]))
    assert forget_dead_handles(tmp_path) == [dead.pid]
    assert json.loads((tmp_path / HANDLE_PIDS).read_text()) == [os.getpid()]
    assert forget_dead_handles(tmp_path / "missing") == []

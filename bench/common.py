"""Small pieces the newer benchmarks share: percentiles, the machine line, RSS, free ports."""

from __future__ import annotations

import math
import os
import platform
import socket
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest rank, so the figure is one that was actually measured (as bench_answer's p95)."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def machine(*, embedded: bool, postgres_version: str) -> dict[str, Any]:
    return {
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "postgres": "embedded" if embedded else "external (TEST_DATABASE_URL)",
        "postgres_version": postgres_version,
    }


def machine_line(m: dict[str, Any]) -> str:
    return (
        f"{m['platform']} · {m['cpus']} CPUs · Python {m['python']} · "
        f"PostgreSQL {m['postgres_version']} {m['postgres']}"
    )


def _status_mib(pid: int, key: str) -> float | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1]) / 1024  # the kernel reports kB
    return None


def rss_mib(pid: int) -> float | None:
    """Resident memory of a live process from /proc, or None once it is gone (or off Linux)."""
    return _status_mib(pid, "VmRSS")


def hwm_mib(pid: int) -> float | None:
    """The kernel's own peak resident size, which catches spikes between two samples."""
    return _status_mib(pid, "VmHWM")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def cpu_s(pid: int) -> float | None:
    """CPU time (user + system) a live process has used, from /proc; None once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    # after the command name: state is field 3, utime and stime are fields 14 and 15
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

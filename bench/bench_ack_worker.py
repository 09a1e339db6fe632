"""Slash-command acks while scenario jobs are answered, with the job worker in the app process
and as a `romashka worker` process beside it (WORKER_IN_APP=false): bench_ack both ways.

    python -m bench.bench_ack_worker [--requests 100] [--scenario-repeat 10] [--paced-s 5]
                                     [--json]

Each way: a fresh database, the app (and the worker process), `/bot scenario run all repeat N`
started and its jobs picked, then bench_ack's two bursts of N `/bot test` (the second while the
first's answers stream), each ack timed over HTTP, then (clearly apart, not a burst) N more
spread evenly over --paced-s seconds: a realistic arrival pattern. The goal: ack p99 under 50 ms
with the worker separate (the app then only acks and queues; the worker streams and judges).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from typing import Any

from bench.bench_ack import GOAL_P99_MS, bench
from bench.common import machine_line

WAYS = ("app", "separate")


async def both(
    *, requests: int, scenario_repeat: int, paced_s: float, app_cpu: int | None = None
) -> dict[str, Any]:
    runs: dict[str, Any] = {}
    for way in WAYS:
        runs[way] = await bench(
            requests=requests,
            ttft_ms=2000.0,
            token_ms=50.0,
            judge_ms=500.0,
            worker=way,
            scenario_repeat=scenario_repeat,
            paced_s=paced_s,
            app_cpu=app_cpu,
        )
    first = runs[WAYS[0]]
    summary = []
    for way in WAYS:
        for key, label in (
            ("ack", "burst"),
            ("ack_while_streaming", "while streaming"),
            ("ack_paced", f"paced over {paced_s:g} s"),
        ):
            ack = runs[way].get(key)
            if not ack:
                continue
            summary.append(
                {
                    "figure": f"ack p99, worker {way}, {label}",
                    "value": f"{ack['p99_ms']:.1f} ms (p50 {ack['p50_ms']:.1f})",
                    "goal": f"< {GOAL_P99_MS:g} ms",
                    "met": bool(ack["p99_ms"] < GOAL_P99_MS and not ack["non_200"]),
                }
            )
    return {
        "date": first["date"],
        "machine": first["machine"],
        "requests": requests,
        "scenario_repeat": scenario_repeat,
        "paced_s": paced_s,
        "app_cpu": app_cpu,
        "runs": runs,
        "summary": summary,
    }


def render(report: dict[str, Any]) -> str:
    lines = [
        f"acks of {report['requests']} concurrent `/bot test`, twice (the 2nd burst while the "
        f"1st's answers stream), while `/bot scenario run all repeat {report['scenario_repeat']}`"
        " is being answered"
        + ("" if report.get("app_cpu") is None else f"; the app alone on CPU {report['app_cpu']}"),
        f"{report['date']} · {machine_line(report['machine'])}",
        "",
        f"{'worker':<10}{'burst':<22}{'p50 ms':>8}{'p95 ms':>8}{'p99 ms':>8}{'max ms':>8}"
        f"{'jobs':>6}{'app CPU ms/req':>16}",
    ]
    for way, run in report["runs"].items():
        for key, label in (
            ("ack", "first burst"),
            ("ack_while_streaming", "burst while streaming"),
            ("ack_paced", f"paced over {report['paced_s']:g} s"),
            ("probe_help_burst", "probe: /bot help burst"),
        ):
            a = run.get(key)
            if not a:
                continue
            cpu = a.get("app_cpu_ms_per_request")
            lines.append(
                f"{way:<10}{label:<22}{a['p50_ms']:>8.1f}{a['p95_ms']:>8.1f}{a['p99_ms']:>8.1f}"
                f"{a['max_ms']:>8.1f}{run['scenario_jobs_at_burst']:>6}"
                f"{'n/a' if cpu is None else f'{cpu:.2f}':>16}"
            )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_ack_worker", description=__doc__)
    parser.add_argument("--requests", type=int, default=100, help="concurrent commands (100)")
    parser.add_argument(
        "--scenario-repeat", type=int, default=10, help="samples per scenario message (10)"
    )
    parser.add_argument(
        "--paced-s",
        type=float,
        default=5.0,
        help="then N more spread evenly over this many seconds, reported apart (5; 0: not)",
    )
    parser.add_argument(
        "--app-cpu",
        type=int,
        default=None,
        help="pin each way's app process to this CPU and everything else to the others",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    report = asyncio.run(
        both(
            requests=args.requests,
            scenario_repeat=args.scenario_repeat,
            paced_s=args.paced_s,
            app_cpu=args.app_cpu,
        )
    )
    print(json.dumps(report, indent=2, ensure_ascii=False) if args.json else render(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())

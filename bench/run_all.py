"""Every benchmark in bench/, one after the other, and one table of what they found.

    python -m bench.run_all [--quick] [--only NAME ...] [--json]

Each benchmark runs as `python -m bench.<name> --json` in a process of its own (each starts its
own PostgreSQL and fakes; a process apiece keeps one's leftovers, or a hang, away from the next,
and bounds each in time). bench_stats is run when bench/bench_stats.py exists and skipped with a
note otherwise or when it fails. Progress goes to stderr, the table to stdout.

A benchmark with no figures known here can still show up: if its JSON has a "summary" list of
{"figure", "value", "goal", "met"} (goal and met may be null), those rows are printed as they are;
failing that, a "figures" mapping of {"median_ms", "p95_ms"} (bench_answer's shape) is.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

# Far above each one's usual run (about 1 minute at most), only so a hang cannot stall the suite.
TIMEOUT_S: Final = 360.0


@dataclass(frozen=True)
class Row:
    figure: str
    value: str
    goal: str = "—"
    met: bool | None = None


@dataclass(frozen=True)
class Bench:
    name: str
    args: tuple[str, ...]
    quick_args: tuple[str, ...]
    rows: Callable[[dict[str, Any]], list[Row]]
    optional: bool = False


def _answer_rows(r: dict[str, Any]) -> list[Row]:
    f, s = r["figures"], r["settings"]
    out = [
        Row(
            f"ack (dispatch returns), median / p95 of {r['runs']}",
            f"{f['ack']['median_ms']:.1f} / {f['ack']['p95_ms']:.1f} ms",
        ),
        Row(
            f"command → first text (model ttft {s['ttft_ms']:g} ms), median / p95",
            f"{f['first_text']['median_ms']:.1f} / {f['first_text']['p95_ms']:.1f} ms",
        ),
        Row(
            "bot overhead (first text − model ttft), median / p95",
            f"{f['overhead']['median_ms']:.1f} / {f['overhead']['p95_ms']:.1f} ms",
        ),
        Row(
            "model last token → final message, median / p95",
            f"{f['tail']['median_ms']:.1f} / {f['tail']['p95_ms']:.1f} ms",
        ),
    ]
    return out


def _scenario_rows(r: dict[str, Any]) -> list[Row]:
    goal = f"≤ {r['goal']:g}× slowest"
    out = [Row("slowest single message path", f"{r['single']['slowest_s']:.3f} s")]
    for row in r["rows"]:
        out.append(
            Row(
                f"run all, {row['label']}, {row['concurrency']} at once",
                f"{row['wall_s']:.2f} s = {row['vs_slowest']:.2f}× slowest",
                goal,
                bool(row["goal_met"]),
            )
        )
    return out


def _judges_rows(r: dict[str, Any]) -> list[Row]:
    s, f = r["settings"], r["figures"]
    return [
        Row(
            f"{s['messages']}-message run vs answers alone, {r['model']}, "
            f"{s['concurrency']} at once",
            f"{r['run_s']:.1f} s vs {r['answers_alone_s']:.1f} s = {r['vs_answers']:.2f}×",
            f"≤ {r['goal']:g}×",
            r["vs_answers"] <= r["goal"],
        ),
        Row(
            "expected behaviours judged (rambling judge)",
            f"{f['judged']}/{s['expected_behaviours']}",
            "all",
            f["judged"] == s["expected_behaviours"],
        ),
    ]


def _ack_rows(r: dict[str, Any]) -> list[Row]:
    ack, a, rss = r["ack"], r["answers"], r["rss_mib"]
    n = r["settings"]["requests"]
    return [
        Row(f"ack of {n} concurrent /bot test, p50", f"{ack['p50_ms']:.1f} ms"),
        Row(
            f"ack of {n} concurrent /bot test, p99",
            f"{ack['p99_ms']:.1f} ms",
            f"< {r['goal_p99_ms']:g} ms",
            ack["p99_ms"] < r["goal_p99_ms"] and not ack["non_200"],
        ),
        Row(f"ack of {n} concurrent /bot test, max", f"{ack['max_ms']:.1f} ms"),
        Row(
            f"ack of {n} more while those {n} answers stream, p99",
            f"{r['ack_while_streaming']['p99_ms']:.1f} ms",
            f"< {r['goal_p99_ms']:g} ms",
            r["ack_while_streaming"]["p99_ms"] < r["goal_p99_ms"]
            and not r["ack_while_streaming"]["non_200"],
        ),
        Row(
            "  probe: /bot help one at a time, p50",
            f"{r['probe_help_sequential']['p50_ms']:.1f} ms",
        ),
        Row(
            f"answers completed, both bursts (in {a['seconds_after_burst_start']:.1f} s)",
            f"{a['completed']}/{a['expected']}",
            "all",
            a["completed"] == a["expected"] and not a["failed"],
        ),
        Row(
            "app RSS idle / peak / after",
            f"{rss['idle']:.0f} / {rss['peak_sampled']:.0f} / {rss['after']:.0f} MiB",
        ),
        Row("app exit code after SIGTERM", str(r["exit_code"]), "0", r["exit_code"] == 0),
    ]


def _db_rows(r: dict[str, Any]) -> list[Row]:
    h, v = r["history"], r["votes"]
    n = f"{r['settings']['versions']:,}"
    labels = {
        "current_version": f"current_version ({n} versions)",
        "history_first_page": "history(limit=10), first page",
        "history_deep_page": "history(limit=10), last page",
        "resolve_by_name": "resolve profile by name",
    }
    out = [
        Row(
            f"{label}, p50 / p95",
            f"{r['reads'][key]['p50_ms']:.2f} / {r['reads'][key]['p95_ms']:.2f} ms",
        )
        for key, label in labels.items()
    ]
    out.append(Row("save_version, p50 (one at a time)", f"{h['save_p50_ms']:.2f} ms"))
    out.append(
        Row(
            f"vote inserts, {v['concurrency']} at once over a pool of {r['settings']['pool']}",
            f"{v['votes_per_s']:,} votes/s",
        )
    )
    return out


def _queue_rows(r: dict[str, Any]) -> list[Row]:
    o = r["queue_overhead"]
    rows = [
        Row(
            "queue overhead, enqueue → start, median / p95",
            f"{o['median_ms']:.1f} / {o['p95_ms']:.1f} ms",
        )
    ]
    for n, run in r["runs"].items():
        rows.append(
            Row(
                f"run all, {n} messages (endpoint limit {r['settings']['endpoint_limit']}) "
                "÷ its bound",
                f"{run['answered_vs_bound']:.2f}×",
                "≤ 1.3×",
                run["answered_vs_bound"] <= 1.3,
            )
        )
        rows.append(
            Row(
                f"run all, {n} messages: lost / duplicated",
                f"{int(n) - run['distinct']} / {run['messages'] - run['distinct']}",
                "0 / 0",
                run["distinct"] == int(n) == run["messages"],
            )
        )
    ab = r.get("ab")
    if isinstance(ab, dict):
        rows.append(
            Row(
                f"A/B test, {ab['pairs']} pairs as jobs: voting open ÷ its bound",
                f"{ab['open_vs_bound']:.2f}×",
                "≤ 1.3×",
                ab["open_vs_bound"] <= 1.3,
            )
        )
        rows.append(
            Row(
                f"A/B test, {ab['pairs']} pairs: failed / answers stored for 2 × pairs sides",
                f"{ab['failed']} / {ab['answers_stored']} for {ab['sides_linked']}",
                f"0 / {2 * ab['pairs']} for {2 * ab['pairs']}",
                ab["failed"] == 0 and ab["answers_stored"] == ab["sides_linked"] == 2 * ab["pairs"],
            )
        )
    kill = r.get("kill")
    if isinstance(kill, dict):
        rows.append(
            Row(
                f"kill -9 of 1 of 2 workers, {kill['messages']} messages: wall, "
                "results lost / duplicated",
                f"{kill['wall_s']:.1f} s, {kill['lost']} / {kill['duplicated']}",
                "0 / 0",
                kill["lost"] == 0 and kill["duplicated"] == 0,
            )
        )
        rows.append(
            Row(
                "kill -9: dead worker's jobs picked again after (JOB_HEARTBEAT_TIMEOUT_S "
                f"{kill['heartbeat_timeout_s']:g} s)",
                f"{kill['recovery_first_s']}–{kill['recovery_last_s']} s",
                f"≤ {kill['heartbeat_timeout_s']:g} s + 1",
                kill["recovery_last_s"] is not None
                and kill["recovery_last_s"] <= kill["heartbeat_timeout_s"] + 1,
            )
        )
    return rows


def _generic_rows(r: dict[str, Any]) -> list[Row]:
    """A benchmark this file has no reader for: its "summary" rows, else a bench_answer-style
    "figures" mapping of medians and p95s, shown without goals."""
    summary = r.get("summary")
    if isinstance(summary, list) and summary:
        return [
            Row(
                str(item.get("figure", "?")),
                str(item.get("value", "?")),
                "—" if item.get("goal") is None else str(item["goal"]),
                None if item.get("met") is None else bool(item["met"]),
            )
            for item in summary
        ]
    figures = r.get("figures")
    if isinstance(figures, dict) and figures:
        return [
            Row(
                f"{f.get('label', name)}, median / p95",
                f"{f['median_ms']:.1f} / {f['p95_ms']:.1f} ms",
            )
            for name, f in figures.items()
            if isinstance(f, dict) and "median_ms" in f and "p95_ms" in f
        ]
    return [Row("(ran; no figures this table knows how to read)", "—")]


def _api_rows(r: dict[str, Any]) -> list[Row]:
    return [
        Row(
            f"read API {label}, median / p95 ({r['concurrency']} client(s))",
            f"{r[key]['p50_ms']:.1f} / {r[key]['p95_ms']:.1f} ms, {r[key]['body_bytes']} bytes",
        )
        for key, label in (("full_200", "200"), ("poll_304", "304 poll"))
    ]


def _calibration_rows(r: dict[str, Any]) -> list[Row]:
    return [
        Row(
            "four-trait calibration, wall / floor",
            f"{r['wall_s']} s / {r['floor_s']} s ({r['wall_s'] / r['floor_s']:.2f}×)",
        ),
        Row("model calls planned / made", f"{r['model_calls_planned']} / {r['model_calls_made']}"),
    ]


BENCHES: Final = (
    Bench("bench_answer", (), ("--runs", "10"), _answer_rows),
    Bench("bench_scenarios", (), ("--repeats", "1"), _scenario_rows),
    Bench("bench_judges", (), ("--token-ms", "10"), _judges_rows),
    Bench("bench_queue", (), ("--jobs", "100"), _queue_rows),
    Bench("bench_stats", (), (), _generic_rows, optional=True),
    Bench("bench_ack", (), (), _ack_rows),
    Bench("bench_db", (), ("--calls", "50", "--users", "50"), _db_rows),
    Bench("bench_api", (), ("--calls", "200"), _api_rows),
    Bench("bench_calibration", (), ("--samples", "1", "--latency-ms", "50"), _calibration_rows),
    Bench("bench_plan_stream", (), ("--ttft-ms", "300"), _generic_rows),
    Bench("bench_scenario_draft", (), ("--runs", "5"), _generic_rows),
    Bench("bench_ack_worker", (), ("--scenario-repeat", "5"), _generic_rows),
)


@dataclass
class Outcome:
    bench: Bench
    report: dict[str, Any] | None
    seconds: float
    note: str | None = None


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:200] if lines else "no output"


def run_one(bench: Bench, *, quick: bool) -> Outcome:
    if bench.optional and importlib.util.find_spec(f"bench.{bench.name}") is None:
        return Outcome(bench, None, 0.0, f"skipped: bench/{bench.name}.py does not exist")
    args = bench.quick_args if quick else bench.args
    command = [sys.executable, "-m", f"bench.{bench.name}", *args, "--json"]
    started = time.monotonic()
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired:
        return Outcome(bench, None, time.monotonic() - started, f"timed out after {TIMEOUT_S:g} s")
    seconds = time.monotonic() - started
    if done.returncode != 0:
        return Outcome(
            bench, None, seconds, f"failed (exit {done.returncode}): {_last_line(done.stderr)}"
        )
    try:
        report = json.loads(done.stdout)
    except ValueError:
        return Outcome(bench, None, seconds, f"printed no JSON: {_last_line(done.stdout)}")
    return Outcome(bench, report, seconds)


def _machine_line(outcomes: Sequence[Outcome]) -> str:
    for o in outcomes:
        m = (o.report or {}).get("machine")
        if isinstance(m, dict) and "postgres_version" in m:
            return (
                f"{m['platform']} · {m['cpus']} CPUs · Python {m['python']} · "
                f"PostgreSQL {m['postgres_version']} {m['postgres']}"
            )
    return f"{platform.platform()} · {os.cpu_count()} CPUs · Python {platform.python_version()}"


def render(outcomes: Sequence[Outcome], *, started: datetime, quick: bool) -> str:
    table: list[tuple[str, str, str, str, str]] = []
    notes: list[str] = []
    for o in outcomes:
        if o.report is None:
            table.append((o.bench.name, o.note or "no report", "—", "—", "—"))
            continue
        try:
            rows = o.bench.rows(o.report)
        except (KeyError, TypeError, ValueError) as exc:
            rows = [Row(f"(report not understood: {exc!r})", "—")]
        for row in rows:
            met = "—" if row.met is None else ("yes" if row.met else "NO")
            table.append((o.bench.name, row.figure, row.value, row.goal, met))
        notes.append(f"{o.bench.name} {o.seconds:.0f} s")
    header = ("benchmark", "figure", "value", "goal", "met?")
    widths = [max(len(r[i]) for r in [header, *table]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    out = [
        f"ROMASHKA benchmarks{' (--quick)' if quick else ''}: "
        f"{started.strftime('%Y-%m-%d %H:%M UTC')}",
        _machine_line(outcomes),
        "",
        line(header),
        line(["-" * w for w in widths]),
    ]
    previous = None
    for cells in table:
        # the benchmark's name once, at the top of its group
        out.append(line(("" if cells[0] == previous else cells[0], *cells[1:])))
        previous = cells[0]
    out += ["", "run times: " + ", ".join(notes)]
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run_all", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer runs and calls (about 2 min)")
    parser.add_argument(
        "--only", nargs="+", choices=[b.name for b in BENCHES], help="run only these benchmarks"
    )
    parser.add_argument("--json", action="store_true", help="print every report as one JSON")
    args = parser.parse_args(argv)
    started = datetime.now(UTC)
    outcomes = []
    for bench in BENCHES:
        if args.only and bench.name not in args.only:
            continue
        print(f"running {bench.name}…", file=sys.stderr, flush=True)
        outcome = run_one(bench, quick=args.quick)
        status = outcome.note or "done"
        print(f"  {bench.name}: {status} ({outcome.seconds:.0f} s)", file=sys.stderr, flush=True)
        outcomes.append(outcome)
    if args.json:
        print(
            json.dumps(
                {o.bench.name: o.report or {"note": o.note} for o in outcomes},
                indent=2,
                ensure_ascii=False,
            )
        )
    else:
        print(render(outcomes, started=started, quick=args.quick))
    # A missing optional benchmark is not a failure of the suite; a broken required one is.
    failed = [o for o in outcomes if o.report is None and not o.bench.optional]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

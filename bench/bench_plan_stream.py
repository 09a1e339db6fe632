"""A scenario run's Slack calls with the live plan: a 9-message `/bot scenario run all` (the
seeded scenarios; signed command, in-process worker, fake Slack and model) at several model
speeds, counting chat.startStream / appendStream / stopStream and the parent's chat.update.

    python -m bench.bench_plan_stream [--ttft-ms 300 1000 3000] [--json]

What it shows: the appends ride the run's once-a-second progress claim, so they grow with the
run's length (at most about one a second), never with its message count times its states.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import time
from datetime import UTC, datetime
from typing import Any, Final

from bench.harness import Harness, harness

RUN_TIMEOUT_S: Final = 300.0
METHODS: Final = ("chat.startStream", "chat.appendStream", "chat.stopStream")


async def one_run(h: Harness) -> dict[str, Any]:
    first = len(h.slack.calls)
    before = await h.pool.fetchval("SELECT coalesce(max(id), 0) FROM scenario_runs")
    t0 = time.monotonic()
    await h.driver.command("scenario run all")
    deadline = t0 + RUN_TIMEOUT_S
    while True:
        row = await h.pool.fetchrow(
            "SELECT id, status, parent_ts, plan_mode FROM scenario_runs WHERE id > $1"
            " ORDER BY id LIMIT 1",
            before,
        )
        if row is not None and row["status"] == "completed" and row["plan_mode"] == "closed":
            break
        if time.monotonic() > deadline:
            raise RuntimeError("the run did not complete")
        await asyncio.sleep(0.05)
    seconds = time.monotonic() - t0
    calls = h.slack.calls[first:]
    messages = await h.pool.fetchval(
        "SELECT count(*) FROM test_results WHERE run_id = $1", row["id"]
    )
    counts = {m: sum(1 for c in calls if c.method == m) for m in METHODS}
    counts["parent chat.update"] = sum(
        1 for c in calls if c.method == "chat.update" and c.args.get("ts") == row["parent_ts"]
    )
    return {"messages": int(messages), "seconds": round(seconds, 1), "calls": counts}


async def bench(ttfts_ms: list[float]) -> dict[str, Any]:
    runs = []
    for ttft in ttfts_ms:
        async with harness(ttft_s=ttft / 1000) as h:
            h.model.judge_delay_s = ttft / 1000
            await h.driver.reply_text("new Support")
            result = await one_run(h)
            runs.append({"ttft_ms": ttft, **result})
    summary = [
        {
            "figure": f"{r['messages']}-message run, model {r['ttft_ms']:g} ms ({r['seconds']} s): "
            "start / append / stop / parent edits",
            "value": " / ".join(str(v) for v in r["calls"].values()),
            "goal": "1 / ≤ 1 a second / 1",
            "met": r["calls"]["chat.startStream"] == 1
            and r["calls"]["chat.stopStream"] == 1
            and r["calls"]["chat.appendStream"] <= r["seconds"] + 1,
        }
        for r in runs
    ]
    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, 2 shared cores",
        "runs": runs,
        "summary": summary,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--ttft-ms", type=float, nargs="+", default=[300.0, 1000.0, 3000.0])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = asyncio.run(bench(args.ttft_ms))
    if args.json:
        print(json.dumps(result))
        return
    for row in result["summary"]:
        print(f"{row['figure']}: {row['value']}")


if __name__ == "__main__":
    main()

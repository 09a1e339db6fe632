"""Latency of `/bot test`, from the signed slash command to what Slack sees, against a model with
a fixed time to first token and a fixed interval between tokens.

    python -m bench.bench_answer [--runs N] [--ttft-ms 300] [--token-ms 20] [--json]

Everything but Slack and the model is real: PostgreSQL (embedded unless TEST_DATABASE_URL is
set), the Bolt app, slack_sdk and the openai client. All timestamps are time.monotonic() in this
one process: the fakes stamp what they receive and send on the same clock.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from bench.harness import Harness, harness
from tests.fake_slack import FakeSlack

MESSAGE: Final = "How do I cancel my subscription?"
RUN_TIMEOUT_S: Final = 30.0


@dataclass(frozen=True)
class Figure:
    key: str
    label: str


FIGURES: Final = (
    Figure("ack", "ack (dispatch returns)"),
    Figure("first_text", "command → first text in Slack"),
    Figure("model_ttft", "model ttft at the fake server"),
    Figure("tail", "model last token → final message"),
    Figure("overhead", "bot overhead (first text − model ttft)"),
    Figure("before_model", "  of which command → request at model"),
    Figure("to_slack", "  of which first token → Slack"),
    Figure("client_ttft", "ttft as the bot stored it (ttft_ms)"),
)


@dataclass(frozen=True)
class Run:
    ms: dict[str, float]
    answer_tokens: int | None


def _footer_updated(slack: FakeSlack, first_call: int) -> bool:
    # The footer's chat.update is the last thing an answer does, after its analysis is stored.
    calls = slack.calls[first_call:]
    footer = next(
        (c for c in calls if c.method == "chat.postMessage" and c.args.get("blocks")), None
    )
    if footer is None or "ts" not in footer.response:
        return False
    return any(
        c.method == "chat.update" and c.args.get("ts") == footer.response["ts"] for c in calls
    )


async def _settled_row(h: Harness, thread_ts: str) -> dict[str, Any]:
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while True:
        row = await h.pool.fetchrow(
            "SELECT ttft_ms, completion_tokens, error_kind, analysis IS NOT NULL AS analysed,"
            " analysis_error FROM test_results WHERE thread_ts = $1",
            thread_ts,
        )
        if row is not None and row["error_kind"] is not None:
            raise RuntimeError(f"the answer failed: {row['error_kind']}")
        if row is not None and (row["analysed"] or row["analysis_error"]):
            return dict(row)
        if time.monotonic() > deadline:
            raise RuntimeError("the answer never settled")
        await asyncio.sleep(0.01)


async def one_run(h: Harness) -> Run:
    slack, model = h.slack, h.model
    first_call, first_request = len(slack.calls), len(model.timings)

    started = time.monotonic()
    response = await h.driver.command(f"test {MESSAGE}")
    acked = time.monotonic()
    if response.status != 200:
        raise RuntimeError(f"/bot test was refused: {response.status} {response.body}")
    await slack.wait_for(lambda s: _footer_updated(s, first_call), timeout=RUN_TIMEOUT_S)

    calls = slack.calls[first_call:]
    parent = next(c for c in calls if c.method == "chat.postMessage")
    row = await _settled_row(h, str(parent.response["ts"]))

    # Streaming refused falls back to a post under the profile's name, finished by chat.update.
    first = next(
        c
        for c in calls
        if (c.method == "chat.startStream" and c.response.get("ok"))
        or (c.method == "chat.postMessage" and c.args.get("username"))
    )
    message_ts = first.response["ts"]
    closing = "chat.stopStream" if first.method == "chat.startStream" else "chat.update"
    final = [c for c in calls if c.method == closing and c.args.get("ts") == message_ts][-1]

    requests = model.requests[first_request:]
    timings = model.timings[first_request:]
    answer = next(
        t for t, body in zip(timings, requests, strict=True) if not model.is_judge_request(body)
    )
    if answer.first_chunk_at is None or answer.last_chunk_at is None:
        raise RuntimeError("the model sent no text")

    model_ttft = answer.first_chunk_at - answer.received_at
    first_text = first.at - started
    ms = {
        "ack": acked - started,
        "first_text": first_text,
        "model_ttft": model_ttft,
        "tail": final.at - answer.last_chunk_at,
        "overhead": first_text - model_ttft,
        "before_model": answer.received_at - started,
        "to_slack": first.at - answer.first_chunk_at,
    }
    ms = {k: v * 1000 for k, v in ms.items()}
    if row["ttft_ms"] is not None:
        ms["client_ttft"] = float(row["ttft_ms"])
    return Run(ms=ms, answer_tokens=row["completion_tokens"])


def p95(values: Sequence[float]) -> float:
    """Nearest rank, so the figure is one that was actually measured."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


async def bench(*, runs: int, warmup: int, ttft_ms: float, token_ms: float) -> dict[str, Any]:
    date = datetime.now(UTC)
    async with harness(ttft_s=ttft_ms / 1000, token_interval_s=token_ms / 1000) as h:
        reply = await h.driver.reply_text("new Bench")
        if "Created profile" not in reply:
            raise RuntimeError(f"could not create the profile: {reply}")
        # The first answer pays for cold connections and lazy imports; it is not a steady state.
        for _ in range(warmup):
            await one_run(h)
        measured = [await one_run(h) for _ in range(runs)]
        server_version = await h.pool.fetchval("SHOW server_version")
    figures: dict[str, dict[str, Any]] = {}
    for figure in FIGURES:
        values = [r.ms[figure.key] for r in measured if figure.key in r.ms]
        if values:
            figures[figure.key] = {
                "label": figure.label.strip(),
                "median_ms": round(statistics.median(values), 1),
                "p95_ms": round(p95(values), 1),
            }
    return {
        "date": date.strftime("%Y-%m-%d %H:%M UTC"),
        "runs": runs,
        "warmup": warmup,
        "settings": {
            "ttft_ms": ttft_ms,
            "token_ms": token_ms,
            "answer_tokens": measured[0].answer_tokens,
            "message": MESSAGE,
        },
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "postgres": "embedded" if h.embedded else "external (TEST_DATABASE_URL)",
            "postgres_version": server_version,
        },
        "figures": figures,
    }


def _num(value: float) -> str:
    return f"{value:g}"


def render(report: dict[str, Any]) -> str:
    s, m = report["settings"], report["machine"]
    lines = [
        f"/bot test latency: {report['runs']} runs (+{report['warmup']} warm-up), "
        f"model ttft {_num(s['ttft_ms'])} ms, {_num(s['token_ms'])} ms between tokens, "
        f"{s['answer_tokens']} tokens per answer",
        f"{report['date']} · {m['platform']} · {m['cpus']} CPUs · Python {m['python']} · "
        f"PostgreSQL {m['postgres_version']} {m['postgres']}",
        "",
        f"{'figure':<42}{'median ms':>10}{'p95 ms':>10}",
    ]
    labels = {f.key: f.label for f in FIGURES}
    for key, figure in report["figures"].items():
        lines.append(f"{labels[key]:<42}{figure['median_ms']:>10.1f}{figure['p95_ms']:>10.1f}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_answer", description=__doc__)
    parser.add_argument("--runs", type=int, default=50, help="measured runs (default 50)")
    parser.add_argument("--warmup", type=int, default=1, help="unmeasured runs first (default 1)")
    parser.add_argument("--ttft-ms", type=float, default=300.0, help="model's time to first token")
    parser.add_argument("--token-ms", type=float, default=20.0, help="time between tokens")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.warmup < 0 or args.ttft_ms < 0 or args.token_ms < 0:
        parser.error("--runs must be at least 1; --warmup, --ttft-ms and --token-ms at least 0")
    report = asyncio.run(
        bench(runs=args.runs, warmup=args.warmup, ttft_ms=args.ttft_ms, token_ms=args.token_ms)
    )
    print(json.dumps(report, indent=2, ensure_ascii=False) if args.json else render(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())

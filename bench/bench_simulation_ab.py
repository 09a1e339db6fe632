"""An A/B test over a simulated customer, end to end through Slack: from the signed
`/bot ab A B simulation <name> repeat k` until voting opens (2k conversations played quietly on
the job queue, k blind pairs posted), and from `/bot ab close` until the side-by-side result.

    python -m bench.bench_simulation_ab [--repeat 2] [--ttft-ms 300] [--token-ms 20]
                                        [--judge-ms MS] [--json]

The fake model plays both sides: a customer (recognised by its schema's name) who ends the
conversation at its third message, its replies taking --judge-ms like every JSON call, and a
bot streaming at --ttft-ms / --token-ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import Any, Final

from bench.common import machine, machine_line
from bench.harness import harness

NAME: Final = "Charged twice (simulated)"


def customer(body: dict[str, Any]) -> str | None:
    fmt = body.get("response_format") or {}
    if (fmt.get("json_schema") or {}).get("name") != "simulated_customer":
        return None
    user = "\n".join(str(m.get("content", "")) for m in body["messages"] if m["role"] == "user")
    turn = user.count("Support bot:")
    state = "goal_met" if turn >= 2 else "continue"
    return json.dumps(
        {"message": f"Customer message {turn + 1} (seed {body.get('seed')})", "state": state}
    )


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    async with harness(ttft_s=args.ttft_ms / 1000, token_interval_s=args.token_ms / 1000) as h:
        h.model.judge_delay_s = (
            args.judge_ms if args.judge_ms is not None else args.ttft_ms
        ) / 1000
        h.model.json_hook = customer
        await h.driver.reply_text("new Support")
        await h.driver.reply_text("set formality 90")
        first_request, first_call = len(h.model.requests), len(h.slack.calls)
        started = time.monotonic()
        # `confirm`: above CONFIRM_MODEL_CALLS the command would only ask for it
        await h.driver.command(
            f"ab Support@1 Support@2 simulation {NAME} repeat {args.repeat} confirm"
        )
        while (await h.pool.fetchval("SELECT status FROM ab_tests")) != "open":
            if time.monotonic() - started > 300:
                raise RuntimeError("the A/B test did not open within 5 minutes")
            await asyncio.sleep(0.05)
        open_s = time.monotonic() - started
        calls = len(h.model.requests) - first_request
        posts = sum(1 for c in h.slack.calls[first_call:] if c.method == "chat.postMessage")
        ab_id = await h.pool.fetchval("SELECT id FROM ab_tests")
        started = time.monotonic()
        await h.driver.command(f"ab close {ab_id}")
        await h.slack.wait_for(
            lambda s: any(
                "Result of A/B test" in str(c.args.get("text")) for c in s.of("chat.postMessage")
            ),
            timeout=60,
        )
        close_s = time.monotonic() - started
        # the parent's last edit follows the result: let it land before the pool closes
        await asyncio.sleep(0.5)
        pg = await h.pool.fetchval("SHOW server_version")
        return {
            "machine": machine(embedded=h.embedded, postgres_version=str(pg)),
            "repeat": args.repeat,
            "conversations": 2 * args.repeat,
            "open_s": open_s,
            "model_calls": calls,
            "slack_posts": posts,
            "close_s": close_s,
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--ttft-ms", type=float, default=300)
    parser.add_argument("--token-ms", type=float, default=20)
    parser.add_argument("--judge-ms", type=float)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    report = asyncio.run(bench(args))
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(machine_line(report["machine"]))
    print(
        f"A/B over a simulation, repeat {report['repeat']}: {report['conversations']} "
        f"conversations played and the pairs posted in {report['open_s']:.1f} s "
        f"({report['model_calls']} model calls, {report['slack_posts']} posts); close to "
        f"result {report['close_s']:.2f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

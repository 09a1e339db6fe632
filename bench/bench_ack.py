"""Slash-command ack latency of the real app process under a burst of `/bot test`, with the model
busy, and the process's resident memory before, during and after.

    python -m bench.bench_ack [--requests 100] [--ttft-ms 2000] [--token-ms 50]
                              [--judge-ms 500] [--json]

One `python -m bot` process in HTTP mode, its database a fresh one on the embedded PostgreSQL
(or on TEST_DATABASE_URL's server); the fake Slack and the fake OpenAI run in this process. After
/healthz answers, `/bot new Bench` creates the profile and one `/bot test` warms the answer path
(waited for to the end). Then N signed `/bot test` commands are sent at once over real HTTP
(aiohttp, one connector), each timed from just before it is sent until its HTTP 200: the ack
Slack waits for (3 s at most). A second burst of N follows as soon as the first one's answers
are streaming (tokens arriving, appendStream calls going out), the harder case. Every answer is
then waited for (bounded) before SIGTERM. Resident memory (VmRSS) is read when idle (after the
profile and the warm-up answer), every 50 ms from the first burst until the last answer, and after.

Two small probes say what the figure is made of: sequential `/bot help` (one request at a time:
the floor of the ack path over HTTP) and a burst of N `/bot help` (the same concurrency without
any answer behind it).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Final, TypeVar
from urllib.parse import urlencode

import aiohttp
import asyncpg

from bench.common import (
    cpu_s,
    free_port,
    hwm_mib,
    machine,
    machine_line,
    percentile,
    rss_mib,
)
from bench.harness import fresh_database
from tests.fake_openai import FakeOpenAI
from tests.fake_slack import FakeSlack
from tests.slack_driver import CHANNEL, SIGNING_SECRET, TEAM, USER, signed_headers

MESSAGE: Final = "How do I cancel my subscription?"
GOAL_P99_MS: Final = 50.0
HEALTH_TIMEOUT_S: Final = 60.0
SETTLE_TIMEOUT_S: Final = 180.0
REQUEST_TIMEOUT_S: Final = 10.0
STOP_TIMEOUT_S: Final = 30.0
SAMPLE_EVERY_S: Final = 0.05
PROBE_SEQUENTIAL: Final = 20

T = TypeVar("T")


@dataclass
class Sent:
    status: int
    ms: float  # from the request's bytes leaving the client to its HTTP status being read
    queued_ms: float  # from the burst's start until this request's bytes left the client


@dataclass
class Commands:
    """Builds signed slash-command bodies as Slack would send them, each with its own
    response_url so the replies can be told apart."""

    slack: FakeSlack
    n: int = 0

    def signed(self, text: str) -> tuple[str, dict[str, str]]:
        self.n += 1
        body = urlencode(
            {
                "token": "legacy-unused",
                "team_id": TEAM,
                "team_domain": "example",
                "channel_id": CHANNEL,
                "channel_name": "playground",
                "user_id": USER,
                "user_name": "ana",
                "command": "/bot",
                "text": text,
                "api_app_id": "A0001",
                "response_url": self.slack.response_url(f"ack{self.n}"),
                "trigger_id": f"trigger-ack-{self.n}",
            }
        )
        headers = signed_headers(body, content_type="application/x-www-form-urlencoded")
        return body, {k: v[0] for k, v in headers.items()}


async def _stamp_sent(
    _: aiohttp.ClientSession, ctx: SimpleNamespace, params: aiohttp.TraceRequestChunkSentParams
) -> None:
    # Called just before the body (with the headers coalesced in front) is written.
    ctx.trace_request_ctx.setdefault("sent", time.perf_counter())


def _tracing() -> aiohttp.TraceConfig:
    trace = aiohttp.TraceConfig()
    trace.on_request_chunk_sent.append(_stamp_sent)
    return trace


async def _post(
    http: aiohttp.ClientSession,
    url: str,
    body: str,
    headers: dict[str, str],
    started: float | None = None,
) -> Sent:
    stamps: dict[str, float] = {}
    started = time.perf_counter() if started is None else started
    async with http.post(url, data=body, headers=headers, trace_request_ctx=stamps) as response:
        acked = time.perf_counter()
        await response.read()
    sent = stamps.get("sent", started)
    return Sent(response.status, (acked - sent) * 1000, (sent - started) * 1000)


async def burst(
    http: aiohttp.ClientSession, url: str, signed: Sequence[tuple[str, dict[str, str]]]
) -> tuple[list[Sent], float]:
    # Signed beforehand, so the HMAC in this process is not part of what is timed.
    started = time.perf_counter()
    sent = await asyncio.gather(
        *(_post(http, url, body, headers, started) for body, headers in signed)
    )
    return list(sent), time.perf_counter() - started


async def paced(
    http: aiohttp.ClientSession,
    url: str,
    signed: Sequence[tuple[str, dict[str, str]]],
    over_s: float,
) -> tuple[list[Sent], float]:
    """The same requests at a steady rate over `over_s` seconds instead of all at once: request
    i leaves at i × over_s / N. Each is timed from its own send, as in a burst."""
    started = time.perf_counter()
    step = over_s / max(1, len(signed))

    async def one(i: int, body: str, headers: dict[str, str]) -> Sent:
        await asyncio.sleep(max(0.0, started + i * step - time.perf_counter()))
        return await _post(http, url, body, headers)

    sent = await asyncio.gather(*(one(i, b, h) for i, (b, h) in enumerate(signed)))
    return list(sent), time.perf_counter() - started


class ClientThread:
    """The HTTP client on an event loop and thread of its own. On the main loop, the fakes'
    work (answering the app's Slack and model calls, which a burst of /bot test sets off at
    once) would delay when each ack is read, and that delay would count as ack time."""

    def __init__(self, *, limit: int) -> None:
        self._limit = limit
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._http: aiohttp.ClientSession | None = None

    async def _open(self) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(
            # one connector with room for the whole burst, so no request queues behind another
            connector=aiohttp.TCPConnector(limit=self._limit),
            timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S),
            trace_configs=[_tracing()],
        )

    async def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self._loop))

    @property
    def http(self) -> aiohttp.ClientSession:
        if self._http is None:
            raise RuntimeError("the client thread is not started")
        return self._http

    async def __aenter__(self) -> ClientThread:
        self._thread.start()
        self._http = await self.run(self._open())
        return self

    async def __aexit__(self, *_: object) -> None:
        try:
            if self._http is not None:
                await self.run(self._http.close())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            await asyncio.to_thread(self._thread.join, STOP_TIMEOUT_S)
            if not self._thread.is_alive():
                self._loop.close()


def _summary(sent: Sequence[Sent], cpu: float | None = None) -> dict[str, Any]:
    """`cpu`: the app process's CPU seconds from the first request's send to the last ack."""
    ms = [s.ms for s in sent]
    return {
        "app_cpu_ms_per_request": None if cpu is None else round(cpu * 1000 / len(ms), 2),
        "requests": len(ms),
        "non_200": sum(1 for s in sent if s.status != 200),
        "p50_ms": round(percentile(ms, 50), 1),
        "p95_ms": round(percentile(ms, 95), 1),
        "p99_ms": round(percentile(ms, 99), 1),
        "max_ms": round(max(ms), 1),
        "mean_ms": round(statistics.fmean(ms), 1),
        # how far from "all at once" the client managed: the last request left this late
        "send_spread_ms": round(max(s.queued_ms for s in sent), 1),
    }


@dataclass
class Sampler:
    """VmRSS every SAMPLE_EVERY_S while the load runs; the max is the peak."""

    pid: int
    samples: list[float] = field(default_factory=list)
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self) -> None:
        while not self.stop.is_set():
            value = rss_mib(self.pid)
            if value is not None:
                self.samples.append(value)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), timeout=SAMPLE_EVERY_S)


def _footers_updated(slack: FakeSlack) -> int:
    # The footer's chat.update (with the judge's analysis) is the last thing an answer does.
    footers = {
        c.response["ts"]
        for c in slack.calls
        if c.method == "chat.postMessage"
        and c.args.get("thread_ts")
        and c.args.get("blocks")
        and "ts" in c.response
    }
    return len({c.args.get("ts") for c in slack.calls if c.method == "chat.update"} & footers)


async def _answers(con: asyncpg.Connection) -> dict[str, int]:
    row = await con.fetchrow(
        """
        SELECT count(*) AS stored,
               count(*) FILTER (WHERE error_kind IS NOT NULL) AS failed,
               count(*) FILTER (WHERE analysis IS NOT NULL) AS analysed,
               count(*) FILTER (WHERE analysis_error IS NOT NULL) AS analysis_failed
        FROM test_results WHERE kind = 'test'
        """
    )
    return {k: int(v) for k, v in dict(row).items()}


async def wait_answers(
    con: asyncpg.Connection, slack: FakeSlack, expected: int, timeout: float
) -> tuple[dict[str, int], bool]:
    """Until every answer has either failed or had its footer updated, or the time is up."""
    deadline = time.monotonic() + timeout
    while True:
        counts = await _answers(con)
        counts["footer_updated"] = _footers_updated(slack)
        if counts["failed"] + counts["footer_updated"] >= expected:
            return counts, True
        if time.monotonic() > deadline:
            return counts, False
        await asyncio.sleep(0.1)


async def _status(http: aiohttp.ClientSession, url: str) -> int | None:
    try:
        async with http.get(url) as r:
            return r.status
    except aiohttp.ClientConnectionError:
        return None


async def _streaming(model: FakeOpenAI, first_request: int, answers: int) -> None:
    """Until most of the burst's answers are past their first token (bounded)."""
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while time.monotonic() < deadline:
        started = [
            t
            for t, body in zip(
                model.timings[first_request:], model.requests[first_request:], strict=True
            )
            if t.first_chunk_at is not None and not model.is_judge_request(body)
        ]
        if len(started) >= 0.9 * answers:
            return
        await asyncio.sleep(0.02)
    raise RuntimeError("the burst's answers never started streaming")


async def _jobs_running(con: asyncpg.Connection, timeout_s: float = 60.0) -> None:
    """Until a worker has picked scenario jobs (the run's load is on)."""
    deadline = time.monotonic() + timeout_s
    while not await con.fetchval("SELECT count(*) FROM pgqueuer WHERE status = 'picked'"):
        if time.monotonic() > deadline:
            raise RuntimeError("no worker picked the scenario run's jobs")
        await asyncio.sleep(0.05)


async def wait_healthy(client: ClientThread, base: str, proc: asyncio.subprocess.Process) -> float:
    started = time.monotonic()
    while time.monotonic() - started < HEALTH_TIMEOUT_S:
        if proc.returncode is not None:
            raise RuntimeError(f"the app exited with {proc.returncode} before it was healthy")
        if await client.run(_status(client.http, f"{base}/healthz")) == 200:
            return time.monotonic() - started
        await asyncio.sleep(0.05)
    raise RuntimeError(f"the app was not healthy after {HEALTH_TIMEOUT_S:g} s")


def app_env(
    *, dsn: str, port: int, slack: FakeSlack, model: FakeOpenAI, worker_in_app: bool = True
) -> dict[str, str]:
    # Nothing of the developer's own Slack/OpenAI set-up may leak in: the app must talk only to
    # the fakes on 127.0.0.1.
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "OPENAI_", "DB_POOL_", "ROMASHKA_"))
        and k not in {"DATABASE_URL", "PORT", "LOG_LEVEL"}
    }
    env.update(
        {
            "SLACK_BOT_TOKEN": "xoxb-bench-token",
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": slack.api_url,
            "PORT": str(port),
            "DATABASE_URL": dsn,
            "OPENAI_BASE_URL": model.base_url,
            "OPENAI_API_KEY": "sk-bench",
            "OPENAI_MODEL": "fake-model",
            "LOG_LEVEL": "INFO",  # the product default, so logging costs what it costs in use
            # "false": scenario jobs run in a `romashka worker` process of their own
            "WORKER_IN_APP": "true" if worker_in_app else "false",
        }
    )
    return env


def _tail(path: Path, lines: int = 30) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return ""


async def _stop(proc: asyncio.subprocess.Process) -> int:
    if proc.returncode is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return await asyncio.wait_for(proc.wait(), timeout=STOP_TIMEOUT_S)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        return -9


async def bench(
    *,
    requests: int,
    ttft_ms: float,
    token_ms: float,
    judge_ms: float,
    warmup: int = 1,
    worker: str = "app",
    scenario_repeat: int = 0,
    paced_s: float = 0.0,
    profile: Path | None = None,
    app_cpu: int | None = None,
) -> dict[str, Any]:
    """`app_cpu`: run the app process alone on that CPU and everything else (this process with
    the fake servers and the client, the worker, an embedded database) on the others: the app
    with a core of its own, as a deployment that keeps answering away from acking would give
    it. An external database (TEST_DATABASE_URL) is not moved and shares every core.
    `paced_s` > 0 adds a third round: N `/bot test` spread evenly over that many seconds (a
    realistic arrival pattern, reported apart from the bursts); `profile`: run the app under
    cProfile and write its statistics there (timings then include the profiler's cost).
    `worker`: "app" (scenario jobs run in the app process, the default deployment) or
    "separate" (WORKER_IN_APP=false and one `python -m bot worker` process beside it);
    `scenario_repeat` > 0 starts `/bot scenario run all repeat N` before the bursts, so that
    scenario jobs are being answered while the acks are timed."""
    date = datetime.now(UTC)
    if app_cpu is not None:
        # before anything is started: the servers, database and worker started from here
        # inherit the other cores
        os.sched_setaffinity(0, os.sched_getaffinity(0) - {app_cpu})
    workdir = Path(tempfile.mkdtemp(prefix="romashka-bench-ack-"))
    log_path = workdir / "app.log"
    async with fresh_database() as (dsn, embedded), FakeOpenAI() as model:
        model.ttft_s = ttft_ms / 1000
        model.token_interval_s = token_ms / 1000
        model.judge_delay_s = judge_ms / 1000
        slack = FakeSlack()
        await slack.start()
        con = await asyncpg.connect(dsn)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        events = f"{base}/slack/events"
        commands = Commands(slack)
        try:
            env = app_env(
                dsn=dsn, port=port, slack=slack, model=model, worker_in_app=worker == "app"
            )
            with log_path.open("wb") as log:
                profiling = ["-m", "cProfile", "-o", str(profile)] if profile else []
                proc = await asyncio.create_subprocess_exec(
                    sys.executable,
                    *profiling,
                    "-m",
                    "bot",
                    env=env,
                    cwd=workdir,  # away from any developer's .env
                    stdout=log,
                    stderr=asyncio.subprocess.STDOUT,
                )
                if app_cpu is not None:
                    os.sched_setaffinity(proc.pid, {app_cpu})
                worker_proc = (
                    await asyncio.create_subprocess_exec(
                        sys.executable,
                        "-m",
                        "bot",
                        "worker",
                        env=env,
                        cwd=workdir,
                        stdout=log,
                        stderr=asyncio.subprocess.STDOUT,
                    )
                    if worker == "separate"
                    else None
                )
            try:
                report = await _drive(
                    proc=proc,
                    con=con,
                    slack=slack,
                    model=model,
                    base=base,
                    events=events,
                    commands=commands,
                    requests=requests,
                    warmup=warmup,
                    scenario_repeat=scenario_repeat,
                    paced_s=paced_s,
                )
            except BaseException:
                await _stop(proc)
                if worker_proc is not None:
                    await _stop(worker_proc)
                print(f"app log (last lines):\n{_tail(log_path)}", file=sys.stderr)
                raise
            report["exit_code"] = await _stop(proc)
            if worker_proc is not None:
                report["worker_exit_code"] = await _stop(worker_proc)
            server_version = await con.fetchval("SHOW server_version")
        finally:
            await con.close()
            await slack.stop()
    await asyncio.to_thread(shutil.rmtree, workdir, ignore_errors=True)
    return {
        "date": date.strftime("%Y-%m-%d %H:%M UTC"),
        "goal_p99_ms": GOAL_P99_MS,
        "settings": {
            "requests": requests,
            "warmup": warmup,
            "ttft_ms": ttft_ms,
            "token_ms": token_ms,
            "judge_ms": judge_ms,
            "message": MESSAGE,
            "worker": worker,
            "scenario_repeat": scenario_repeat,
            "paced_s": paced_s,
            "profiled": profile is not None,
            "app_cpu": app_cpu,
        },
        "machine": machine(embedded=embedded, postgres_version=server_version),
        **report,
    }


async def _drive(
    *,
    proc: asyncio.subprocess.Process,
    con: asyncpg.Connection,
    slack: FakeSlack,
    model: FakeOpenAI,
    base: str,
    events: str,
    commands: Commands,
    requests: int,
    warmup: int,
    scenario_repeat: int = 0,
    paced_s: float = 0.0,
) -> dict[str, Any]:
    async with ClientThread(limit=requests) as client:
        http = client.http
        startup_s = await wait_healthy(client, base, proc)

        def post(text: str) -> Awaitable[Sent]:
            return client.run(_post(http, events, *commands.signed(text)))

        async def burst_of(text: str) -> tuple[list[Sent], float, float | None]:
            """The burst, its wall time, and the app's CPU seconds until its last ack."""
            signed = [commands.signed(text) for _ in range(requests)]
            before = cpu_s(proc.pid)
            sent, wall = await client.run(burst(http, events, signed))
            after = cpu_s(proc.pid)
            return sent, wall, None if before is None or after is None else after - before

        async def paced_of(text: str, over_s: float) -> tuple[list[Sent], float | None]:
            signed = [commands.signed(text) for _ in range(requests)]
            before = cpu_s(proc.pid)
            sent, _ = await client.run(paced(http, events, signed, over_s))
            after = cpu_s(proc.pid)
            return sent, None if before is None or after is None else after - before

        replies = len(slack.responses)
        created = await post("new Bench")
        await slack.wait_responses(replies + 1, timeout=10)
        text = str(slack.responses[-1].args.get("text", ""))
        if created.status != 200 or "Created profile" not in text:
            raise RuntimeError(f"could not create the profile: {created.status} {text}")

        # The first answer pays for lazy imports and cold connections in the app; a burst on a
        # process that has answered before is the steady state worth a figure.
        for _ in range(warmup):
            await post(f"test {MESSAGE}")
        counts, done = await wait_answers(con, slack, warmup, SETTLE_TIMEOUT_S)
        if not done or counts["failed"]:
            raise RuntimeError(f"the warm-up answer did not finish cleanly: {counts}")
        idle_mib = rss_mib(proc.pid)

        # Probes: the ack path alone, one at a time, then all at once twice: on new connections
        # (which this opens, for the measured burst to reuse) and on open ones.
        replies = len(slack.responses)
        sequential = [await post("help") for _ in range(PROBE_SEQUENTIAL)]
        help_cold, _, help_cold_cpu = await burst_of("help")
        await slack.wait_responses(replies + PROBE_SEQUENTIAL + requests, timeout=30)
        cpu_before = cpu_s(proc.pid)
        help_warm, _, help_warm_cpu = await burst_of("help")
        await slack.wait_responses(replies + PROBE_SEQUENTIAL + 2 * requests, timeout=30)
        cpu_after = cpu_s(proc.pid)
        # a whole /bot help, its reply through response_url included
        help_cpu_whole = None if cpu_before is None or cpu_after is None else cpu_after - cpu_before

        if scenario_repeat:
            # scenario jobs being answered (in the app or in the worker) during the bursts
            await post(f"scenario run all repeat {scenario_repeat} confirm")
            await _jobs_running(con)
        scenario_jobs = await con.fetchval("SELECT count(*) FROM pgqueuer")

        sampler = Sampler(proc.pid)
        sampling = asyncio.create_task(sampler.run())
        model.max_in_flight = 0
        load_started = time.monotonic()
        try:
            first_request, first_call = len(model.timings), len(slack.calls)
            acks, burst_s, acks_cpu = await burst_of(f"test {MESSAGE}")
            # A second burst while the first one's answers stream: the app's loop is then busy
            # with tokens coming in and appendStream calls going out, the harder case for acks.
            await _streaming(model, first_request, requests)
            streaming_acks, _, streaming_cpu = await burst_of(f"test {MESSAGE}")
            counts, done = await wait_answers(con, slack, warmup + 2 * requests, SETTLE_TIMEOUT_S)
            answers_s = time.monotonic() - load_started
            paced_acks: list[Sent] = []
            paced_cpu = None
            expected = warmup + 2 * requests
            if paced_s > 0:
                # the realistic arrival pattern: the same number of commands, spread evenly over
                # paced_s seconds; the answers of the earlier ones stream while later ones arrive
                paced_acks, paced_cpu = await paced_of(f"test {MESSAGE}", paced_s)
                expected += requests
                counts, done = await wait_answers(con, slack, expected, SETTLE_TIMEOUT_S)
        finally:
            sampler.stop.set()
            await sampling
        after_mib = rss_mib(proc.pid)
        peak_hwm = hwm_mib(proc.pid)

    return {
        "scenario_jobs_at_burst": int(scenario_jobs or 0),
        "startup_s": round(startup_s, 2),
        "ack": {**_summary(acks, acks_cpu), "burst_s": round(burst_s, 3)},
        "ack_while_streaming": _summary(streaming_acks, streaming_cpu),
        "ack_paced": (
            {**_summary(paced_acks, paced_cpu), "over_s": paced_s} if paced_acks else None
        ),
        "probe_help_sequential": _summary(sequential),
        "probe_help_burst_new_connections": _summary(help_cold, help_cold_cpu),
        "probe_help_burst": _summary(help_warm, help_warm_cpu),
        "help_cpu_ms_per_command_with_reply": (
            None if help_cpu_whole is None else round(help_cpu_whole * 1000 / requests, 2)
        ),
        "answers": {
            "expected": expected - warmup,
            "completed": counts["footer_updated"] - warmup,
            "failed": counts["failed"],
            "analysis_failed": counts["analysis_failed"],
            "all_settled": done,
            "seconds_after_burst_start": round(answers_s, 2),
            "max_answers_at_once_at_model": model.max_in_flight,
            # 0.25 s apart would be about 7 for a 1.75 s stream; more means the app's loop was
            # too busy to get back to each stream within 0.25 s, so every chunk flushed
            "append_stream_calls_per_answer": round(
                sum(1 for c in slack.calls[first_call:] if c.method == "chat.appendStream")
                / (expected - warmup),
                1,
            ),
        },
        "rss_mib": {
            "idle": round(idle_mib or 0.0, 1),
            "peak_sampled": round(max(sampler.samples, default=0.0), 1),
            "peak_kernel_hwm": round(peak_hwm or 0.0, 1),
            "after": round(after_mib or 0.0, 1),
            "samples": len(sampler.samples),
        },
    }


def ack_met(report: dict[str, Any]) -> bool:
    ack = report["ack"]
    return bool(ack["p99_ms"] < report["goal_p99_ms"] and not ack["non_200"])


def render(report: dict[str, Any]) -> str:
    s, ack, a, rss = report["settings"], report["ack"], report["answers"], report["rss_mib"]
    rows = [
        ("ack, burst of /bot test (model busy)", ack),
        ("ack, 2nd burst while the 1st's answers stream", report["ack_while_streaming"]),
        *(
            [(f"ack, paced: N over {s['paced_s']:g} s (not a burst)", report["ack_paced"])]
            if report.get("ack_paced")
            else []
        ),
        ("  probe: /bot help, one at a time", report["probe_help_sequential"]),
        (
            "  probe: burst of /bot help, new connections",
            report["probe_help_burst_new_connections"],
        ),
        ("  probe: burst of /bot help, open connections", report["probe_help_burst"]),
    ]
    lines = [
        f"slash-command ack under load: {s['requests']} concurrent `/bot test` over HTTP to one "
        f"app process; model ttft {s['ttft_ms']:g} ms, {s['token_ms']:g} ms between tokens, "
        f"judge {s['judge_ms']:g} ms"
        + ("" if s.get("app_cpu") is None else f"; the app alone on CPU {s['app_cpu']}"),
        f"{report['date']} · {machine_line(report['machine'])}",
        "",
        f"{'figure':<48}{'p50 ms':>8}{'p99 ms':>8}{'max ms':>8}{'sent over ms':>14}"
        f"{'app CPU ms/req':>16}",
    ]
    for label, r in rows:
        cpu = r.get("app_cpu_ms_per_request")
        lines.append(
            f"{label:<48}{r['p50_ms']:>8.1f}{r['p99_ms']:>8.1f}{r['max_ms']:>8.1f}"
            f"{r['send_spread_ms']:>14.1f}{'n/a' if cpu is None else f'{cpu:.2f}':>16}"
        )
    lines += [
        "",
        f"goal: ack p99 < {report['goal_p99_ms']:g} ms: {'met' if ack_met(report) else 'not met'}"
        f" (non-200 acks: {ack['non_200']}; the whole burst took {ack['burst_s'] * 1000:.0f} ms)",
        f"answers: {a['completed']}/{a['expected']} completed ({a['failed']} failed, "
        f"{a['analysis_failed']} without analysis), all done {a['seconds_after_burst_start']:.1f} s"
        f" after the burst began; {a['max_answers_at_once_at_model']} streaming at once; "
        f"{a['append_stream_calls_per_answer']:g} chat.appendStream calls per answer",
        f"RSS: idle {rss['idle']:.1f} MiB, peak {rss['peak_sampled']:.1f} MiB "
        f"(kernel high-water mark {rss['peak_kernel_hwm']:.1f}), after {rss['after']:.1f} MiB; "
        f"app healthy {report['startup_s']:.2f} s after start; exit code after SIGTERM "
        f"{report['exit_code']}",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_ack", description=__doc__)
    parser.add_argument("--requests", type=int, default=100, help="concurrent commands (100)")
    parser.add_argument("--ttft-ms", type=float, default=2000.0, help="model's time to first token")
    parser.add_argument("--token-ms", type=float, default=50.0, help="time between tokens")
    parser.add_argument("--judge-ms", type=float, default=500.0, help="each judge call's latency")
    parser.add_argument(
        "--worker",
        choices=("app", "separate"),
        default="app",
        help="scenario jobs in the app process (app) or in a `romashka worker` beside it",
    )
    parser.add_argument(
        "--scenario-repeat",
        type=int,
        default=0,
        help="start `/bot scenario run all repeat N` before the bursts (0: none)",
    )
    parser.add_argument(
        "--paced-s",
        type=float,
        default=0.0,
        help="also send N `/bot test` evenly over this many seconds, reported apart (0: not)",
    )
    parser.add_argument(
        "--profile", type=Path, default=None, help="run the app under cProfile, stats to this file"
    )
    parser.add_argument(
        "--app-cpu",
        type=int,
        default=None,
        help="pin the app process to this CPU and everything else to the others",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    if args.app_cpu is not None and (
        args.app_cpu not in os.sched_getaffinity(0) or len(os.sched_getaffinity(0)) < 2
    ):
        parser.error("--app-cpu must name one of at least two CPUs this process may use")
    if args.requests < 1 or min(args.ttft_ms, args.token_ms, args.judge_ms) < 0:
        parser.error("--requests must be at least 1; --ttft-ms, --token-ms, --judge-ms at least 0")
    report = asyncio.run(
        bench(
            requests=args.requests,
            ttft_ms=args.ttft_ms,
            token_ms=args.token_ms,
            judge_ms=args.judge_ms,
            worker=args.worker,
            scenario_repeat=args.scenario_repeat,
            paced_s=args.paced_s,
            profile=args.profile.resolve() if args.profile else None,
            app_cpu=args.app_cpu,
        )
    )
    print(json.dumps(report, indent=2, ensure_ascii=False) if args.json else render(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())

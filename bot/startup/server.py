"""Serving the Bolt app: HTTP (with a health check) or Socket Mode, until SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import math
import signal
import time
from collections.abc import Awaitable, Callable, Collection
from typing import TYPE_CHECKING, Any, Final

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest

from bot.release import api
from bot.slack.early_ack import EarlyAck
from bot.slack.rate_limit import TokenBuckets
from bot.startup.daemons import DAEMON_PREFIX
from bot.startup.deps import Deps
from storage.migrate import pending

if TYPE_CHECKING:
    from bot.startup.health import ExternalHealth

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
# SIGTERM to exit: the time given to answers and runs already under way
SHUTDOWN_GRACE_S = 30.0
# stops the job worker, given the grace period: called before the drain, so queued work this
# process was answering is finished or handed back while new requests already go elsewhere
StopWorker = Callable[[float], Awaitable[None]]
HEALTH_PATH = "/healthz"
# Each visit to the install page stores a one-time OAuth state: a client may open it this many
# times at once, then once every INSTALL_REFILL_S seconds (per process).
INSTALL_BURST: Final = 10
INSTALL_REFILL_S: Final = 6.0
TOO_MANY_INSTALLS: Final = "Too many install attempts from your address. Try again in a minute."


def http_app(
    app: AsyncApp, deps: Deps, *, external: ExternalHealth | None = None
) -> web.Application:
    early = EarlyAck(
        app,
        signing_secret=deps.settings.slack_signing_secret.get_secret_value(),
        acks=deps.acks,
    )

    async def events(request: web.Request) -> web.Response:
        with deps.acks.acking():
            body = await request.text()
            if early.takes(request.headers, body):
                early.dispatch_later(body=body, query=request.query_string, headers=request.headers)
                return web.Response(status=200)
            bolt_request = AsyncBoltRequest(
                body=body,
                query=request.query_string,
                headers=request.headers,  # type: ignore[arg-type]
            )
            bolt_response = await app.async_dispatch(bolt_request)
        return await to_aiohttp_response(bolt_response)

    async def health(_: web.Request) -> web.Response:
        """503 when this process cannot work: no database, migrations missing, or Slack refusing
        the bot token. Slack or the model being unreachable is reported but stays 200: every
        process shares it, and taking them all out of the load balancer would not help."""
        body: dict[str, object] = {"ok": True, "database": "ok"}
        try:
            async with deps.pool.acquire() as con:
                missing = await pending(con)
        except Exception:
            log.exception("health check failed")
            body.update(ok=False, database="unreachable")
        else:
            if missing:
                body.update(ok=False, database="migrations pending", pending_migrations=missing)
        if external is not None:
            body.update(await external.state())
            if external.slack_refused:
                body["ok"] = False
        return web.json_response(body, status=200 if body["ok"] else 503)

    web_app = web.Application()
    web_app.router.add_post(EVENTS_PATH, events)
    web_app.router.add_get(HEALTH_PATH, health)
    api.add_routes(web_app, deps)
    flow = app.oauth_flow
    if flow is not None:
        installs = TokenBuckets(capacity=INSTALL_BURST, refill_per_s=1 / INSTALL_REFILL_S)

        async def install(request: web.Request) -> web.Response:
            wait_s = installs.take(request.remote or "unknown")
            if wait_s:
                return web.Response(
                    status=429,
                    text=TOO_MANY_INSTALLS,
                    headers={"Retry-After": str(math.ceil(wait_s))},
                )
            return await to_aiohttp_response(
                await flow.handle_installation(await to_bolt_request(request))
            )

        async def redirect(request: web.Request) -> web.Response:
            return await to_aiohttp_response(
                await flow.handle_callback(await to_bolt_request(request))
            )

        web_app.router.add_get(flow.install_path, install)
        web_app.router.add_get(flow.redirect_uri_path, redirect)
    return web_app


def _stop_event() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def drain(
    *, grace_s: float = SHUTDOWN_GRACE_S, ignore: Collection[asyncio.Task[Any]] = ()
) -> int:
    """Let work already started (answers, runs) finish; what is still going after the grace
    period is cancelled, and scenario runs mark themselves interrupted as they stop. Tasks in
    `ignore` (those that were there before serving began) are not work in flight."""
    current = asyncio.current_task()
    pending = {
        t
        for t in asyncio.all_tasks()
        if t is not current
        and t not in ignore
        and not t.done()
        and not t.get_name().startswith(DAEMON_PREFIX)
    }
    if not pending:
        return 0
    # connections closed a moment ago end within a turn or two of the loop: they are not work
    _, pending = await asyncio.wait(pending, timeout=0.05)
    if not pending:
        return 0
    log.info("waiting up to %.0f s for %d tasks in flight", grace_s, len(pending))
    _, still = await asyncio.wait(pending, timeout=grace_s)
    for task in still:
        task.cancel()
    if still:
        await asyncio.wait(still, timeout=5)
        log.warning("cancelled %d tasks still running after %.0f s", len(still), grace_s)
    return len(still)


async def serve_http(
    app: AsyncApp,
    deps: Deps,
    *,
    port: int,
    host: str = "0.0.0.0",
    external: ExternalHealth | None = None,
    stop: asyncio.Event | None = None,
    grace_s: float = SHUTDOWN_GRACE_S,
    stop_worker: StopWorker | None = None,
) -> None:
    """Serve until `stop` is set (by default: SIGINT or SIGTERM), then drain."""
    before = asyncio.all_tasks()
    # listening for signals before serving: a SIGTERM right after start-up also drains
    stop = stop or _stop_event()
    runner = web.AppRunner(http_app(app, deps, external=external), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    log.info("listening on http://%s:%d%s", host, port, EVENTS_PATH)
    try:
        await stop.wait()
    finally:
        log.info("shutting down: no new requests; finishing work in flight")
        # stop listening first, so a load balancer sends new work to the other processes
        await site.stop()
        # an idle keep-alive connection is not work: close those now (one in the middle of a
        # request closes after its response), so the drain waits for answers and runs only
        if runner.server is not None:
            runner.server.pre_shutdown()
        await _stop_then_drain(stop_worker, grace_s=grace_s, ignore=before)
        await runner.cleanup()


async def serve_socket_mode(
    app: AsyncApp,
    *,
    app_token: str,
    stop: asyncio.Event | None = None,
    grace_s: float = SHUTDOWN_GRACE_S,
    stop_worker: StopWorker | None = None,
) -> None:
    """Serve until `stop` is set (by default: SIGINT or SIGTERM), then drain like HTTP mode.
    Returning only after the drain keeps the database pool open until every task is done or
    cancelled, so a scenario run stopped mid-way can still mark itself interrupted."""
    before = asyncio.all_tasks()
    stop = stop or _stop_event()
    handler = AsyncSocketModeHandler(app, app_token)
    await handler.connect_async()  # type: ignore[no-untyped-call]
    log.info("connected to Slack in Socket Mode")
    try:
        await stop.wait()
    finally:
        log.info("shutting down: no new requests; finishing work in flight")
        # disconnect first: Slack then sends new events to the app's other connections
        await handler.close_async()  # type: ignore[no-untyped-call]
        await _stop_then_drain(stop_worker, grace_s=grace_s, ignore=before)


async def _stop_then_drain(
    stop_worker: StopWorker | None, *, grace_s: float, ignore: Collection[asyncio.Task[Any]]
) -> None:
    """The worker first (its jobs finish or go back to the queue), then the rest in flight,
    within one grace period in all: the work in flight keeps running meanwhile."""
    started = time.monotonic()
    if stop_worker is not None:
        await stop_worker(grace_s)
    await drain(grace_s=max(0.0, grace_s - (time.monotonic() - started)), ignore=ignore)

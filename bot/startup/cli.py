"""The `romashka` command: run the app (default), apply migrations, check the set-up (doctor),
or run scenarios for CI. Only argparse is imported before the arguments are read, so `--help`
and a mistyped command answer at once; each command imports what it needs."""

from __future__ import annotations

import argparse
import contextlib
import sys
from typing import TYPE_CHECKING

from bot.release.export_args import add_arguments as add_export_arguments
from bot.scenarios.args import add_arguments
from bot.scenarios.calibration_args import add_arguments as add_calibration_arguments

if TYPE_CHECKING:
    import asyncpg

    from bot.startup.settings import CoreSettings, Settings

EXIT_CONFIG = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="romashka",
        description="ROMASHKA bot playground for Slack: run the app (the default), apply "
        "migrations, check the set-up, or run scenarios in CI.",
    )
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("run", help="run the Slack app (the default)")
    sub.add_parser(
        "worker",
        help="answer queued work (scenario runs) only, without serving Slack; "
        "for keeping answering away from the process that acknowledges Slack",
    )
    sub.add_parser("migrate", help="apply database migrations and exit")
    sub.add_parser(
        "doctor",
        help="check settings, database, Slack tokens and the model endpoint; exit 0 if all is well",
    )
    scenarios = sub.add_parser("scenarios", help="run test scenarios without Slack (for CI)")
    scenarios_sub = scenarios.add_subparsers(dest="scenarios_command", required=True)
    add_arguments(scenarios_sub.add_parser("run", help="run scenarios against a profile version"))
    profiles = sub.add_parser("profiles", help="profile versions as files (no Slack needed)")
    profiles_sub = profiles.add_subparsers(dest="profiles_command", required=True)
    add_export_arguments(
        profiles_sub.add_parser(
            "export", help="a version's configuration, as the read API gives it"
        )
    )
    add_calibration_arguments(
        sub.add_parser(
            "calibrate", help="sweep a trait's slider and measure what the judge perceives"
        )
    )
    return parser


class StartupError(Exception):
    """Start-up cannot go on; the message is one line a person can act on."""


async def open_database(
    stack: contextlib.AsyncExitStack, settings: CoreSettings, *, applied: list[str] | None = None
) -> asyncpg.Pool:
    import asyncpg

    from bot.startup.runtime import database

    try:
        return await stack.enter_async_context(database(settings, applied_now=applied))
    except (OSError, asyncpg.PostgresError) as exc:
        # the DSN is never printed: it can hold a password
        raise StartupError(
            f"ROMASHKA cannot start: the database did not answer ({type(exc).__name__}). "
            "Check DATABASE_URL, or run `romashka doctor`."
        ) from None


async def run(settings: Settings) -> None:
    import asyncio

    from bot.jobs.worker import Worker, options_from
    from bot.release.api import api_server
    from bot.startup.app import build_app
    from bot.startup.daemons import DAEMON_PREFIX
    from bot.startup.deps import Deps
    from bot.startup.health import ExternalHealth
    from bot.startup.maintenance import maintain
    from bot.startup.runtime import build_llm, build_model_client
    from bot.startup.server import serve_http, serve_socket_mode
    from bot.startup.slack_check import BOT_TOKEN, check_tokens

    # before the database starts: a token Slack refuses will not work later either
    checks = await check_tokens(settings)
    for check in checks:
        if check.refused:
            raise StartupError(f"ROMASHKA cannot start: {check.problem()}")
        if not check.ok:
            print(f"Warning: {check.problem()}; starting anyway.", file=sys.stderr)
    model_client = build_model_client(settings)
    async with contextlib.AsyncExitStack() as stack:
        pool = await open_database(stack, settings)
        deps = Deps(settings=settings, pool=pool, llm=build_llm(settings, client=model_client))
        app = build_app(deps)
        upkeep = asyncio.create_task(
            maintain(pool, retention_days=settings.uninstalled_retention_days),
            name=f"{DAEMON_PREFIX}-upkeep",
        )
        worker = Worker(deps, options=options_from(deps)) if settings.worker_in_app else None
        stop_worker = None
        if worker is not None:
            await worker.start()

            async def stop_worker(grace_s: float) -> None:
                await worker.stop(grace_s=grace_s)

        try:
            if settings.slack_app_token is not None:
                # Socket Mode serves no HTTP: the read API gets a port of its own if asked for
                async with api_server(deps, port=settings.api_port):
                    await serve_socket_mode(
                        app,
                        app_token=settings.slack_app_token.get_secret_value(),
                        stop_worker=stop_worker,
                    )
            else:
                external = ExternalHealth(settings, model=model_client)
                external.seed(next((c for c in checks if c.setting == BOT_TOKEN), None))
                await serve_http(
                    app, deps, port=settings.port, external=external, stop_worker=stop_worker
                )
        finally:
            upkeep.cancel()
            if worker is not None:
                await worker.stop(grace_s=0)


async def run_worker(settings: Settings) -> None:
    """Answer queued work until SIGINT/SIGTERM; then the jobs under way get the shutdown
    grace period and what is left goes back to the queue for another process."""
    import asyncio
    import signal

    from bot.jobs.worker import Worker, options_from
    from bot.startup.deps import Deps
    from bot.startup.runtime import build_llm
    from bot.startup.server import SHUTDOWN_GRACE_S

    async with contextlib.AsyncExitStack() as stack:
        pool = await open_database(stack, settings)
        deps = Deps(settings=settings, pool=pool, llm=build_llm(settings))
        worker = Worker(deps, options=options_from(deps))
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await worker.start()
        print("ROMASHKA worker: answering queued work; Ctrl-C to stop.", file=sys.stderr)
        try:
            await stop.wait()
        finally:
            await worker.stop(grace_s=SHUTDOWN_GRACE_S)


async def run_migrations(settings: CoreSettings) -> None:
    from bot.blocks.common import counted
    from storage.migrate import load_migrations

    applied: list[str] = []
    async with contextlib.AsyncExitStack() as stack:
        await open_database(stack, settings, applied=applied)
    if applied:
        print(f"Applied {counted(len(applied), 'migration')}: {', '.join(applied)}.")
    else:
        print(f"Up to date: all {len(load_migrations())} migrations were already applied.")


async def doctor() -> int:
    import logging

    from bot.startup.doctor import diagnose
    from bot.startup.log_redaction import configure_logging
    from bot.startup.settings import (
        SettingsError,
        load_core_settings,
        load_settings,
    )

    settings: Settings | None = None
    core: CoreSettings | None = None
    problems: list[str] = []
    try:
        settings = load_settings()
    except SettingsError as exc:
        problems = exc.problems
        try:
            core = load_core_settings()
        except SettingsError:
            core = None
    loaded = settings or core
    if loaded is not None:
        configure_logging(loaded, level="ERROR")
    else:
        logging.basicConfig(level="ERROR", stream=sys.stderr)
    return await diagnose(settings=settings, core=core, problems=problems, out=sys.stdout)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    import asyncio

    from bot.startup.log_redaction import configure_logging
    from bot.startup.settings import Settings, SettingsError, load_core_settings, load_settings
    from storage.errors import MigrationError

    if args.command == "doctor":
        return asyncio.run(doctor())
    try:
        settings: CoreSettings = (
            load_core_settings()
            if args.command in {"migrate", "scenarios", "profiles", "calibrate"}
            else load_settings()
        )
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return EXIT_CONFIG
    configure_logging(
        settings,
        level="WARNING"
        if args.command in {"scenarios", "profiles", "calibrate"}
        else settings.log_level,
    )
    try:
        if args.command == "migrate":
            asyncio.run(run_migrations(settings))
        elif args.command == "worker":
            assert isinstance(settings, Settings)
            asyncio.run(run_worker(settings))
        elif args.command == "scenarios":
            from bot.startup.scenarios_cli import run_scenarios

            return asyncio.run(run_scenarios(settings, args))
        elif args.command == "profiles":
            from bot.release.export import export_profile

            return asyncio.run(export_profile(settings, args))
        elif args.command == "calibrate":
            from bot.startup.calibrate_cli import run_calibration

            return asyncio.run(run_calibration(settings, args))
        else:
            assert isinstance(settings, Settings)
            asyncio.run(run(settings))
    except StartupError as exc:
        print(exc, file=sys.stderr)
        return EXIT_CONFIG
    except MigrationError as exc:
        print(f"ROMASHKA cannot start: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        pass
    return 0

"""The `romashka` command: run the app (default), apply migrations, or run scenarios for CI."""

from __future__ import annotations

import argparse
import asyncio
import sys

from bot.app import build_app
from bot.deps import Deps
from bot.log_redaction import configure_logging
from bot.maintenance import maintain
from bot.runtime import build_llm, database
from bot.scenario_cli import add_arguments, run_scenarios
from bot.server import DAEMON_PREFIX, serve_http, serve_socket_mode
from bot.settings import CoreSettings, Settings, SettingsError, load_core_settings, load_settings
from storage.errors import MigrationError

EXIT_CONFIG = 2


async def run(settings: Settings) -> None:
    async with database(settings) as pool:
        deps = Deps(settings=settings, pool=pool, llm=build_llm(settings))
        app = build_app(deps)
        upkeep = asyncio.create_task(
            maintain(pool, retention_days=settings.uninstalled_retention_days),
            name=f"{DAEMON_PREFIX}-upkeep",
        )
        try:
            if settings.slack_app_token is not None:
                await serve_socket_mode(app, app_token=settings.slack_app_token.get_secret_value())
            else:
                await serve_http(app, deps, port=settings.port)
        finally:
            upkeep.cancel()


async def run_migrations(settings: CoreSettings) -> None:
    async with database(settings):
        pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="romashka", description=__doc__)
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("run", help="run the Slack app (the default)")
    sub.add_parser("migrate", help="apply database migrations and exit")
    scenarios = sub.add_parser("scenarios", help="run test scenarios without Slack (for CI)")
    scenarios_sub = scenarios.add_subparsers(dest="scenarios_command", required=True)
    add_arguments(scenarios_sub.add_parser("run", help="run scenarios against a profile version"))
    args = parser.parse_args(argv)

    try:
        settings: CoreSettings = (
            load_core_settings() if args.command in {"migrate", "scenarios"} else load_settings()
        )
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return EXIT_CONFIG
    configure_logging(
        settings, level=settings.log_level if args.command != "scenarios" else "WARNING"
    )
    try:
        if args.command == "migrate":
            asyncio.run(run_migrations(settings))
        elif args.command == "scenarios":
            return asyncio.run(run_scenarios(settings, args))
        else:
            assert isinstance(settings, Settings)
            asyncio.run(run(settings))
    except MigrationError as exc:
        print(f"ROMASHKA cannot start: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        pass
    return 0

"""`romashka doctor`: what a newcomer runs when something does not work. One line per check,
✓ or what to do; settings are named, never shown. Exit 0 only when everything needed works."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Final, TextIO

import asyncpg

from bot.startup.app import BOT_SCOPES
from bot.startup.model_check import NOT_CONFIGURED, check_endpoint, probe_capabilities
from bot.startup.runtime import build_model_client
from bot.startup.settings import ENV_EXAMPLE, CoreSettings, Settings
from bot.startup.slack_check import check_app_token, check_bot_token, missing_scopes
from storage.embedded import EmbeddedPostgres
from storage.migrate import load_migrations, pending

EXIT_OK, EXIT_PROBLEMS = 0, 1
DB_TIMEOUT_S: Final = 10.0
PASS, FAIL, NOTE = "✓", "✗", "!"


@dataclass(frozen=True, slots=True)
class Line:
    mark: str  # PASS, FAIL (needed and broken) or NOTE (works, with less)
    text: str


async def check_database(settings: CoreSettings) -> Line:
    embedded: EmbeddedPostgres | None = None
    where = "DATABASE_URL"
    dsn = settings.database_url
    try:
        if dsn is None:
            where = f"the embedded PostgreSQL in {settings.romashka_data_dir}"
            embedded = EmbeddedPostgres(settings.romashka_data_dir)
            dsn = await asyncio.to_thread(embedded.start)
        con = await asyncpg.connect(dsn, timeout=DB_TIMEOUT_S)
        try:
            missing = await pending(con)
        finally:
            await con.close()
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        return Line(
            FAIL,
            f"database: {where} did not answer ({type(exc).__name__}). Check that the server "
            "runs and that DATABASE_URL names it, with its user and password.",
        )
    finally:
        if embedded is not None:
            await asyncio.to_thread(embedded.stop)
    if missing:
        return Line(
            FAIL,
            f"database: reachable, but {len(missing)} migration(s) not applied "
            f"({', '.join(missing[:3])}{', …' if len(missing) > 3 else ''}). "
            "Run `romashka migrate` (the app also applies them when it starts).",
        )
    return Line(PASS, f"database: reachable, all {len(load_migrations())} migrations applied")


async def check_slack(settings: Settings) -> list[Line]:
    lines: list[Line] = []
    bot, app = await asyncio.gather(check_bot_token(settings), check_app_token(settings))
    if bot is None:
        lines.append(
            Line(
                PASS,
                "Slack: many workspaces (OAuth); each workspace's token is checked as it installs",
            )
        )
    elif not bot.ok:
        lines.append(Line(FAIL, bot.problem()))
    else:
        team = f" (workspace {bot.team})" if bot.team else ""
        missing = missing_scopes(bot, BOT_SCOPES)
        if bot.scopes is None:
            lines.append(
                Line(NOTE, f"SLACK_BOT_TOKEN: accepted{team}; Slack did not list its scopes")
            )
        elif missing:
            lines.append(
                Line(
                    FAIL,
                    f"SLACK_BOT_TOKEN: accepted{team}, but without the scopes "
                    f"{', '.join(missing)} that manifest.yml asks for. Add them under OAuth & "
                    "Permissions → Scopes (or paste manifest.yml again), reinstall the app and "
                    "copy the new token.",
                )
            )
        else:
            lines.append(
                Line(
                    PASS,
                    f"SLACK_BOT_TOKEN: accepted{team}, with all {len(BOT_SCOPES)} scopes the "
                    "manifest asks for",
                )
            )
    if app is None:
        lines.append(
            Line(
                PASS,
                f"HTTP mode (no SLACK_APP_TOKEN): Slack must reach /slack/events on PORT "
                f"{settings.port} at your public URL",
            )
        )
    elif not app.ok:
        lines.append(Line(FAIL, app.problem()))
    else:
        lines.append(Line(PASS, "SLACK_APP_TOKEN: accepted; Socket Mode can connect"))
    return lines


async def check_model(settings: CoreSettings) -> list[Line]:
    client = build_model_client(settings)
    where = "OPENAI_BASE_URL" if settings.openai_base_url else "OpenAI's API"
    problem = await check_endpoint(client)
    if problem is not None and client is not None:
        await client.close()
    if problem == NOT_CONFIGURED or client is None:
        return [
            Line(
                FAIL,
                "model: not configured. Set OPENAI_API_KEY (or OPENAI_BASE_URL for a local "
                "OpenAI-compatible server); without it /bot test only says so.",
            )
        ]
    if problem is not None:
        fix = {
            "credentials rejected": "check OPENAI_API_KEY",
            "unreachable": "check OPENAI_BASE_URL and the network",
            "timed out": "check OPENAI_BASE_URL and the network",
        }.get(problem, "check OPENAI_BASE_URL and the server's own log")
        return [Line(FAIL, f"model: {where} {problem}; {fix}.")]
    lines = [Line(PASS, f"model: {where} answers with these credentials")]
    try:
        capabilities = await probe_capabilities(
            client,
            model=settings.openai_model,
            judge_model=settings.openai_judge_model or settings.openai_model,
        )
    finally:
        await client.close()
    for cap in capabilities:
        # answers are always streamed; the rest only adds measurements or firmer judges
        needed = cap.name == "streaming"
        mark = PASS if cap.supported else (FAIL if needed else NOTE)
        lines.append(Line(mark, f"model {settings.openai_model}: {cap.name}: {cap.detail}"))
    return lines


async def diagnose(
    *, settings: Settings | None, core: CoreSettings | None, problems: list[str], out: TextIO
) -> int:
    """Check everything that can be checked with the settings that loaded."""
    lines = [Line(FAIL, f"settings: {p.strip(' -')}") for p in problems]
    if problems:
        lines.append(
            Line(
                FAIL,
                f"settings: set them in .env or the environment ({ENV_EXAMPLE} lists every "
                "setting); the checks that need them were skipped",
            )
        )
    else:
        lines.append(Line(PASS, "settings: every required setting is set and valid"))
    base = settings or core
    if base is not None:
        lines.append(await check_database(base))
    if settings is not None:
        lines.extend(await check_slack(settings))
    if base is not None:
        lines.extend(await check_model(base))
    for line in lines:
        out.write(f"{line.mark} {line.text}\n")
    failed = sum(line.mark == FAIL for line in lines)
    out.write(
        "Everything needed works.\n" if not failed else f"{failed} problem(s) to fix; see above.\n"
    )
    return EXIT_OK if not failed else EXIT_PROBLEMS

"""`romashka doctor` against the fakes: all good, then each thing a newcomer gets wrong; and
`/healthz` reporting Slack and the model without asking them on every probe."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import asyncpg
import pytest
from aiohttp import web
from pydantic import AnyHttpUrl, SecretStr

from bot.startup.app import build_app
from bot.startup.deps import Deps
from bot.startup.doctor import EXIT_OK, EXIT_PROBLEMS, diagnose
from bot.startup.health import HEALTH_CACHE_S, ExternalHealth
from bot.startup.runtime import build_model_client
from bot.startup.server import http_app
from bot.startup.settings import Settings
from bot.startup.slack_check import UNREACHABLE, TokenCheck
from tests.fake_openai import FakeOpenAI
from tests.fake_slack import FakeSlack
from tests.test_cli import CLEAN_ENV, run_cli
from tests.test_startup import filled_example

APP_TOKEN = "xapp-1-A0001-doctorSECRET"


@pytest.fixture
def complete(settings: Settings, model: FakeOpenAI) -> Settings:
    """Everything set up right: Socket Mode and a model."""
    return settings.model_copy(
        update={
            "slack_app_token": SecretStr(APP_TOKEN),
            "openai_api_key": SecretStr("sk-doctor-SECRET"),
            "openai_base_url": AnyHttpUrl(model.base_url),
            "openai_model": "fake-model",
        }
    )


async def doctor(settings: Settings | None, problems: list[str] | None = None) -> tuple[int, str]:
    out = io.StringIO()
    code = await diagnose(settings=settings, core=None, problems=problems or [], out=out)
    return code, out.getvalue()


def line(report: str, start: str) -> str:
    found = [ln for ln in report.splitlines() if start in ln]
    assert len(found) == 1, report
    return found[0]


async def test_all_good(complete: Settings, slack: FakeSlack, model: FakeOpenAI) -> None:
    code, report = await doctor(complete)
    assert code == EXIT_OK, report
    assert all(ln.startswith("✓") for ln in report.splitlines()[:-1]), report
    assert "all 11 scopes the manifest asks for" in line(report, "SLACK_BOT_TOKEN")
    assert "Socket Mode can connect" in line(report, "SLACK_APP_TOKEN")
    assert "migrations applied" in line(report, "database:")
    for capability in ("streaming", "usage in the stream", "logprobs", "strict JSON schema"):
        assert line(report, f": {capability}:").startswith("✓")
    assert report.rstrip().endswith("Everything needed works.")
    assert "SECRET" not in report
    assert len(slack.of("auth.test")) == 1 and len(slack.of("apps.connections.open")) == 1


@pytest.mark.parametrize("method", ["auth.test", "apps.connections.open"])
async def test_a_token_slack_refuses(complete: Settings, slack: FakeSlack, method: str) -> None:
    slack.fail_next(method, error="invalid_auth")
    code, report = await doctor(complete)
    assert code == EXIT_PROBLEMS
    setting = "SLACK_BOT_TOKEN" if method == "auth.test" else "SLACK_APP_TOKEN"
    refused = line(report, f"Slack refused {setting}")
    assert refused.startswith("✗") and "invalid_auth" in refused and "Fix:" in refused
    assert "SECRET" not in report


async def test_a_missing_scope(complete: Settings, slack: FakeSlack) -> None:
    slack.scopes.remove("files:write")
    code, report = await doctor(complete)
    assert code == EXIT_PROBLEMS
    missing = line(report, "SLACK_BOT_TOKEN")
    assert missing.startswith("✗") and "without the scopes files:write" in missing
    assert "reinstall the app" in missing


async def test_the_model_is_down(complete: Settings, model: FakeOpenAI) -> None:
    await model.stop()
    code, report = await doctor(complete)
    assert code == EXIT_PROBLEMS
    down = line(report, "model:")
    assert down.startswith("✗") and "unreachable" in down and "OPENAI_BASE_URL" in down


async def test_the_model_refuses_the_key(complete: Settings, model: FakeOpenAI) -> None:
    model.fail_next("auth")
    code, report = await doctor(complete)
    assert code == EXIT_PROBLEMS
    assert "credentials rejected; check OPENAI_API_KEY" in line(report, "model:")
    assert "SECRET" not in report


async def test_no_model_configured(complete: Settings) -> None:
    bare = complete.model_copy(update={"openai_api_key": None, "openai_base_url": None})
    code, report = await doctor(bare)
    assert code == EXIT_PROBLEMS
    assert "Set OPENAI_API_KEY" in line(report, "model:")


async def test_what_the_model_lacks_is_said_but_not_a_failure(
    complete: Settings, model: FakeOpenAI
) -> None:
    model.reject_params = {"logprobs", "stream_options"}
    model.reject_json_schema = True
    code, report = await doctor(complete)
    assert code == EXIT_OK, report
    assert line(report, ": logprobs:").startswith("! ")
    assert "confidence shows as n/a" in line(report, ": logprobs:")
    assert "token counts show as n/a" in line(report, ": usage in the stream:")
    assert line(report, ": strict JSON schema:").startswith("! ")
    assert line(report, ": streaming:").startswith("✓")


async def test_the_database_is_down(complete: Settings) -> None:
    down = complete.model_copy(
        update={"database_url": "postgresql://romashka:dbSECRET@127.0.0.1:1/none"}
    )
    code, report = await doctor(down)
    assert code == EXIT_PROBLEMS
    assert line(report, "database:").startswith("✗ database: DATABASE_URL did not answer")
    assert "dbSECRET" not in report


async def test_the_database_is_not_migrated(complete: Settings, db_dsn: str) -> None:
    con = await asyncpg.connect(db_dsn)
    try:
        await con.execute("DELETE FROM schema_migrations WHERE version = 9")
    finally:
        await con.close()
    code, report = await doctor(complete)
    assert code == EXIT_PROBLEMS
    assert "1 migration(s) not applied (0009_purge.sql)" in line(report, "database:")
    assert "romashka migrate" in report


async def test_the_command_names_settings_and_exits_1(
    tmp_path: Path, slack: FakeSlack, db_dsn: str, model: FakeOpenAI
) -> None:
    filled_example(tmp_path, SLACK_BOT_TOKEN="xoxb-1-2-cmdSECRET")
    env = {**CLEAN_ENV, "SLACK_API_URL": slack.api_url, "DATABASE_URL": db_dsn}
    code, out = await run_cli("doctor", env=env, cwd=tmp_path)
    assert code == EXIT_PROBLEMS, out
    assert line(out, "settings: SLACK_SIGNING_SECRET").startswith("✗")
    assert "placeholder" in line(out, "settings: SLACK_APP_TOKEN")
    assert ".env.example lists every setting" in out
    # what could still be checked was
    assert line(out, "database:").startswith("✓")
    assert "cmdSECRET" not in out and "Traceback" not in out


# ---- /healthz -------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def serve(
    settings: Settings, pool: asyncpg.Pool, external: ExternalHealth
) -> AsyncIterator[str]:
    deps = Deps(settings=settings, pool=pool)
    runner = web.AppRunner(http_app(build_app(deps), deps, external=external), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}/healthz"
    finally:
        await runner.cleanup()


async def probe(url: str) -> tuple[int, dict[str, object]]:
    async with aiohttp.ClientSession() as http, http.get(url) as r:
        body: dict[str, object] = await r.json()
        return r.status, body


async def test_healthz_reports_slack_and_the_model_and_caches_the_checks(
    complete: Settings, pool: asyncpg.Pool, slack: FakeSlack, model: FakeOpenAI
) -> None:
    clock = Clock()
    external = ExternalHealth(complete, model=build_model_client(complete), clock=clock)
    async for url in serve(complete, pool, external):
        for _ in range(5):
            status, body = await probe(url)
            assert status == 200
            assert body == {"ok": True, "database": "ok", "slack": "ok", "model": "ok"}
        assert len(slack.of("auth.test")) == 1 and model.model_list_requests == 1
        # later, Slack starts refusing the token: the next check after the cache expires says so
        slack.fail_next("auth.test", error="token_revoked")
        clock.now += HEALTH_CACHE_S + 1
        status, body = await probe(url)
        assert status == 503
        assert body["slack"] == "refused: token_revoked" and body["ok"] is False
        await model.stop()
        clock.now += HEALTH_CACHE_S + 1
        status, body = await probe(url)
        assert body["model"] == "unreachable"


async def test_healthz_stays_200_when_only_the_model_is_down(
    complete: Settings, pool: asyncpg.Pool, model: FakeOpenAI
) -> None:
    await model.stop()
    external = ExternalHealth(complete, model=build_model_client(complete))
    async for url in serve(complete, pool, external):
        status, body = await probe(url)
        assert status == 200 and body["model"] == "unreachable" and body["slack"] == "ok"


@pytest.mark.parametrize(
    ("error", "refused"),
    [
        ("invalid_auth", True),
        ("token_revoked", True),
        ("account_inactive", True),
        ("internal_error", False),
        ("ratelimited", False),
        (UNREACHABLE, False),
    ],
)
def test_only_a_refusal_stops_the_app(error: str, refused: bool) -> None:
    check = TokenCheck("SLACK_BOT_TOKEN", error=error)
    assert check.refused is refused
    assert not check.ok and "SLACK_BOT_TOKEN" in check.problem()
    assert ("Fix:" in check.problem()) is refused

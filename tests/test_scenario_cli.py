"""`romashka scenarios run` as a real process against real Postgres and the fake model."""

from __future__ import annotations

import asyncio
import json
import random
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


@pytest.mark.usefixtures("profile")
async def test_repeat_shows_intervals_and_strict_gates_use_the_lower_bound(
    db_dsn: str, model: FakeOpenAI, tmp_path: Path
) -> None:
    base = ("Billing questions", "--team", TEAM, "--profile", "Support", "--format", "json")
    code, out, err = await cli(
        *base, "--repeat", "3", "--min-pass-rate", "0.8", db_dsn=db_dsn, model=model, cwd=tmp_path
    )
    assert code == 0, err
    report = json.loads(out)
    total = report["overall"]
    assert (total["repeat"], total["messages"], total["judged"]) == (3, 9, 27)
    assert total["pass_k"] == 1.0 and total["flaky"] == []
    assert 0.87 < total["pass_low"] < 0.88  # Wilson 95% for 27/27
    assert [m["samples"] for m in report["messages"]] == [3, 3, 3]
    assert all(m["pass_rate_low"] is not None for m in report["messages"])
    # 9/9 passed once each: the point figure meets 80%, the interval's lower bound (70%) not
    code, out, err = await cli(
        *base, "--min-pass-rate", "0.8", "--strict", db_dsn=db_dsn, model=model, cwd=tmp_path
    )
    assert code == 1
    assert json.loads(out)["problems"] == ["pass rate's lower bound 70% is below 80%"]
    code, _, err = await cli(
        *base, "--min-pass-rate", "0.8", db_dsn=db_dsn, model=model, cwd=tmp_path
    )
    assert code == 0, err
    code, _, err = await cli(*base, "--repeat", "21", db_dsn=db_dsn, model=model, cwd=tmp_path)
    assert code == 2 and "--repeat must be from 1 to 20" in err


class _CoinFlip(dict[str, int]):
    """The behaviour judge's scores with "careful" a seeded 50/50: passes or fails at random."""

    def __init__(self, seed: int) -> None:
        super().__init__()
        self.coin = random.Random(seed)
        self.drawn: list[bool] = []

    def get(self, name: str, default: int | None = None) -> int | None:  # type: ignore[override]
        if name != "careful":
            return default
        self.drawn.append(self.coin.random() < 0.5)
        return 90 if self.drawn[-1] else 10


@pytest.mark.usefixtures("profile")
async def test_flaky_behaviour_on_a_seeded_coin(
    db_dsn: str, model: FakeOpenAI, tmp_path: Path
) -> None:
    coin = _CoinFlip(seed=17)
    model.behaviour_scores = coin
    code, out, err = await cli(
        "Billing questions",
        "--team",
        TEAM,
        "--profile",
        "Support",
        "--format",
        "junit",
        "--repeat",
        "6",
        "--concurrency",
        "1",
        db_dsn=db_dsn,
        model=model,
        cwd=tmp_path,
    )
    assert code == 0, err
    assert len(coin.drawn) == 18
    # one at a time, sample by sample: message i's samples are draws i, i + 3, i + 6, ...
    messages = [
        "Why was I charged twice this month?",
        "How do I cancel my subscription?",
        "Can I get a refund for last month?",
    ]
    expected = [f"{m} → careful" for i, m in enumerate(messages) if len(set(coin.drawn[i::3])) == 2]
    assert expected  # the seed makes at least one message flaky (a 50/50 one is, 31 in 32)
    suite = ET.fromstring(out).find("testsuite")
    assert suite is not None and suite.get("tests") == "18"
    properties = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert properties["flaky"] == "; ".join(expected)
    assert properties["samples_per_message"] == "6"
    # 18 answers × 3 behaviours, of which "careful" passed when the coin said so
    assert properties["pass_rate"] == f"{(36 + sum(coin.drawn)) / 54:.4g}"
    names = [c.get("name") for c in suite.iter("testcase")]
    assert f"{messages[0]} [sample 6]" in names


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


@pytest.mark.usefixtures("profile")
async def test_the_run_goes_through_the_job_queue(
    db_dsn: str, model: FakeOpenAI, tmp_path: Path, pool: asyncpg.Pool
) -> None:
    """Each message is a job on the queue (the Slack run's own), run once by this command's
    worker: nothing left queued, the run completed with its totals, one result per message."""
    code, _, err = await cli(
        "all", "--team", TEAM, "--profile", "Support", db_dsn=db_dsn, model=model, cwd=tmp_path
    )
    assert code == 0, err
    done = await pool.fetch(
        "SELECT job_id FROM pgqueuer_log WHERE entrypoint = 'scenario_message_headless'"
        " AND status = 'successful'"
    )
    assert len(done) == len({r["job_id"] for r in done}) == 9
    assert await pool.fetchval("SELECT count(*) FROM pgqueuer") == 0
    run = await pool.fetchrow("SELECT status, totals, channel_id FROM scenario_runs")
    assert run["status"] == "completed" and run["totals"] and run["channel_id"] is None
    assert await pool.fetchval("SELECT count(*) FROM test_results") == 9

"""`romashka calibrate` as a real process against real Postgres and the fake model."""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import replace
from pathlib import Path

import asyncpg
import pytest

from bot.domain.profile import DEFAULT_FIELDS
from bot.persona.personality import trait_instruction
from storage import profiles as repo
from tests.fake_openai import FakeOpenAI, Leaning, read_cues
from tests.test_cli import CLEAN_ENV

TEAM = "T0CAL"


async def calibrate(*args: str, db_dsn: str, model: FakeOpenAI, cwd: Path) -> tuple[int, str, str]:
    env = {
        **CLEAN_ENV,
        "DATABASE_URL": db_dsn,
        "OPENAI_BASE_URL": model.base_url,
        "OPENAI_API_KEY": "sk-cal-SECRET",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "calibrate",
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
async def test_formality_sweep(
    db_dsn: str, model: FakeOpenAI, tmp_path: Path, pool: asyncpg.Pool
) -> None:
    code, out, err = await calibrate(
        "formality",
        "--team",
        TEAM,
        "--profile",
        "Support",
        "--scenario",
        "Product inquiry",
        "--samples",
        "2",
        "--format",
        "json",
        "--chart",
        str(tmp_path / "charts"),
        db_dsn=db_dsn,
        model=model,
        cwd=tmp_path,
    )
    assert code == 0, err
    report = json.loads(out)
    # 3 messages × 5 settings × 2 samples, each an answer and a judge call, said before running
    assert report["model_calls"] == 60
    assert "= 60 model calls" in err
    assert len(model.requests) == 60
    [formality] = report["traits"]
    assert [lv["setting"] for lv in formality["levels"]] == [0, 25, 50, 75, 100]
    assert all(lv["samples"] == 6 for lv in formality["levels"])
    means = [lv["perceived"]["value"] for lv in formality["levels"]]
    # the fake answers more formally as the slider rises: the judge perceives it
    assert means == sorted(means) and means[0] < means[-1]
    assert formality["correlation"]["rho"] > 0.5
    assert formality["correlation"]["low"] <= formality["correlation"]["rho"]
    assert "contractions_per_100_words" in formality["levels"][0]["proxies"]
    png = (tmp_path / "charts" / "formality.png").read_bytes()
    assert png.startswith(b"\x89PNG")
    assert "SECRET" not in out + err
    assert formality["against_last"] is None  # the first one is kept to compare with
    assert formality["samples_without_levels"] == formality["samples_missing"] == 0
    # through the queue: every cell stored once, no job left, the calibration kept once
    run = await pool.fetchrow("SELECT * FROM calibration_runs")
    assert (run["status"], run["created_by"], run["channel_id"]) == ("completed", "cli", None)
    assert await pool.fetchval("SELECT count(*) FROM calibration_cells") == 30
    assert await pool.fetchval("SELECT count(*) FROM pgqueuer") == 0
    assert (
        await pool.fetchval(
            "SELECT count(*) FROM calibrations WHERE calibration_run_id = $1", run["id"]
        )
        == 1
    )
    # the same sweep again, as a table: compared with the one before, inputs unchanged
    code, out, err = await calibrate(
        "formality",
        "--team",
        TEAM,
        "--profile",
        "Support",
        "--scenario",
        "Product inquiry",
        "--samples",
        "2",
        db_dsn=db_dsn,
        model=model,
        cwd=tmp_path,
    )
    assert code == 0, err
    assert "Against the last calibration (Support v1, " in out
    assert "prompt inputs changed" not in out
    assert f"ρ {formality['correlation']['rho']:.2f} → " in out
    assert "dead ranges: " in out and "perceived level moved detectably (Welch) at " in out


@pytest.mark.usefixtures("profile")
async def test_cost_is_said_and_a_large_sweep_needs_yes(
    db_dsn: str, model: FakeOpenAI, tmp_path: Path
) -> None:
    code, _, err = await calibrate(
        "all", "--team", TEAM, "--profile", "Support", db_dsn=db_dsn, model=model, cwd=tmp_path
    )
    # 4 traits × 5 settings × 9 messages × 5 samples × 2 calls
    assert code == 2
    assert "= 1800 model calls" in err and "add --yes" in err
    assert model.requests == []


# A hidden curve of the formality slider, unknown to the product: rising to 25, flat from 25 to
# 50 (a dead range), then rising faster to 100.
def hidden_formality(level: int) -> float:
    if level <= 25:
        return float(level)
    if level <= 50:
        return 25.0
    return 25.0 + (level - 50) * 1.5


@pytest.mark.usefixtures("profile")
async def test_a_hidden_curve_and_its_dead_range_are_recovered(
    db_dsn: str, model: FakeOpenAI, tmp_path: Path
) -> None:
    """The fake writes from a continuous function of the slider the test knows (the level is
    read off the system prompt by matching the product's own line for each level, so the fake
    learns no wording): the calibration must recover its shape and find its dead range."""
    lines = {level: trait_instruction("formality", level) for level in range(101)}

    def leaning(system: str) -> Leaning:
        base = read_cues(system)
        [level] = [lv for lv, line in lines.items() if line in system]
        # the fake's formal leaning spans its whole casual..formal range (0.25..0.75)
        return replace(base, formal=0.25 + 0.5 * hidden_formality(level) / 100)

    model.leaning = leaning
    code, out, err = await calibrate(
        "formality",
        "--team",
        TEAM,
        "--profile",
        "Support",
        "--scenario",
        "Product inquiry",
        "--samples",
        "2",
        "--format",
        "json",
        db_dsn=db_dsn,
        model=model,
        cwd=tmp_path,
    )
    assert code == 0, err
    [formality] = json.loads(out)["traits"]
    means = [lv["perceived"]["value"] for lv in formality["levels"]]
    # the known shape: rising, flat between 25 and 50, rising again
    assert means[0] < means[1] == means[2] < means[3] < means[4]
    assert [tuple(r) for r in formality["dead_ranges"]] == [(25, 50)]
    assert formality["correlation"]["rho"] > 0.9


@pytest.mark.usefixtures("profile")
async def test_a_version_deleted_mid_sweep_ends_it_clearly(
    db_dsn: str, model: FakeOpenAI, tmp_path: Path, pool: asyncpg.Pool
) -> None:
    model.ttft_s = 0.3
    sweep = asyncio.create_task(
        calibrate(
            "formality",
            "--team",
            TEAM,
            "--profile",
            "Support",
            "--scenario",
            "Product inquiry",
            "--samples",
            "2",
            db_dsn=db_dsn,
            model=model,
            cwd=tmp_path,
        )
    )
    for _ in range(300):
        if await pool.fetchval("SELECT count(*) FROM calibration_cells"):
            break
        await asyncio.sleep(0.05)
    # versions go only with their workspace's data; here the version alone goes
    async with pool.acquire() as con, con.transaction():
        await con.execute(
            "UPDATE workspaces SET default_profile_id = NULL WHERE team_id = $1", TEAM
        )
        await con.execute("DELETE FROM profiles WHERE team_id = $1", TEAM)
    code, out, err = await sweep
    assert code == 1, err
    assert "stopped: its profile version (Support v1) was deleted" in err
    assert out == ""

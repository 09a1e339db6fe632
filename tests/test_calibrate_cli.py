"""`romashka calibrate` as a real process against real Postgres and the fake model."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import asyncpg
import pytest

from bot.domain.profile import DEFAULT_FIELDS
from storage import profiles as repo
from tests.fake_openai import FakeOpenAI
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
async def test_formality_sweep(db_dsn: str, model: FakeOpenAI, tmp_path: Path) -> None:
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

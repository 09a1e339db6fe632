"""`romashka scenarios run` with simulated customers, as a real process: the fake model plays
the customer (its requests recognised by their schema's name) and the bot."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.fake_openai import FakeOpenAI
from tests.test_scenario_cli import TEAM, cli, profile  # noqa: F401  (the fixture)
from tests.test_simulation import REFUND_SCRIPT, scripted_customer


@pytest.mark.usefixtures("profile")
async def test_a_simulation_runs_from_the_cli_in_every_format(
    db_dsn: str, model: FakeOpenAI, tmp_path: Path
) -> None:
    model.json_hook = scripted_customer(REFUND_SCRIPT)
    code, out, err = await cli(
        "Charged twice (simulated)",
        "--team",
        TEAM,
        "--profile",
        "Support",
        db_dsn=db_dsn,
        model=model,
        cwd=tmp_path,
    )
    assert code == 0, err
    assert "Simulation run #1 on Support v1" in out
    assert "Charged twice (simulated): 1 conversations (goal_met 1)" in out
    assert "goal reached 1/1; yes 1, partly 0, no 0" in out
    assert "drift Enthusiasm: trend " in out and "SECRET" not in out + err

    # a behaviour not shown fails the gate; json carries the figures
    model.json_hook = scripted_customer(REFUND_SCRIPT)
    model.behaviour_scores = {"empathetic": 10}
    code, out, err = await cli(
        "Charged twice (simulated)",
        "--team",
        TEAM,
        "--profile",
        "Support",
        "--format",
        "json",
        "--min-pass-rate",
        "0.9",
        db_dsn=db_dsn,
        model=model,
        cwd=tmp_path,
    )
    assert code == 1
    report = json.loads(out)
    assert report["kind"] == "simulation" and report["passed"] is False
    # goal yes + 2 of 3 behaviours: 3 of 4 checks
    assert report["pass_rate"]["passed"] == 3 and report["pass_rate"]["n"] == 4
    assert report["problems"] == ["simulations' pass rate 75% is below 90%"]
    [sim] = report["simulations"]
    assert {d["trait"] for d in sim["drift"]} == {
        "formality",
        "enthusiasm",
        "technical_depth",
        "empathy",
    }

    # junit: a simulator fault is skipped, never a pass or a failure
    model.json_hook = scripted_customer([("   ", "continue")])
    model.behaviour_scores = {}
    code, out, err = await cli(
        "Charged twice (simulated)",
        "--team",
        TEAM,
        "--profile",
        "Support",
        "--format",
        "junit",
        db_dsn=db_dsn,
        model=model,
        cwd=tmp_path,
    )
    assert code == 1  # nothing was judged
    suite = ET.fromstring(out).find("testsuite")
    assert suite is not None and suite.get("skipped") == "1" and suite.get("failures") == "0"
    assert "nothing was judged" in err

"""Simulated customers' pure parts: drift, character breaks, the form and the Block Kit."""

from __future__ import annotations

from typing import Any

import pytest

from bot import ids, limits
from bot.blocks.scenarios import FormContext
from bot.blocks.simulation import (
    drift_line,
    simulation_form,
    summary,
    turn_message,
    with_kind_choice,
)
from bot.simulation.customer import broke_character
from bot.simulation.drift import TOLERANCE, Point, first_outside, trait_drift, trend
from bot.simulation.form import validate
from tests.block_kit_rules import block_problems, view_problems


def test_trend_is_na_below_three_turns() -> None:
    assert trend([Point(1, 0.0), Point(2, 10.0)]) is None
    d = trait_drift("empathy", 50, [Point(1, 0.0), Point(2, 10.0)])
    assert d.slope is None and d.slope_low is None
    assert "trend n/a (< 3 judged turns)" in drift_line(d.to_json())


def test_an_exact_line_has_its_slope_and_a_zero_width_interval() -> None:
    fitted = trend([Point(t, 5.0 * t - 5) for t in (1, 2, 3, 4)])
    assert fitted == pytest.approx((5.0, 5.0, 5.0))


def test_slope_interval_matches_the_textbook_numbers() -> None:
    # y = 0, 2, 1, 5 at x = 1..4: Sxy = 7, Sxx = 5, slope 1.4; residuals 0.1, 0.7, -1.7, 0.9,
    # SSE 4.2, SE = sqrt(SSE/(n-2)/Sxx) = sqrt(0.42) = 0.6481, t(0.975, 2) = 4.3027:
    # the interval is 1.4 ± 2.7885
    slope, low, high = trend([Point(1, 0), Point(2, 2), Point(3, 1), Point(4, 5)]) or (0, 0, 0)
    assert slope == pytest.approx(1.4)
    assert low == pytest.approx(1.4 - 2.7885, abs=1e-3)
    assert high == pytest.approx(1.4 + 2.7885, abs=1e-3)


@pytest.mark.parametrize(
    ("gaps", "crossing"),
    [
        ([(1, 0.0), (2, 15.0), (3, -15.0)], None),  # on the band's edge is inside
        ([(1, 0.0), (2, 15.5), (3, 0.0)], 2),
        ([(1, -40.0), (2, 0.0)], 1),
        ([], None),
    ],
)
def test_first_turn_outside_the_band(gaps: list[tuple[int, float]], crossing: int | None) -> None:
    assert TOLERANCE == 15
    assert first_outside(gaps) == crossing


def test_samples_pool_into_a_mean_gap_per_turn() -> None:
    d = trait_drift("formality", 50, [Point(1, 10), Point(1, 30), Point(2, 0), Point(2, 40)])
    assert d.gaps == ((1, 20.0), (2, 20.0)) and d.first_outside == 1 and d.points == 4


@pytest.mark.parametrize(
    ("text", "phrase"),
    [
        ("As an AI, I cannot be charged.", "As an AI"),
        ("I'm an AI language model playing a customer", "I'm an AI"),
        ("Sorry, I am a language model", "I am a language model"),
        ("How can I help you today?", "How can I help you"),
        ("I can't roleplay this", "I can't roleplay"),
        ("Let's end this role-play", "this role-play"),
        ("I was charged twice, fix it now", None),
        ("My AI assistant integration returns 429", None),
        ("I am an engineer, give me the codes", None),
    ],
)
def test_breaking_character_is_caught_without_flagging_customers(
    text: str, phrase: str | None
) -> None:
    assert broke_character(text) == phrase


def values(**changes: str) -> dict[str, str | None]:
    base = {
        ids.SIMULATION_NAME: "Late parcel",
        ids.SIMULATION_WHO: "A shop owner",
        ids.SIMULATION_MOOD: "annoyed",
        ids.SIMULATION_EXPERTISE: "novice",
        ids.SIMULATION_WANTS: "the parcel",
        ids.SIMULATION_GIVES_UP: "no date",
        ids.SIMULATION_FACTS: "",
        ids.SIMULATION_GOAL: "a date",
        ids.SIMULATION_BEHAVIOURS: "",
        ids.SIMULATION_TURN_LIMIT: "",
    }
    return {**base, **changes}


@pytest.mark.parametrize(
    ("changes", "field", "fragment"),
    [
        ({ids.SIMULATION_NAME: "simulations"}, ids.SIMULATION_NAME, "reserved"),
        ({ids.SIMULATION_NAME: "a@b"}, ids.SIMULATION_NAME, "`@`"),
        ({ids.SIMULATION_MOOD: " "}, ids.SIMULATION_MOOD, "is needed"),
        ({ids.SIMULATION_WHO: "w" * 1001}, ids.SIMULATION_WHO, "At most 1,000 characters"),
        ({ids.SIMULATION_FACTS: "f" * 501}, ids.SIMULATION_FACTS, "At most 500"),
        ({ids.SIMULATION_GOAL: "g" * 301}, ids.SIMULATION_GOAL, "At most 300"),
        ({ids.SIMULATION_TURN_LIMIT: "0"}, ids.SIMULATION_TURN_LIMIT, "1 to 20"),
        ({ids.SIMULATION_TURN_LIMIT: "x"}, ids.SIMULATION_TURN_LIMIT, "1 to 20"),
        (
            {ids.SIMULATION_BEHAVIOURS: ",".join(f"b{i}" for i in range(11))},
            ids.SIMULATION_BEHAVIOURS,
            "At most 10",
        ),
    ],
)
def test_bad_simulation_input(changes: dict[str, str], field: str, fragment: str) -> None:
    form, errors = validate(values(**changes))
    assert form is None and fragment in errors[field]


def test_a_blank_turn_limit_is_the_default() -> None:
    form, errors = validate(values())
    assert errors == {} and form is not None and form.turn_limit == 8


def test_the_forms_are_valid_views() -> None:
    context = FormContext(None, "C1", None)
    view = with_kind_choice(simulation_form(context), chosen=ids.SCENARIO_KIND_SIMULATED)
    assert view_problems(view) == []
    assert view["blocks"][0]["elements"][0]["initial_option"]["value"] == "simulated"
    assert len(view["blocks"]) <= limits.BLOCKS_PER_VIEW


def test_a_long_hostile_turn_fits_and_is_neutralised() -> None:
    text, blocks = turn_message(
        name="Charged <twice>",
        sample=1,
        repeat=3,
        turn=2,
        text="<!here> " + "x" * 20_000,
        customer=True,
    )
    assert block_problems(blocks, most=limits.BLOCKS_PER_MESSAGE) == []
    assert "<!here>" not in text and "<!here>" not in str(blocks)
    assert "sample 2 of 3 · customer turn 2" in blocks[-1]["elements"][0]["text"]


def _figure(n: int) -> dict[str, Any]:
    drift = {
        "trait": "empathy",
        "target": 50,
        "points": 3,
        "gaps": [[1, 0.0], [2, 10.0], [3, 30.0]],
        "slope": 15.0,
        "slope_low": 2.0,
        "slope_high": 28.0,
        "first_outside": 3,
    }
    rate = {"passed": 1, "n": 2, "value": 0.5, "low": 0.09, "high": 0.91}
    return {
        "simulation_id": n,
        "name": f"Sim {n} " + "y" * 50,
        "conversations": 2,
        "counted": 2,
        "endings": {"goal_met": 1, "gave_up": 1},
        "faults": [],
        "goal": {"yes": 1, "partly": 0, "no": 1, "rate": rate, "reasons": ["yes: <b>ok</b>"]},
        "behaviours": [{"behaviour": f"b{i}", **rate} for i in range(10)],
        "alignment": 70.0,
        "drift": [drift] * 4,
    }


def test_the_summary_stays_within_slack_limits() -> None:
    data = {
        "simulations": [_figure(n) for n in range(60)],
        "pass_rate": {"passed": 3, "n": 4, "value": 0.75, "low": 0.3, "high": 0.95},
        "alignment": 70.0,
    }
    text, blocks = summary(run_id=7, label="Support v1", data=data)
    assert "pass rate 3/4" in text
    assert block_problems(blocks, most=limits.BLOCKS_PER_MESSAGE) == []
    shown = str(blocks)
    assert "Goal reached: 1/2 (50%), 95% CI 9%–91%" in shown
    assert "trend +15.0/turn (95% CI +2.0 to +28.0) · leaves ±15 at turn 3" in shown
    assert "<b>" not in shown


@pytest.mark.parametrize(
    ("unconfirmed", "note"),
    [(None, None), (0, None), (1, "1 turn post not confirmed"), (3, "3 turn posts not confirmed")],
)
def test_the_summary_counts_turn_posts_not_confirmed(
    unconfirmed: int | None, note: str | None
) -> None:
    data: dict[str, object] = {
        "simulations": [_figure(0)],
        "pass_rate": {"passed": 3, "n": 4, "value": 0.75, "low": 0.3, "high": 0.95},
        "alignment": 70.0,
    }
    if unconfirmed is not None:
        data["unconfirmed_posts"] = unconfirmed
    _, blocks = summary(run_id=7, label="Support v1", data=data)
    assert block_problems(blocks, most=limits.BLOCKS_PER_MESSAGE) == []
    shown = str(blocks)
    if note is None:
        assert "not confirmed" not in shown
    else:
        assert f"⚠️ {note} (Slack refused it, or the app stopped while posting" in shown

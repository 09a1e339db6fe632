"""The App Home view, table-driven: each line of the A/B list by the test's state (never a
split while voting is open), the leaderboard's states, and the profiles cap."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot import ids
from bot.blocks.home import PROFILES_SHOWN, home_view
from bot.domain.stats import AbSummary, HomeProfile, RecentTest
from bot.domain.verdict import Ranked
from bot.metrics import judges
from bot.metrics.agreement import cohen_kappa_interval
from tests.block_kit_rules import view_problems
from tests.rows import WHEN

PROFILE = HomeProfile(
    profile_id=5,
    name="Support",
    version=3,
    bot_name="Helper",
    avatar_emoji=":robot_face:",
    traits={"formality": 70, "enthusiasm": 50, "technical_depth": 20, "empathy": 90},
    response_style="concise",
    is_default=True,
)


def view(**kwargs: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "profiles": [PROFILE],
        "total_profiles": 1,
        "tests": [],
        "ab_tests": [],
        "ranked": [],
        "labels": {},
    }
    args.update(kwargs)
    built = home_view(**args)
    assert view_problems(built) == []
    assert built["callback_id"] == ids.HOME_VIEW
    return built


def text(built: dict[str, Any]) -> str:
    return json.dumps(built, ensure_ascii=False)


def section_after(built: dict[str, Any], header: str) -> str:
    """The text of the section under `header`: the definitions at the bottom use the same words."""
    blocks = built["blocks"]
    at = next(
        i for i, b in enumerate(blocks) if b["type"] == "header" and b["text"]["text"] == header
    )
    section: str = blocks[at + 1]["text"]["text"]
    return section


def ab(status: str, **changes: Any) -> AbSummary:
    row: dict[str, Any] = {
        "ab_id": 7,
        "label_a": "Support v1",
        "label_b": "Support v2",
        "status": status,
        "started_at": WHEN,
        "closed_at": WHEN if status in {"closed", "cancelled"} else None,
        "verdict_code": "b_preferred" if status == "closed" else None,
        "failure_reason": None,
        "votes": 4,
    }
    row.update(changes)
    return AbSummary(**row)


@pytest.mark.parametrize(
    ("summary", "shown", "hidden"),
    [
        (ab("answering"), ["#7 *Support v1* vs *Support v2* — answering…, 4 votes"], ["preferred"]),
        (ab("open"), ["open for votes, 4 votes"], ["preferred", "κ"]),
        (
            ab("closed", voters_kappa=0.2, voters_kappa_items=3),
            ["4 votes: B is preferred", "κ voters 0.20 (3) ⚠️, judge n/a"],
            [],
        ),
        (ab("closed", verdict_code=None), ["no verdict recorded"], []),
        (ab("cancelled", votes=1), ["cancelled", "1 vote, no verdict"], ["preferred"]),
        (
            ab("failed", failure_reason="Slack said <no>"),
            ["⚠️ failed: Slack said &lt;no&gt;", "`/bot ab cancel 7` ends it"],
            [],
        ),
        (ab("interrupted"), ["⚠️ interrupted: no reason recorded"], []),
    ],
)
def test_ab_lines(summary: AbSummary, shown: list[str], hidden: list[str]) -> None:
    built = section_after(view(ab_tests=[summary]), "A/B tests: running and recent")
    for part in shown:
        assert part in built
    for part in hidden:
        assert part not in built


RANKED = [
    Ranked(item="9", rating=1100.4, low=1010.0, high=1190.0, votes=12, preliminary=False),
    Ranked(item="8", rating=899.6, low=810.0, high=990.0, votes=1, preliminary=True),
]


@pytest.mark.parametrize(
    ("ranked", "stale", "shown"),
    [
        (None, False, ["Working out the leaderboard"]),
        ([], False, ["No votes from closed A/B tests yet"]),
        (
            RANKED,
            False,
            [
                "1. *Support v3* — 1100 (95% 1010–1190) · 12 votes",
                "2. *version 8* — 900 (95% 810–990) · 1 vote · _preliminary_",
            ],
        ),
        (RANKED[:1], True, ["_Updating with the latest votes…_"]),
    ],
)
def test_leaderboard(ranked: list[Ranked] | None, stale: bool, shown: list[str]) -> None:
    built = section_after(
        view(ranked=ranked, labels={"9": "Support v3"}, leaderboard_stale=stale), "Leaderboard"
    )
    for part in shown:
        assert part in built


@pytest.mark.parametrize(
    ("test", "shown"),
    [
        (
            RecentTest(7, "Support v3", "How\ndo I cancel?", 81.6, 850.0, None, "U1", WHEN),
            "*Support v3* — “How do I cancel?” · alignment 82/100 · 850 ms",
        ),
        (
            RecentTest(8, "Support v3", "Hi", None, None, "timeout", "U1", WHEN),
            "*Support v3* — “Hi” · failed (timeout)",
        ),
    ],
)
def test_recent_tests(test: RecentTest, shown: str) -> None:
    assert shown in section_after(view(tests=[test]), "Last 10 tests")


@pytest.mark.parametrize(
    ("count", "cards", "note"),
    [
        (0, 0, "No profiles yet"),
        (2, 2, None),
        (PROFILES_SHOWN + 4, PROFILES_SHOWN, "…and 4 more: `/bot profiles` lists them all."),
    ],
)
def test_profiles_cap(count: int, cards: int, note: str | None) -> None:
    built = view(profiles=[PROFILE] * count, total_profiles=count)
    edits = [
        e
        for b in built["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == ids.CARD_EDIT
    ]
    assert len(edits) == cards
    assert f"Bot profiles ({count})" in text(built)
    if note:
        assert note in text(built)
    if cards:
        assert "`███████░░░ 70`" in text(built)
        assert "workspace default" in text(built)


def test_judges_note_fits_with_every_profile_shown() -> None:
    shown = [
        judges.traits([(90.0, 1, 0), (30.0, 0, 1)] * 10 + [(90.0, 0, 1)] * 15),
        judges.behaviours(flagged=2, verdicts=50),
        judges.pairwise([]),
    ]
    assert shown[0].kappa == cohen_kappa_interval(
        [("good", "good"), ("bad", "bad")] * 10 + [("good", "bad")] * 15
    )
    built = view(profiles=[PROFILE] * 200, total_profiles=200, judges=shown)
    assert len(built["blocks"]) <= 100
    body = text(built)
    assert "How far the judges agree with your team" in body
    assert "*Traits judge*: ⚠️ judge agrees with your team κ = " in body
    assert "people flagged 2 of 50 verdicts as wrong" in body
    assert "*Pairwise (A/B) judge*: not enough labels to rate the judge (0 of 20)" in body

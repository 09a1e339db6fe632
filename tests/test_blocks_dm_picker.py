"""The DM's profile select, table-driven: each profile's newest versions (current first), a
group per profile, within Slack's 100 options and 150-character values."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from bot import ids, limits
from bot.blocks.dm import SELECT_OPTIONS, VERSIONS_OFFERED, profile_picker
from bot.domain.profile import Profile
from tests.block_kit_rules import block_problems


def profile(name: str, current: int) -> Profile:
    return Profile(
        id=1,
        team_id="T1",
        name=name,
        current_version=current,
        is_default=False,
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


def options(blocks: list[dict[str, Any]]) -> dict[str, list[tuple[str, str]]]:
    select = blocks[0]["accessory"]
    return {
        g["label"]["text"]: [(o["text"]["text"], o["value"]) for o in g["options"]]
        for g in select["option_groups"]
    }


@pytest.mark.parametrize(
    ("profiles", "shown"),
    [
        ([profile("Support", 1)], {"Support": [("Support v1 · current", "Support@1")]}),
        (
            [profile("Sales", 7)],
            {
                "Sales": [
                    (f"Sales v{v}" + (" · current" if v == 7 else ""), f"Sales@{v}")
                    for v in range(7, 7 - VERSIONS_OFFERED, -1)
                ]
            },
        ),
        # a value over 150 characters could not be sent back: that profile is left to `use`
        (
            [profile("x" * 160, 2), profile("Support", 1)],
            {"Support": [("Support v1 · current", "Support@1")]},
        ),
    ],
)
def test_profile_picker(profiles: list[Profile], shown: dict[str, list[tuple[str, str]]]) -> None:
    blocks = profile_picker(profiles, current=None)
    assert block_problems(blocks, most=limits.BLOCKS_PER_MESSAGE) == []
    assert blocks[0]["accessory"]["action_id"] == ids.DM_PROFILE_PICK
    assert options(blocks) == shown


def test_profile_picker_keeps_to_100_options() -> None:
    blocks = profile_picker([profile(f"P{i}", 9) for i in range(40)], current="P1 v9")
    assert block_problems(blocks, most=limits.BLOCKS_PER_MESSAGE) == []
    assert sum(len(v) for v in options(blocks).values()) == SELECT_OPTIONS
    assert "You are talking to *P1 v9*" in blocks[0]["text"]["text"]


def test_no_profiles_no_select() -> None:
    [section] = profile_picker([], current=None)
    assert "accessory" not in section and "no bot profile yet" in section["text"]["text"]

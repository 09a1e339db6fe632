"""Profile Block Kit, table-driven: the card's tags and buttons, the list's tags and packing,
the history page and the change lines."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from bot import ids
from bot.blocks.profile import (
    applied_on_top,
    change_lines,
    history_page,
    profile_card,
    profiles_list,
)
from bot.domain.profile import DEFAULT_FIELDS, Change, Profile
from tests.block_kit_rules import block_problems
from tests.rows import WHEN, texts, version


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ([], "_no changes_"),
        ([Change("formality", 50, 70)], "• formality: `50` → `70`"),
        ([Change("model", None, "m`x")], "• model: _(none)_ → `mˋx`"),
        (
            [Change("bot_name", "A", "<b>"), Change("empathy", 1, 2)],
            "• name: `A` → `&lt;b&gt;`\n• empathy: `1` → `2`",
        ),
    ],
)
def test_change_lines(changes: list[Change], expected: str) -> None:
    assert change_lines(changes) == expected


@pytest.mark.parametrize(
    ("replaced", "tail"),
    [
        ([], "applied on top of it."),
        ([Change("formality", 60, 70)], "Values of v4 you replaced:\n• formality: `60` → `70`"),
    ],
)
def test_applied_on_top(replaced: list[Change], tail: str) -> None:
    text = applied_on_top(profile_name="Support", version=4, replaced=replaced)
    assert text.startswith("*Support* changed to v4 while you edited")
    assert text.endswith(tail)


@pytest.mark.parametrize(
    ("fields", "is_default", "pinned", "shown"),
    [
        (
            {},
            False,
            False,
            [
                "_No custom instructions._",
                "*Model*\nserver default",
                "Profile *Support* · v3 · saved",
            ],
        ),
        (
            {"custom_instructions": "Never <promise>", "model": "gpt-x"},
            True,
            True,
            [
                "Never &lt;promise&gt;",
                "*Model*\ngpt-x",
                "v3 · workspace default · pinned in this channel · saved by <@U2>",
            ],
        ),
    ],
)
def test_profile_card(
    fields: dict[str, Any], is_default: bool, pinned: bool, shown: list[str]
) -> None:
    text, blocks = profile_card(
        version(fields=replace(DEFAULT_FIELDS, **fields)), is_default=is_default, pinned_here=pinned
    )
    assert block_problems(blocks, most=50) == []
    assert text == "ROMASHKA Assistant (Support v3)"
    assert blocks[0]["text"]["text"] == ":robot_face: ROMASHKA Assistant"
    built = texts(blocks)
    for part in shown:
        assert part in built
    buttons = blocks[-1]["elements"]
    assert [(b["action_id"], b["value"]) for b in buttons] == [
        (ids.CARD_EDIT, "5"),
        (ids.CARD_HISTORY, "5"),
    ]


def profile(n: int, *, default: bool = False) -> Profile:
    return Profile(
        id=n, team_id="T1", name=f"P{n}", current_version=2, is_default=default, created_at=WHEN
    )


@pytest.mark.parametrize(
    ("profiles", "pinned", "text", "shown"),
    [
        ([], None, "This workspace has no bot profiles yet.", []),
        (
            [profile(1, default=True), profile(2)],
            2,
            "2 bot profiles",
            ["• *P1* v2 · _default_", "• *P2* v2 · _pinned here_"],
        ),
        ([profile(1, default=True)], 1, "1 bot profile", ["• *P1* v2 · _default, pinned here_"]),
    ],
)
def test_profiles_list(
    profiles: list[Profile], pinned: int | None, text: str, shown: list[str]
) -> None:
    fallback, blocks = profiles_list(profiles, pinned_id=pinned)
    assert block_problems(blocks, most=50) == []
    assert fallback.startswith(text)
    built = texts(blocks)
    for part in shown:
        assert part in built


def test_profiles_list_packs_hundreds_within_the_block_limit() -> None:
    _, blocks = profiles_list([profile(n) for n in range(1, 2001)], pinned_id=None)
    assert block_problems(blocks, most=50) == []
    assert blocks[0]["text"]["text"] == "Bot profiles (2000)"
    assert blocks[-1]["type"] == "context"


@pytest.mark.parametrize(
    ("next_before", "more"),
    [(None, None), (2, {"p": 5, "before": 2})],
)
def test_history_page(next_before: int | None, more: dict[str, int] | None) -> None:
    entries = [
        (version(version=3, note="warmer"), [Change("empathy", 50, 80)]),
        (version(version=1), None),
    ]
    text, blocks = history_page(
        entries, profile_name="Support", profile_id=5, next_before=next_before
    )
    assert block_problems(blocks, most=50) == []
    assert text == "History of Support"
    sections = [b["text"]["text"] for b in blocks if b["type"] == "section"]
    assert sections[0].startswith("*v3* · <@U2> · ")
    assert sections[0].endswith(" · _warmer_\n• empathy: `50` → `80`")
    assert sections[1].endswith("\n_first version_")
    actions = [b for b in blocks if b["type"] == "actions"]
    if more is None:
        assert actions == []
    else:
        (button,) = actions[0]["elements"]
        assert button["action_id"] == ids.HISTORY_MORE
        assert json.loads(button["value"]) == more

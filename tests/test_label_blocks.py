"""Label and API-token builders, table-driven: what each shows, escaped, within the rules."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from bot.blocks import api_tokens as token_blocks
from bot.blocks import labels as blocks
from bot.domain.profile import Profile
from bot.domain.release import ApiToken, Label, LabelMove, ProfileLabels
from bot.errors import UserError
from bot.release.labels import VersionRef, label_name, parse_ref
from tests.block_kit_rules import block_problems

AT = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def profile(name: str = "Support", current: int = 7, id: int = 1) -> Profile:
    return Profile(
        id=id, team_id="T1", name=name, current_version=current, is_default=True, created_at=AT
    )


def move(**kwargs: object) -> LabelMove:
    values: dict[str, object] = {
        "id": 1,
        "profile_id": 1,
        "label": "production",
        "from_version": 5,
        "to_version": 7,
        "moved_by": "UANA",
        "moved_at": AT,
        "gates": None,
        "override_reason": None,
    }
    values.update(kwargs)
    return LabelMove(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("entries", "shown", "hidden"),
    [
        ([], ["No profiles yet"], ["header"]),
        (
            [ProfileLabels(profile(), [])],
            ["Labels of Support", "`production`: not set", "`staging`: not set"],
            ['Labels"'],
        ),
        (
            [
                ProfileLabels(
                    profile(),
                    [
                        Label(1, "canary", 6, "UBOB", AT),
                        Label(1, "production", 5, "UANA", AT),
                    ],
                ),
                ProfileLabels(profile("<Sales>", 2, 2), []),
            ],
            [
                '"Labels"',
                "`production` → *v5* · <@UANA>",
                "`canary` → *v6* · <@UBOB>",
                "*&lt;Sales&gt;* (current v2)",
            ],
            ["<Sales>"],
        ),
    ],
)
def test_labels_list(entries: list[ProfileLabels], shown: list[str], hidden: list[str]) -> None:
    text, built = blocks.labels_list(entries)
    dumped = json.dumps([text, built], ensure_ascii=False)
    for part in shown:
        assert part in dumped
    for part in hidden:
        assert part not in dumped
    assert block_problems(built, most=50) == []
    # production and staging come first, the team's own labels after
    if entries and entries[0].labels:
        section = built[1]["text"]["text"]
        assert section.index("production") < section.index("staging") < section.index("canary")


def test_labels_list_of_many_profiles_stays_within_50_blocks() -> None:
    _, built = blocks.labels_list([ProfileLabels(profile(f"P{i}", 1, i), []) for i in range(80)])
    assert len(built) <= 50 and "35 more" in json.dumps(built, ensure_ascii=False)
    assert block_problems(built, most=50) == []


@pytest.mark.parametrize(
    ("kwargs", "promoted", "notice"),
    [
        (
            {},
            ["*Support* v7 is now `production` (was v5).", "`/bot promote Support@5 production`"],
            ["*Support* v7 is now `production` (was v5), by <@UANA>"],
        ),
        (
            {"from_version": None, "label": "staging"},
            ["(was not set)"],
            ["is now `staging`, by <@UANA>"],
        ),
        (
            {"gates": "Billing scenarios 9/9", "override_reason": "hotfix <!channel>"},
            ["Gates: Billing scenarios 9/9", "Override recorded: _hotfix &lt;!channel&gt;_"],
            ["; gates: Billing scenarios 9/9", "; overridden: _hotfix &lt;!channel&gt;_"],
        ),
    ],
)
def test_promotion_texts(kwargs: dict[str, object], promoted: list[str], notice: list[str]) -> None:
    done = move(**kwargs)
    said = blocks.promoted_text(profile_name="Support", move=done)
    for part in promoted:
        assert part in said
    posted = blocks.notice_text(profile_name="Support", move=done)
    for part in notice:
        assert part in posted
    assert "<!channel>" not in said + posted


def test_moves_section() -> None:
    assert blocks.moves_section([]) is None
    section = blocks.moves_section([move(), move(from_version=None, to_version=5)])
    assert section is not None
    text = section["text"]["text"]
    assert text.splitlines()[1].startswith("`production` → *v7* (was v5) · <@UANA>")
    assert "*v5* (was not set)" in text
    assert block_problems([section], most=50) == []


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Support@7", VersionRef("Support", 7, None)),
        ("@Support@v7", VersionRef("Support", 7, None)),
        ("sales-v2@Staging", VersionRef("sales-v2", None, "staging")),
    ],
)
def test_parse_ref(raw: str, expected: VersionRef) -> None:
    assert parse_ref(raw, usage="usage") == expected


@pytest.mark.parametrize("raw", ["Support", "Support@", "@7", "Support@7@8", "Sup port@7"])
def test_parse_ref_refuses(raw: str) -> None:
    with pytest.raises(UserError):
        parse_ref(raw, usage="usage")


@pytest.mark.parametrize("raw", ["my label", "", "-x", "x" * 31, "prod!", "прод"])
def test_label_names_are_one_word(raw: str) -> None:
    with pytest.raises(UserError, match="one word"):
        label_name(raw)


def test_tokens_list_and_created_text() -> None:
    assert token_blocks.tokens_list([])[1] == []
    token = ApiToken(1, "T1", "live-bot", "UANA", AT, None)
    _, built = token_blocks.tokens_list([token])
    assert "`live-bot` · created by <@UANA>" in json.dumps(built, ensure_ascii=False)
    assert "last used never" in json.dumps(built, ensure_ascii=False)
    assert block_problems(built, most=50) == []
    created = token_blocks.created_text(name="live-bot", secret="rmk_SECRET")
    assert "```rmk_SECRET```" in created and "shown only this once" in created

"""The small helpers every Block Kit builder uses, table-driven."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from bot import limits
from bot.blocks.common import (
    bar,
    counted,
    escape,
    metadata,
    metadata_id,
    metadata_version,
    mrkdwn,
    plain,
    slack_date,
    split_text,
    truncate,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain", "plain"),
        ("<!channel> & <https://x|y>", "&lt;!channel&gt; &amp; &lt;https://x|y&gt;"),
        ("a > b", "a &gt; b"),
    ],
)
def test_escape(text: str, expected: str) -> None:
    assert escape(text) == expected


@pytest.mark.parametrize(
    ("n", "noun", "plural", "expected"),
    [
        (0, "vote", None, "0 votes"),
        (1, "vote", None, "1 vote"),
        (2, "reply", "replies", "2 replies"),
        (1, "reply", "replies", "1 reply"),
    ],
)
def test_counted(n: int, noun: str, plural: str | None, expected: str) -> None:
    assert counted(n, noun, plural) == expected


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("short", 10, "short"),
        ("abcdefghij", 5, "abcd…"),
        # never half an entity: "&amp;" is kept whole or dropped
        ("abc&amp;def", 6, "abc…"),
        ("abc&amp;def", 9, "abc&amp;…"),
    ],
)
def test_truncate(text: str, limit: int, expected: str) -> None:
    assert truncate(text, limit) == expected


@pytest.mark.parametrize(
    ("text", "size", "pieces"),
    [
        ("", 10, [""]),
        ("one two three", 100, ["one two three"]),
        ("one two three", 8, ["one two ", "three"]),
        ("a\nb\nc", 2, ["a\n", "b\n", "c"]),
    ],
)
def test_split_text(text: str, size: int, pieces: list[str]) -> None:
    assert split_text(text, size) == pieces
    assert "".join(pieces) == text


@pytest.mark.parametrize(
    ("build", "kind"),
    [(plain, "plain_text"), (mrkdwn, "mrkdwn")],
)
def test_text_objects_are_cut_to_their_limit(build: Any, kind: str) -> None:
    block = build("x" * 50, 10)
    assert block["type"] == kind
    assert block["text"] == "x" * 9 + "…"


@pytest.mark.parametrize(
    ("level", "expected"),
    [(0, "░░░░░░░░░░ 0"), (50, "█████░░░░░ 50"), (100, "██████████ 100"), (74, "███████░░░ 74")],
)
def test_bar(level: int, expected: str) -> None:
    assert bar(level) == expected


def test_slack_date_has_a_utc_fallback() -> None:
    when = datetime(2026, 1, 2, 3, 4, tzinfo=UTC)
    assert slack_date(when) == (
        f"<!date^{int(when.timestamp())}^{{date_short_pretty}} at {{time}}|2026-01-02 03:04 UTC>"
    )


@pytest.mark.parametrize(
    ("value", "ok"),
    [(1, True), (2**63 - 1, True), (0, False), (-3, False), (2**63, False), (True, False)],
)
def test_metadata_id(value: Any, ok: bool) -> None:
    if ok:
        assert metadata_id(value) == value
    else:
        with pytest.raises(ValueError):
            metadata_id(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, 0), (0, 0), (7, 7), (2**31, None), ("7", None), (False, None)],
)
def test_metadata_version(value: Any, expected: int | None) -> None:
    if expected is None:
        with pytest.raises(ValueError):
            metadata_version(value)
    else:
        assert metadata_version(value) == expected


@pytest.mark.parametrize(
    ("url_length", "keeps_url"),
    [(100, True), (limits.PRIVATE_METADATA, False)],
)
def test_metadata_drops_the_response_url_first(url_length: int, keeps_url: bool) -> None:
    raw = metadata({"p": 5, "r": "h" * url_length})
    data = json.loads(raw)
    assert data["p"] == 5
    assert ("r" in data) is keeps_url
    assert len(raw) <= limits.PRIVATE_METADATA

"""The purge confirmation modal: what it warns about, the word to type, what it carries."""

from __future__ import annotations

import json

import pytest

from bot import ids
from bot.blocks.purge import CONFIRM_WORD, confirm_view
from tests.block_kit_rules import view_problems
from tests.rows import texts


@pytest.mark.parametrize(
    ("response_url", "carried"),
    [(None, {"c": "C1", "r": None}), ("https://hooks/x", {"c": "C1", "r": "https://hooks/x"})],
)
def test_confirm_view(response_url: str | None, carried: dict[str, str | None]) -> None:
    view = confirm_view(channel_id="C1", response_url=response_url)
    assert view_problems(view) == []
    assert view["callback_id"] == ids.PURGE_MODAL
    assert view["submit"]["text"] == "Delete everything"
    assert json.loads(view["private_metadata"]) == carried
    assert [b["type"] for b in view["blocks"]] == ["section", "input"]
    assert "It cannot be undone." in texts(view["blocks"][0])
    confirm = view["blocks"][1]
    assert confirm["block_id"] == ids.PURGE_CONFIRM
    assert confirm["element"]["action_id"] == ids.PURGE_CONFIRM + ids.INPUT_SUFFIX
    assert confirm["label"]["text"] == f"Type {CONFIRM_WORD} to confirm"

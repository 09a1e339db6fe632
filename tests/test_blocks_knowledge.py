"""Knowledge Block Kit, table-driven: the edit form's fields (and what it leaves out when a
field is too long for a Slack input), reading it back, and the listing."""

from __future__ import annotations

import pytest

from bot import ids, limits
from bot.blocks.knowledge import FormContext, form, listing, read_form
from bot.domain.knowledge import Knowledge, KnowledgeItem
from tests.block_kit_rules import block_problems, view_problems
from tests.rows import texts

CONTEXT = FormContext(profile_id=5, channel_id="C1", response_url=None, base_version=3)


@pytest.mark.parametrize(
    ("knowledge", "inputs", "note"),
    [
        (
            Knowledge(company="ROMASHKA"),
            [
                ids.KNOWLEDGE_COMPANY,
                ids.KNOWLEDGE_INDUSTRY,
                ids.KNOWLEDGE_PRODUCTS,
                ids.KNOWLEDGE_POLICIES,
                ids.KNOWLEDGE_FAQ,
            ],
            None,
        ),
        (
            Knowledge(products=["x" * 1000] * 4, faqs=[("q" * 300, "a" * 2000)] * 2),
            [ids.KNOWLEDGE_COMPANY, ids.KNOWLEDGE_INDUSTRY, ids.KNOWLEDGE_POLICIES],
            "Products and services, FAQ: too long to edit in a form, kept as they are.",
        ),
    ],
)
def test_form(knowledge: Knowledge, inputs: list[str], note: str | None) -> None:
    view = form(knowledge, profile_name="Support", context=CONTEXT)
    assert view_problems(view) == []
    assert view["callback_id"] == ids.KNOWLEDGE_MODAL
    assert view["title"]["text"] == "Knowledge: Support"
    assert [b["block_id"] for b in view["blocks"] if b["type"] == "input"] == inputs
    assert FormContext.load(view["private_metadata"]) == CONTEXT
    notes = [b for b in view["blocks"] if b["type"] == "context"]
    if note is None:
        assert notes == []
    else:
        assert note in texts(notes)


def test_form_shows_current_values() -> None:
    knowledge = Knowledge(company="ROMASHKA", faqs=[("How to cancel?", "From Settings.")])
    view = form(knowledge, profile_name="Support", context=CONTEXT)
    initial = {b["block_id"]: b["element"].get("initial_value") for b in view["blocks"]}
    assert initial[ids.KNOWLEDGE_COMPANY] == "ROMASHKA"
    assert initial[ids.KNOWLEDGE_FAQ] == "Q: How to cancel? / A: From Settings."
    assert initial[ids.KNOWLEDGE_PRODUCTS] is None


def test_read_form() -> None:
    view = {
        "state": {
            "values": {
                ids.KNOWLEDGE_COMPANY: {ids.KNOWLEDGE_COMPANY + ids.INPUT_SUFFIX: {"value": "R"}},
                ids.KNOWLEDGE_FAQ: {ids.KNOWLEDGE_FAQ + ids.INPUT_SUFFIX: {"value": None}},
            }
        }
    }
    assert read_form(view) == {ids.KNOWLEDGE_COMPANY: "R", ids.KNOWLEDGE_FAQ: None}


def item(n: int, *, example: bool = False) -> KnowledgeItem:
    return KnowledgeItem(kind="product", ref=f"P{n}", body=f"Plan {n}", is_example=example)


@pytest.mark.parametrize(
    ("items", "text", "shown", "example_note"),
    [
        ([], "*Support v3* has no company knowledge.", [], False),
        (
            [item(1), KnowledgeItem(kind="faq", ref="F1", body="Yes.", question="Refunds?")],
            "Knowledge of Support v3: 2 items",
            [
                "Knowledge of Support v3 (2 items)",
                "`P1` Product or service: Plan 1",
                "`F1` Q: Refunds? / A: Yes.",
            ],
            False,
        ),
        ([item(1, example=True)], "Knowledge of Support v3: 1 item", ["*example*"], True),
    ],
)
def test_listing(
    items: list[KnowledgeItem], text: str, shown: list[str], example_note: bool
) -> None:
    fallback, blocks = listing(items, label="Support v3")
    assert block_problems(blocks, most=limits.BLOCKS_PER_MESSAGE) == []
    assert fallback.startswith(text)
    for part in shown:
        assert part in texts(blocks)
    assert ("This is *example* knowledge" in texts(blocks)) is example_note


def test_listing_of_thousands_stays_within_the_block_limit() -> None:
    items = [KnowledgeItem(kind="policy", ref=f"L{n}", body="p" * 290) for n in range(2000)]
    _, blocks = listing(items, label="Support v3")
    assert block_problems(blocks, most=limits.BLOCKS_PER_MESSAGE) == []
    assert blocks[-1]["type"] == "context"
    assert texts(blocks[-1]).startswith("…and ")

"""Company knowledge: prompt assembly, retrieval under a budget, the form and quick edits,
versions, sources shown with an answer, the grounded behaviour, and workspace isolation."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import asyncpg
import pytest

from bot import ids
from bot.domain.knowledge import EXAMPLE, Knowledge, KnowledgeItem
from bot.domain.profile import DEFAULT_FIELDS
from bot.persona.knowledge import for_prompt, prompt_section, relied_on
from bot.persona.personality import build_system_prompt
from storage import knowledge as repo
from storage import profiles as profiles_repo
from tests.fake_openai import FakeOpenAI
from tests.slack_driver import TEAM, SlackDriver

BILLING = ("Why was I charged twice this month?", "Duplicate charges are refunded within 5 days.")


def big_faq() -> Knowledge:
    topics = ["widget", "dashboard", "export", "webhook", "theme", "avatar", "report", "label"]
    faqs = [
        (
            f"How do I configure the {topics[i % 8]} number {i}?",
            f"Open settings, choose {topics[i % 8]} {i} and press apply.",
        )
        for i in range(199)
    ]
    faqs.insert(137, BILLING)
    return Knowledge("ROMASHKA", "Customer service technology", ["AI chat support"], [], faqs)


async def profile_with(pool: asyncpg.Pool, knowledge: Knowledge, team: str = TEAM) -> int:
    v1 = await profiles_repo.create_profile(
        pool, team_id=team, name="Support", fields=DEFAULT_FIELDS, user_id="U"
    )
    saved = await profiles_repo.save_version(
        pool,
        team_id=team,
        profile_id=v1.profile_id,
        fields=DEFAULT_FIELDS,
        user_id="U",
        knowledge=knowledge.items(),
    )
    return saved.id


def test_small_knowledge_goes_into_the_prompt_whole() -> None:
    items = Knowledge("Acme", "Retail", ["Shoes"], ["Free returns"], [("Q1?", "A1.")]).items()
    prompt = build_system_prompt(DEFAULT_FIELDS, items)
    assert "customer-service assistant for Acme" in prompt
    for line in (
        "[C] Company: Acme",
        "[I] Industry: Retail",
        "[S1] Product or service: Shoes",
        "[P1] Policy: Free returns",
        "[F1] Q: Q1? / A: A1.",
    ):
        assert line in prompt
    assert "[F1]" not in build_system_prompt(DEFAULT_FIELDS)
    assert "for Acme" not in build_system_prompt(DEFAULT_FIELDS)


async def test_over_budget_knowledge_picks_the_billing_faq(pool: asyncpg.Pool) -> None:
    version_id = await profile_with(pool, big_faq())
    assert len(await repo.items(pool, team_id=TEAM, version_id=version_id)) == 203
    chosen = await for_prompt(
        pool,
        team_id=TEAM,
        version_id=version_id,
        query="Hi, I think I was charged twice on my card",
        budget_tokens=600,
    )
    assert [i.kind for i in chosen[:2]] == ["company", "industry"]
    faqs = [i for i in chosen if i.kind == "faq"]
    assert faqs[0].question == BILLING[0]
    assert len(prompt_section(chosen)) / 4 <= 600  # within the budget
    assert 2 < len(chosen) < 203
    everything = await for_prompt(
        pool, team_id=TEAM, version_id=version_id, query="anything", budget_tokens=100_000
    )
    assert len(everything) == 203


def test_an_item_counts_as_used_only_if_named_and_echoed() -> None:
    items = Knowledge(
        "",
        "",
        [],
        ["Refunds within 30 days of purchase"],
        [("Pricing?", "Starter is $29/month, Professional $99/month.")],
    ).items()
    answer = "Our Starter plan is $29/month and Professional is $99/month."
    assert relied_on(["F1", "[P1]"], items, answer) == ["F1"]  # P1 named but not in the answer
    assert relied_on([], items, answer) == []  # in the answer but not named
    assert relied_on(["F9"], items, answer) == []  # not given at all


async def test_first_profile_gets_the_example_knowledge(driver: SlackDriver) -> None:
    await driver.reply_text("new Support")
    await driver.reply_text("new Sales")
    await driver.command("knowledge show")
    reply = await driver.next_reply()
    text = json.dumps(reply["blocks"], ensure_ascii=False)
    assert "*example* knowledge for ROMASHKA" in text
    assert "`F2` Q: What are your pricing plans? / A: Starter is $29/month" in text
    assert "`P1` Policy: 30-day money-back guarantee" in text
    assert "has no company knowledge" in await driver.reply_text("knowledge show Sales")


async def open_form(driver: SlackDriver, text: str = "knowledge") -> dict[str, Any]:
    await driver.command(text)
    view: dict[str, Any] = (await driver.slack.wait_calls("views.open"))[-1].args["view"]
    return view


def values(**fields: str) -> dict[str, Any]:
    return {
        getattr(ids, f"KNOWLEDGE_{k.upper()}"): {
            getattr(ids, f"KNOWLEDGE_{k.upper()}") + ids.INPUT_SUFFIX: {
                "type": "plain_text_input",
                "value": v,
            }
        }
        for k, v in fields.items()
    }


async def test_form_edit_saves_a_new_version(driver: SlackDriver) -> None:
    await driver.reply_text("new Support")
    view = await open_form(driver)
    blocks = {b.get("block_id"): b for b in view["blocks"]}
    assert blocks[ids.KNOWLEDGE_COMPANY]["element"]["initial_value"] == "ROMASHKA"
    assert blocks[ids.KNOWLEDGE_FAQ]["element"]["initial_value"].startswith(
        "Q: How do I get started? / A: Sign up"
    )
    await driver.submit_view(
        view,
        values(
            company="Acme",
            industry="Retail",
            products="Shoes\nBoots",
            policies="Free returns",
            faq="Q: Do you ship abroad? / A: Yes, to 40 countries.",
        ),
    )
    assert "Saved the knowledge as *Support v2*: 6 items" in (await driver.next_reply())["text"]
    version_id = await driver.pool.fetchval("SELECT id FROM profile_versions WHERE version = 2")
    items = await repo.items(driver.pool, team_id=TEAM, version_id=version_id)
    assert [i.ref for i in items] == ["C", "I", "S1", "S2", "P1", "F1"]
    assert not any(i.is_example for i in items)
    v1 = await driver.pool.fetchval("SELECT id FROM profile_versions WHERE version = 1")
    assert len(await repo.items(driver.pool, team_id=TEAM, version_id=v1)) == len(EXAMPLE)


@pytest.mark.parametrize(
    ("fields", "block", "fragment"),
    [
        ({"faq": "Q: fine? / A: yes\nnot a pair"}, ids.KNOWLEDGE_FAQ, "Line 2 is not"),
        ({"faq": "Q: " + "q" * 301 + " / A: a"}, ids.KNOWLEDGE_FAQ, "at most 300"),
        ({"company": "c" * 101}, ids.KNOWLEDGE_COMPANY, "At most 100"),
        ({"policies": "p" * 501}, ids.KNOWLEDGE_POLICIES, "at most 500"),
        ({"products": "\n".join(f"p{i}" for i in range(51))}, ids.KNOWLEDGE_PRODUCTS, "At most 50"),
    ],
)
async def test_form_errors_are_inline(
    driver: SlackDriver, fields: dict[str, str], block: str, fragment: str
) -> None:
    await driver.reply_text("new Support")
    view = await open_form(driver)
    response = await driver.submit_view(view, values(**fields))
    body = json.loads(response.body)
    assert body["response_action"] == "errors" and fragment in body["errors"][block]
    assert await driver.pool.fetchval("SELECT count(*) FROM profile_versions") == 1


async def test_knowledge_too_big_for_the_form_is_kept(driver: SlackDriver) -> None:
    await profile_with(driver.pool, big_faq())
    view = await open_form(driver)
    assert ids.KNOWLEDGE_FAQ not in {b.get("block_id") for b in view["blocks"]}
    assert "FAQ: too long to edit in a form, kept as they are" in json.dumps(view)
    await driver.submit_view(
        view, values(company="Acme", industry="Retail", products="AI chat support", policies="")
    )
    await driver.next_reply()
    latest = await driver.pool.fetchval("SELECT max(id) FROM profile_versions")
    items = await repo.items(driver.pool, team_id=TEAM, version_id=latest)
    assert sum(1 for i in items if i.kind == "faq") == 200
    assert items[0].body == "Acme"


async def test_quick_add_and_remove(driver: SlackDriver) -> None:
    await driver.reply_text("new Support")
    reply = await driver.reply_text(
        'knowledge add faq "Do you have an API?" “Yes, REST and webhooks.”'
    )
    assert "Added `F4` to the knowledge of *Support v2*" in reply
    assert "Added `P4`" in await driver.reply_text(
        'knowledge add policy "No refunds after 30 days"'
    )
    assert "Removed `F1`" in await driver.reply_text("knowledge remove f1")
    latest = await driver.pool.fetchval("SELECT max(id) FROM profile_versions")
    faqs = [
        i for i in await repo.items(driver.pool, team_id=TEAM, version_id=latest) if i.kind == "faq"
    ]
    assert [(f.ref, f.question) for f in faqs][-1] == ("F3", "Do you have an API?")
    assert await driver.pool.fetchval("SELECT count(*) FROM profile_versions") == 4
    # a personality edit keeps the knowledge: it is copied into the new version
    await driver.reply_text("set formality 80")
    newest = await driver.pool.fetchval("SELECT max(id) FROM profile_versions")
    assert await repo.items(driver.pool, team_id=TEAM, version_id=newest) == await repo.items(
        driver.pool, team_id=TEAM, version_id=latest
    )


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('knowledge add faq "only a question"', 'Usage: `/bot knowledge add faq "question"'),
        ("knowledge add faq no quotes", "Usage: `/bot knowledge add faq"),
        ('knowledge add faq "q" extra', "own quotes"),
        ("knowledge add policy", 'Usage: `/bot knowledge add policy "text" [profile]`'),
        ('knowledge add recipe "x"', "Usage: `/bot knowledge [profile]`"),
        ("knowledge remove", "Usage: `/bot knowledge remove F3 [profile]`"),
        ("knowledge remove F99", "has no knowledge item `F99`"),
        ("knowledge show Ghost", "no profile named *Ghost*"),
    ],
)
async def test_bad_knowledge_commands(driver: SlackDriver, text: str, fragment: str) -> None:
    await driver.reply_text("new Support")
    assert fragment in await driver.reply_text(text)
    assert await driver.pool.fetchval("SELECT count(*) FROM profile_versions") == 1


async def test_rollback_restores_the_old_knowledge(driver: SlackDriver) -> None:
    await driver.reply_text("new Support")
    await driver.reply_text("knowledge remove P1")
    reply = await driver.reply_text("rollback 1")
    assert "• knowledge: as in v1" in reply
    latest = await driver.pool.fetchval("SELECT max(id) FROM profile_versions")
    assert len(await repo.items(driver.pool, team_id=TEAM, version_id=latest)) == len(EXAMPLE)


async def test_sources_are_listed_with_the_answer(live: SlackDriver, model: FakeOpenAI) -> None:
    model.use_knowledge = True
    model.extra_sources = ["P2"]  # the judge also names an item the answer does not echo
    await live.reply_text("new Support")
    await live.command("test What are your pricing plans?")
    deadline = time.monotonic() + 10
    while True:
        row = await live.pool.fetchrow("SELECT * FROM test_results")
        if row is not None and (row["analysis"] or row["analysis_error"]):
            break
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    assert "Starter is $29/month" in row["answer"]
    assert row["knowledge_given"] == [i.ref for i in EXAMPLE]
    assert row["knowledge_used"] == ["F2"]
    await live.click(ids.ANSWER_DETAILS, str(row["id"]))
    view = (await live.slack.wait_calls("views.open"))[-1].args["view"]
    text = json.dumps(view, ensure_ascii=False)
    assert "*Knowledge given to the model:* `C`, `I`" in text
    assert "*Relied on:* • `F2` Q: What are your pricing plans?" in text


async def test_grounded_behaviour_sees_the_knowledge(live: SlackDriver, model: FakeOpenAI) -> None:
    await live.reply_text("new Support")
    scenario = await live.pool.fetchval("SELECT id FROM scenarios WHERE name = 'Billing questions'")
    await live.pool.execute(
        "UPDATE scenarios SET behaviours = '{grounded}' WHERE id = $1", scenario
    )
    model.behaviour_scores = {"grounded": 30}
    await live.command("scenario run Billing questions")
    deadline = time.monotonic() + 15
    while await live.pool.fetchval("SELECT status FROM scenario_runs") != "completed":
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    verdicts = await live.pool.fetch("SELECT behaviour_results FROM test_results")
    assert all(v["behaviour_results"][0]["passed"] is False for v in verdicts)
    judged = [
        r
        for r in model.requests
        if "behaviours" in json.dumps(r) and "'grounded'" in r["messages"][0]["content"]
    ]
    assert len(judged) == 3
    assert "[P1] Policy: 30-day money-back guarantee" in judged[0]["messages"][1]["content"]


async def test_knowledge_is_isolated_per_workspace(pool: asyncpg.Pool) -> None:
    version_id = await profile_with(pool, big_faq(), team="TA")
    assert await repo.items(pool, team_id="TB", version_id=version_id) == []
    assert await repo.ranked(pool, team_id="TB", version_id=version_id, query="charged") == []
    with pytest.raises(asyncpg.ForeignKeyViolationError):
        async with pool.acquire() as con:
            await repo.insert_items(
                con,
                team_id="TB",
                version_id=version_id,
                items=[KnowledgeItem("policy", "P1", "sneaky")],
            )

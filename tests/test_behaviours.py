"""The behaviour judge: bounded to the scenario's own behaviours, "complete answer" decided in
code, and every way of not judging said as such."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from openai import AsyncOpenAI

from bot.model.behaviour_judge import (
    COMPLETE_ANSWER,
    SCHEMA_NAME,
    BehaviourVerdict,
    budget_for,
    completeness,
    judge,
    schema_for,
)
from bot.model.judge_call import REASON_MAX_CHARS, JudgeOutcome
from bot.model.llm import LLM
from tests.fake_openai import JSON_CHARS_PER_TOKEN, FakeOpenAI

QUESTION = "Can I get a refund?"
ANSWER = "I am sorry about that. Refunds are possible within 30 days; open Billing to ask."
BEHAVIOURS = ("empathetic", "policy-aware", "offers a next step")


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as server:
        yield server


@pytest_asyncio.fixture
async def llm(fake: FakeOpenAI) -> AsyncIterator[LLM]:
    client = AsyncOpenAI(api_key="sk-test", base_url=fake.base_url, max_retries=0, timeout=5)
    yield LLM(client=client, default_model="gpt-test", judge_model="judge-test")
    await client.close()


def test_schema_has_exactly_one_verdict_per_behaviour_keyed_by_its_name() -> None:
    schema = schema_for([*BEHAVIOURS, "Empathetic"])
    assert list(schema["properties"]) == list(BEHAVIOURS)
    assert schema["required"] == list(BEHAVIOURS)
    assert schema["additionalProperties"] is False
    verdict = schema["properties"]["empathetic"]
    assert verdict["required"] == ["score", "reason"]
    assert verdict["additionalProperties"] is False


def test_budget_holds_the_largest_reply_for_the_longest_behaviours() -> None:
    # 10 behaviours of 60 characters, each reason at its maxLength, 3 characters a token
    names = [f"{i} " + "x" * 57 for i in range(10)]
    largest = {n: {"score": 100, "reason": "x" * REASON_MAX_CHARS} for n in names}
    tokens = len(json.dumps(largest)) / JSON_CHARS_PER_TOKEN
    assert tokens <= budget_for(names) * 2 / 3  # what a retry after a timeout gets
    assert budget_for(names) < 2 * tokens
    assert schema_for(names)["properties"][names[0]]["properties"]["reason"]["maxLength"] == (
        REASON_MAX_CHARS
    )


async def test_rambling_judge_bounded_by_the_schema_judges_every_behaviour(
    fake: FakeOpenAI, llm: LLM
) -> None:
    fake.judge_mode = "ramble"
    fake.ramble_integer = 75
    judged = await judge(llm, question=QUESTION, answer=ANSWER, behaviours=BEHAVIOURS)
    assert judged.outcome is JudgeOutcome.OK
    assert [(v.behaviour, v.score, v.passed) for v in judged.verdicts] == [
        (b, 75, True) for b in BEHAVIOURS
    ]
    sent = fake.requests[-1]
    assert sent["max_completion_tokens"] == budget_for(BEHAVIOURS)
    assert sent["response_format"]["json_schema"]["name"] == SCHEMA_NAME


async def test_rambling_judge_without_the_schema_is_cut_and_not_judged(
    fake: FakeOpenAI, llm: LLM
) -> None:
    # a server with bare JSON mode only: the model ignores the bounds it cannot see
    fake.judge_mode = "ramble"
    fake.reject_json_schema = True
    fake.reject_format_extras = True
    judged = await judge(llm, question=QUESTION, answer=ANSWER, behaviours=BEHAVIOURS)
    assert judged.outcome is JudgeOutcome.CUT
    assert all(v.passed is None and v.score is None for v in judged.verdicts)
    assert all(v.reason.startswith("not judged: ") for v in judged.verdicts)


async def test_names_the_judge_invents_are_ignored(fake: FakeOpenAI, llm: LLM) -> None:
    # a judge without the schema (prompt only) may rename, add or leave out behaviours
    fake.judge_reply = json.dumps(
        {
            "100": {"score": 0, "reason": "r"},
            "Empathetic": {"score": 90, "reason": "kind"},
            " empathetic ": {"score": 10, "reason": "a second rating"},
        }
    )
    judged = await judge(llm, question=QUESTION, answer=ANSWER, behaviours=BEHAVIOURS)
    assert [(v.behaviour, v.passed) for v in judged.verdicts] == [
        ("empathetic", True),
        ("policy-aware", None),
        ("offers a next step", None),
    ]
    assert judged.verdicts[1].reason == "not judged: the judge gave no rating"


@pytest.mark.parametrize(
    ("cut_off", "interrupted", "answer", "passed", "reason"),
    [
        (False, False, ANSWER, True, "the answer ended on its own"),
        (True, False, ANSWER, False, "cut at the concise style's 150-token limit"),
        (False, False, "  ", False, "the answer was empty"),
        (False, True, ANSWER, None, "not judged: the answer's stream broke before it ended"),
    ],
)
def test_complete_answer_is_decided_by_how_the_answer_ended(
    cut_off: bool, interrupted: bool, answer: str, passed: bool | None, reason: str
) -> None:
    verdict = completeness(
        COMPLETE_ANSWER, answer=answer, cut_off=cut_off, interrupted=interrupted, token_limit=150
    )
    assert verdict == BehaviourVerdict(COMPLETE_ANSWER, None, passed, reason)


async def test_complete_answer_is_not_sent_to_the_judge(fake: FakeOpenAI, llm: LLM) -> None:
    judged = await judge(
        llm,
        question=QUESTION,
        answer=ANSWER,
        behaviours=("empathetic", "Complete answer"),
        cut_off=True,
        token_limit=300,
    )
    assert [(v.behaviour, v.passed) for v in judged.verdicts] == [
        ("empathetic", True),
        ("Complete answer", False),
    ]
    assert judged.verdicts[1].reason == "cut at the conversational style's 300-token limit"
    schema: dict[str, Any] = fake.requests[-1]["response_format"]["json_schema"]["schema"]
    assert list(schema["properties"]) == ["empathetic"]


async def test_only_complete_answer_makes_no_judge_call(fake: FakeOpenAI, llm: LLM) -> None:
    judged = await judge(llm, question=QUESTION, answer=ANSWER, behaviours=(COMPLETE_ANSWER,))
    assert judged.outcome is None
    assert [v.passed for v in judged.verdicts] == [True]
    assert fake.requests == []


async def test_empty_answer_is_not_judged_and_not_sent(fake: FakeOpenAI, llm: LLM) -> None:
    judged = await judge(llm, question=QUESTION, answer="", behaviours=BEHAVIOURS)
    assert judged.outcome is None
    assert all(v.passed is None for v in judged.verdicts)
    assert {v.reason for v in judged.verdicts} == {"not judged: the answer was empty"}
    assert fake.requests == []


async def test_judge_failure_leaves_every_behaviour_not_judged(fake: FakeOpenAI, llm: LLM) -> None:
    fake.fail_next("server_error")
    judged = await judge(
        llm, question=QUESTION, answer=ANSWER, behaviours=(*BEHAVIOURS, COMPLETE_ANSWER)
    )
    assert judged.outcome is JudgeOutcome.UNAVAILABLE
    assert [v.passed for v in judged.verdicts] == [None, None, None, True]

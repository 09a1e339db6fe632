from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest
import pytest_asyncio
from openai import AsyncOpenAI

from bot.domain.analysis import Analysis, alignment_score
from bot.domain.knowledge import KnowledgeItem
from bot.domain.profile import DEFAULT_FIELDS, TRAITS, ProfileFields
from bot.model.judge_call import REASON_MAX_CHARS, SUGGESTION_MAX_CHARS, JudgeOutcome, budget
from bot.model.llm import JSON_SCHEMA_REJECTED, LLM
from bot.model.trait_judge import (
    JUDGE_SCHEMA,
    MAX_SOURCES,
    MAX_SUGGESTIONS,
    SCHEMA_NAME,
    TRAITS_MAX_TOKENS,
    AnalysisUnavailable,
    JudgeOutput,
    analyse,
    budget_for,
    build_analysis,
    schema_for,
)
from bot.persona.personality import build_system_prompt
from tests.fake_openai import JSON_CHARS_PER_TOKEN, FakeOpenAI, answer_for

API_KEY = "sk-test-SECRET123"
QUESTION = "I can't log in to my account."
FIELDS = replace(DEFAULT_FIELDS, formality=80, enthusiasm=20, technical_depth=50, empathy=50)


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as server:
        yield server


@pytest_asyncio.fixture
async def llm(fake: FakeOpenAI) -> AsyncIterator[LLM]:
    client = AsyncOpenAI(api_key=API_KEY, base_url=fake.base_url, max_retries=0, timeout=5)
    yield LLM(client=client, default_model="gpt-test", judge_model="judge-test")
    await client.close()


@pytest.mark.parametrize(
    ("pairs", "expected"),
    [
        ([(80, 70), (20, 30), (50, 50), (50, 40)], 92.5),
        ([(50, 50)] * 4, 100.0),
        ([(0, 100), (100, 0), (0, 100), (100, 0)], 0.0),
        ([(10, 13), (90, 80), (50, 51), (30, 30)], 96.5),
        ([(33, 0), (0, 0), (0, 0), (0, 0)], 91.8),  # 100 - 8.25, rounded to one decimal
    ],
)
def test_alignment_score(pairs: list[tuple[int, int]], expected: float) -> None:
    assert alignment_score(pairs) == expected


def test_alignment_needs_traits() -> None:
    with pytest.raises(ValueError, match="at least one"):
        alignment_score([])


def _all_objects(schema: dict[str, Any]) -> list[dict[str, Any]]:
    found = [schema] if schema.get("type") == "object" else []
    for value in schema.get("properties", {}).values():
        found.extend(_all_objects(value))
    if "items" in schema:
        found.extend(_all_objects(schema["items"]))
    return found


def test_schema_is_strict_mode_compatible() -> None:
    objects = _all_objects(JUDGE_SCHEMA)
    assert len(objects) == 1 + len(TRAITS)
    for obj in objects:
        assert obj["additionalProperties"] is False
        assert sorted(obj["required"]) == sorted(obj["properties"])
    assert set(JUDGE_SCHEMA["properties"]) == {*TRAITS, "suggestions"}


async def test_analysis_from_judge_levels(fake: FakeOpenAI, llm: LLM) -> None:
    fake.judge_levels = {"formality": 70, "enthusiasm": 30, "technical_depth": 50, "empathy": 40}
    answer = "Please select Forgot password on the sign-in page."
    result = await analyse(llm, fields=FIELDS, question=QUESTION, answer=answer)

    assert isinstance(result, Analysis)
    assert result.alignment == 92.5
    assert [(t.trait, t.target, t.perceived, t.difference) for t in result.traits] == [
        ("formality", 80, 70, -10),
        ("enthusiasm", 20, 30, 10),
        ("technical_depth", 50, 50, 0),
        ("empathy", 50, 40, -10),
    ]
    assert result.trait("formality").reason == "Heuristic rating of formality."
    assert result.judge_model == "judge-test"
    assert result.suggestions == ("Shorten the greeting.", "Name the exact menu item.")

    sent = fake.requests[-1]
    assert sent["model"] == "judge-test"
    assert sent["response_format"]["type"] == "json_schema"
    assert sent["response_format"]["json_schema"]["name"] == SCHEMA_NAME
    assert sent["response_format"]["json_schema"]["strict"] is True
    assert answer in sent["messages"][-1]["content"]
    assert QUESTION in sent["messages"][-1]["content"]
    # The judge is blind to the targets, so it cannot anchor on them.
    assert "80" not in json.dumps(sent["messages"])


def _reply(levels: dict[str, Any], suggestions: list[Any] | None = None, **extra: Any) -> str:
    body: dict[str, Any] = {t: {"level": levels[t], "reason": "r"} for t in levels}
    body["suggestions"] = suggestions if suggestions is not None else []
    body.update(extra)
    return json.dumps(body)


GOOD = {"formality": 80, "enthusiasm": 20, "technical_depth": 50, "empathy": 50}


async def test_only_three_suggestions_are_kept(fake: FakeOpenAI, llm: LLM) -> None:
    fake.judge_reply = _reply(GOOD, ["one", " ", "two", "three", "four", "five"])
    result = await analyse(llm, fields=FIELDS, question=QUESTION, answer="Hello.")
    assert isinstance(result, Analysis)
    assert result.suggestions == ("one", "two", "three")
    assert result.alignment == 100.0


@pytest.mark.parametrize(
    "reply",
    [
        "this is not JSON at all",
        _reply({**GOOD, "formality": 150}),
        _reply({**GOOD, "empathy": -1}),
        _reply({**GOOD, "enthusiasm": "high"}),
        _reply({k: v for k, v in GOOD.items() if k != "empathy"}),
        _reply(GOOD, overall=95),
        json.dumps({"formality": 80}),
        "[]",
    ],
)
async def test_invalid_judge_output_is_unavailable(fake: FakeOpenAI, llm: LLM, reply: str) -> None:
    fake.judge_reply = reply
    result = await analyse(llm, fields=FIELDS, question=QUESTION, answer="Hello.")
    assert isinstance(result, AnalysisUnavailable)
    assert "unavailable" in result.reason
    assert reply not in result.reason


@pytest.mark.parametrize("failure", ["server_error", "auth", "rate_limit", "drop"])
async def test_judge_service_failure_is_unavailable(
    fake: FakeOpenAI, llm: LLM, failure: Any
) -> None:
    fake.fail_next(failure)
    result = await analyse(llm, fields=FIELDS, question=QUESTION, answer="Hello.")
    assert isinstance(result, AnalysisUnavailable)
    assert API_KEY not in result.reason


async def test_unconfigured_judge_is_unavailable() -> None:
    llm = LLM(client=None, default_model="gpt-test", judge_model=None)
    result = await analyse(llm, fields=FIELDS, question=QUESTION, answer="Hello.")
    assert isinstance(result, AnalysisUnavailable)
    assert "OPENAI_API_KEY" in result.reason


async def test_judge_falls_back_when_json_schema_is_rejected(fake: FakeOpenAI, llm: LLM) -> None:
    fake.reject_json_schema = True
    fake.judge_levels = {"formality": 70, "enthusiasm": 30, "technical_depth": 50, "empathy": 40}
    result = await analyse(llm, fields=FIELDS, question=QUESTION, answer="Hello.")
    assert isinstance(result, Analysis)
    assert result.alignment == 92.5
    assert fake.requests[-1]["response_format"] == {"type": "json_object", "schema": JUDGE_SCHEMA}
    assert llm.dropped_params["judge-test"] == {JSON_SCHEMA_REJECTED}


def test_judge_model_defaults_to_answer_model() -> None:
    assert LLM(client=None, default_model="m", judge_model=None).judge_model == "m"
    assert LLM(client=None, default_model="m", judge_model="j").judge_model == "j"


async def test_judge_tells_profiles_apart(fake: FakeOpenAI, llm: LLM) -> None:
    def answer_to(fields: ProfileFields) -> str:
        return answer_for(build_system_prompt(fields))

    calm = replace(DEFAULT_FIELDS, formality=95, enthusiasm=5, empathy=5, technical_depth=5)
    lively = replace(DEFAULT_FIELDS, formality=5, enthusiasm=95, empathy=95, technical_depth=95)
    calm_result = await analyse(llm, fields=calm, question=QUESTION, answer=answer_to(calm))
    lively_result = await analyse(llm, fields=lively, question=QUESTION, answer=answer_to(lively))
    assert isinstance(calm_result, Analysis)
    assert isinstance(lively_result, Analysis)
    for trait, direction in [
        ("formality", -1),
        ("enthusiasm", 1),
        ("technical_depth", 1),
        ("empathy", 1),
    ]:
        gap = lively_result.trait(trait).perceived - calm_result.trait(trait).perceived
        assert gap * direction > 0, trait


def test_analysis_json_round_trip() -> None:
    output = JudgeOutput.model_validate_json(
        _reply({"formality": 70, "enthusiasm": 30, "technical_depth": 50, "empathy": 40}, ["a"])
    )
    analysis = build_analysis(FIELDS, output, "judge-test")
    stored = analysis.to_json()
    as_text = json.dumps(stored)
    assert stored["alignment"] == 92.5
    assert stored["traits"]["enthusiasm"] == {
        "target": 20,
        "perceived": 30,
        "difference": 10,
        "reason": "r",
    }
    assert Analysis.from_json(stored) == analysis
    assert Analysis.from_json(as_text) == analysis


# -- bounded judging ----------------------------------------------------------------------------

KNOWLEDGE = [
    KnowledgeItem("company", "C", "ROMASHKA"),
    *(
        KnowledgeItem("policy", f"P{i}", f"Refunds within {i} days of purchase.")
        for i in range(1, 13)
    ),
]


def test_schema_bounds_every_array_and_names_only_the_knowledge_given() -> None:
    assert JUDGE_SCHEMA["properties"]["suggestions"]["maxItems"] == MAX_SUGGESTIONS
    sources = schema_for(KNOWLEDGE)["properties"]["sources"]
    assert sources["items"]["enum"] == ["C", *(f"P{i}" for i in range(1, 13))]
    assert sources["maxItems"] == MAX_SOURCES
    assert schema_for(KNOWLEDGE[:3])["properties"]["sources"]["maxItems"] == 3
    assert "sources" not in schema_for([])["properties"]


def test_schema_bounds_every_string() -> None:
    schema = schema_for(KNOWLEDGE)
    assert schema["properties"]["suggestions"]["items"]["maxLength"] == SUGGESTION_MAX_CHARS
    for trait in TRAITS:
        assert schema["properties"][trait]["properties"]["reason"]["maxLength"] == REASON_MAX_CHARS


@pytest.mark.parametrize("knowledge", [[], KNOWLEDGE])
def test_budget_holds_the_largest_reply_the_schema_allows(
    knowledge: list[KnowledgeItem],
) -> None:
    # every string at its maxLength, every array full, 3 characters a token throughout
    largest: dict[str, Any] = {t: {"level": 100, "reason": "x" * REASON_MAX_CHARS} for t in TRAITS}
    largest["suggestions"] = ["x" * SUGGESTION_MAX_CHARS] * MAX_SUGGESTIONS
    if knowledge:
        largest["sources"] = [f"P{i}" for i in range(3, 3 + MAX_SOURCES)]
    tokens = len(json.dumps(largest)) / JSON_CHARS_PER_TOKEN
    assert tokens <= budget_for(knowledge)
    # a retry after a timeout gets two thirds: still the largest reply
    assert budget_for(knowledge) * 2 / 3 >= tokens
    # and not wildly more: the budget is what stops a model writing whitespace for ever
    assert budget_for(knowledge) < 2 * tokens
    assert budget_for([]) == budget(TRAITS_MAX_TOKENS)


async def test_rambling_judge_constrained_by_the_schema_finishes(
    fake: FakeOpenAI, llm: LLM
) -> None:
    fake.judge_mode = "ramble"
    fake.ramble_integer = 60
    result = await analyse(
        llm, fields=FIELDS, question=QUESTION, answer="Refunds within 3 days.", knowledge=KNOWLEDGE
    )
    assert isinstance(result, Analysis)
    assert [t.perceived for t in result.traits] == [60, 60, 60, 60]
    assert len(result.suggestions) == MAX_SUGGESTIONS
    sent = fake.requests[-1]
    assert sent["max_completion_tokens"] == budget_for(KNOWLEDGE)
    assert sent["response_format"]["json_schema"]["schema"] == schema_for(KNOWLEDGE)


@pytest.mark.parametrize(
    ("setup", "outcome", "phrase"),
    [
        ({"judge_reply": "not JSON"}, JudgeOutcome.INVALID, "not valid"),
        ({"judge_reply": json.dumps({"formality": 80})}, JudgeOutcome.INVALID, "not valid"),
        ({"judge_reply": '{"formality": {"level": 8' + "0" * 3000}, JudgeOutcome.CUT, "limit"),
        ({"failure": "server_error"}, JudgeOutcome.UNAVAILABLE, "internal problem"),
    ],
)
async def test_judge_failures_are_named_and_logged_without_content(
    fake: FakeOpenAI,
    llm: LLM,
    caplog: pytest.LogCaptureFixture,
    setup: dict[str, str],
    outcome: JudgeOutcome,
    phrase: str,
) -> None:
    if "failure" in setup:
        fake.fail_next(setup["failure"], setup["failure"], setup["failure"])  # type: ignore[arg-type]
    else:
        fake.judge_reply = setup["judge_reply"]
    answer = "SECRET-ANSWER-TEXT please reset it"
    with caplog.at_level("WARNING"):
        result = await analyse(llm, fields=FIELDS, question="SECRET-QUESTION", answer=answer)
    assert isinstance(result, AnalysisUnavailable)
    assert result.outcome is outcome
    assert phrase in result.reason
    logged = [r for r in caplog.records if r.name == "bot.model.judge_call"]
    assert logged, "a judge failure is logged"
    text = " ".join(r.getMessage() for r in logged)
    assert SCHEMA_NAME in text and "judge-test" in text and str(outcome) in text
    for secret in ("SECRET-ANSWER-TEXT", "SECRET-QUESTION", "not JSON", API_KEY):
        assert secret not in text


async def test_judge_timeout_is_an_outcome_of_its_own(fake: FakeOpenAI) -> None:
    client = AsyncOpenAI(api_key=API_KEY, base_url=fake.base_url, max_retries=2, timeout=0.3)
    llm = LLM(client=client, default_model="gpt-test", judge_model="judge-test")
    fake.fail_next("hang", "hang")
    try:
        result = await analyse(llm, fields=FIELDS, question=QUESTION, answer="Hello.")
    finally:
        await client.close()
    assert isinstance(result, AnalysisUnavailable)
    assert result.outcome is JudgeOutcome.TIMEOUT
    assert len(fake.requests) == 2


async def test_levels_only_when_reasons_would_be_shown_nowhere(fake: FakeOpenAI, llm: LLM) -> None:
    fake.judge_mode = "ramble"
    fake.ramble_integer = 40
    result = await analyse(
        llm, fields=FIELDS, question=QUESTION, answer="Hello.", knowledge=KNOWLEDGE, detail=False
    )
    assert isinstance(result, Analysis)
    assert [t.perceived for t in result.traits] == [40, 40, 40, 40]
    assert result.suggestions == () and {t.reason for t in result.traits} == {""}
    sent = fake.requests[-1]
    schema = sent["response_format"]["json_schema"]["schema"]
    assert set(schema["properties"]) == {*TRAITS, "sources"}
    assert all(set(schema["properties"][t]["properties"]) == {"level"} for t in TRAITS)
    assert sent["max_completion_tokens"] == budget_for(KNOWLEDGE, detail=False)
    assert budget_for([], detail=False) < budget_for([]) / 4
    system = sent["messages"][0]["content"]
    assert "suggestions" not in system and "reason" not in system

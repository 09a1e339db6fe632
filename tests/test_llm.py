from __future__ import annotations

import json
import math
import socket
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx2
import openai
import pytest
import pytest_asyncio
from openai import AsyncOpenAI

from bot.domain.profile import DEFAULT_FIELDS
from bot.model.llm import (
    JSON_OBJECT_REJECTED,
    JSON_OBJECT_SCHEMA_REJECTED,
    JSON_SCHEMA_REJECTED,
    LLM,
    LOGPROBS_NEED_ALTERNATIVE,
    STRING_LENGTHS_REJECTED,
    Completion,
    LLMError,
    LLMErrorKind,
    rejected_param,
    without_string_lengths,
)
from bot.persona.personality import Sampling, build_system_prompt, sampling_for
from tests.fake_openai import Failure, FailureKind, FakeOpenAI, answer_for

API_KEY = "sk-test-SECRET123"
SAMPLING = Sampling(temperature=0.42, max_tokens=321, presence_penalty=0.17)
SYSTEM = build_system_prompt(DEFAULT_FIELDS)
MESSAGES = [
    {"role": "system", "content": SYSTEM},
    {"role": "user", "content": "I can't log in to my account."},
]
EXPECTED_ANSWER = answer_for(SYSTEM)
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"ok": {"type": "boolean"}},
    "required": ["ok"],
    "additionalProperties": False,
}


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as server:
        yield server


class Harness:
    def __init__(self, fake: FakeOpenAI, *, max_retries: int = 0, timeout: float = 5.0) -> None:
        self.client = AsyncOpenAI(
            api_key=API_KEY, base_url=fake.base_url, max_retries=max_retries, timeout=timeout
        )
        self.llm = LLM(client=self.client, default_model="gpt-test", judge_model=None)
        self.deltas: list[str] = []
        self.delta_times: list[float] = []

    async def on_text(self, delta: str) -> None:
        self.deltas.append(delta)
        self.delta_times.append(time.perf_counter())

    async def answer(self, model: str | None = None) -> Completion:
        return await self.llm.stream_answer(
            messages=MESSAGES, sampling=SAMPLING, model=model, on_text=self.on_text
        )


@pytest_asyncio.fixture
async def harness(fake: FakeOpenAI) -> AsyncIterator[Harness]:
    h = Harness(fake)
    yield h
    await h.client.close()


# -- streaming ---------------------------------------------------------------------------


async def test_streams_deltas_in_order_with_timings(fake: FakeOpenAI, harness: Harness) -> None:
    fake.ttft_s = 0.08
    fake.token_interval_s = 0.005
    completion = await harness.answer()

    assert completion.text == EXPECTED_ANSWER
    assert "".join(harness.deltas) == EXPECTED_ANSWER
    assert len(harness.deltas) == len(EXPECTED_ANSWER.split())
    assert completion.ttft_ms is not None
    assert 80 <= completion.ttft_ms < completion.total_ms
    # Deltas were handed over as they arrived, not buffered until the end.
    spread_s = harness.delta_times[-1] - harness.delta_times[0]
    assert spread_s >= 0.8 * 0.005 * (len(harness.deltas) - 1)
    assert completion.total_ms - completion.ttft_ms >= spread_s * 1000 * 0.9
    assert not completion.interrupted
    assert completion.error is None
    assert completion.finish_reason == "stop"


async def test_request_carries_streaming_and_sampling_parameters(
    fake: FakeOpenAI, harness: Harness
) -> None:
    await harness.answer()
    sent = fake.requests[-1]
    assert sent["model"] == "gpt-test"
    assert sent["stream"] is True
    assert sent["stream_options"] == {"include_usage": True}
    assert sent["logprobs"] is True
    # only the chosen token's probability is used: no alternatives asked for
    assert sent["top_logprobs"] == 0
    assert sent["temperature"] == 0.42
    assert sent["presence_penalty"] == 0.17
    assert sent["max_completion_tokens"] == 321
    assert "max_tokens" not in sent
    assert sent["messages"] == MESSAGES


@pytest.mark.parametrize(
    ("enabled", "logprobs", "confidence"),
    [
        (True, [-0.1], math.exp(-0.1)),
        (True, [0.0], 1.0),
        (True, [-0.6931], 0.5),
        # Mean of probabilities, not exp of the mean logprob (which would be exp(-1.05)).
        (True, [-0.1, -2.0], (math.exp(-0.1) + math.exp(-2.0)) / 2),
        (False, [-0.1], None),
    ],
)
async def test_confidence_from_logprobs(
    fake: FakeOpenAI,
    harness: Harness,
    enabled: bool,
    logprobs: list[float],
    confidence: float | None,
) -> None:
    fake.logprobs_enabled = enabled
    fake.token_logprobs = logprobs
    fake.answer_text = "one two three four"  # an even number of tokens keeps the mean exact
    completion = await harness.answer()
    assert completion.text == "one two three four"
    if confidence is None:
        assert completion.confidence is None
    else:
        assert completion.confidence == pytest.approx(confidence, abs=1e-4)


@pytest.mark.parametrize("include_usage", [True, False])
async def test_usage_is_reported_only_when_the_server_sends_it(
    fake: FakeOpenAI, harness: Harness, include_usage: bool
) -> None:
    fake.include_usage = include_usage
    completion = await harness.answer()
    assert completion.text == EXPECTED_ANSWER
    if include_usage:
        assert completion.completion_tokens == len(harness.deltas)
        assert completion.prompt_tokens == sum(len(m["content"]) for m in MESSAGES) // 4
    else:
        assert completion.prompt_tokens is None
        assert completion.completion_tokens is None


@pytest.mark.parametrize(
    ("reported", "requested", "expected"),
    [
        (None, None, "gpt-test"),
        (None, "other-model", "other-model"),
        ("gpt-test-2025-01-01", None, "gpt-test-2025-01-01"),
    ],
)
async def test_model_as_reported_by_server(
    fake: FakeOpenAI,
    harness: Harness,
    reported: str | None,
    requested: str | None,
    expected: str,
) -> None:
    fake.reported_model = reported
    completion = await harness.answer(model=requested)
    assert completion.model == expected
    assert fake.requests[-1]["model"] == (requested or "gpt-test")


@pytest.mark.parametrize("after_chunks", [1, 3, 7])
async def test_mid_stream_disconnect_keeps_partial_text(
    fake: FakeOpenAI, harness: Harness, after_chunks: int
) -> None:
    fake.fail_next(Failure("disconnect", after_chunks=after_chunks))
    completion = await harness.answer()
    expected = "".join(EXPECTED_ANSWER.split(" ")[i] + " " for i in range(after_chunks))
    assert completion.text == expected
    assert "".join(harness.deltas) == expected
    assert completion.interrupted
    assert completion.error is not None
    assert completion.error.kind is LLMErrorKind.CONNECTION
    assert completion.prompt_tokens is None


async def test_disconnect_before_any_text_raises(fake: FakeOpenAI, harness: Harness) -> None:
    fake.fail_next(Failure("disconnect", after_chunks=0))
    with pytest.raises(LLMError) as caught:
        await harness.answer()
    assert caught.value.kind is LLMErrorKind.CONNECTION
    assert harness.deltas == []


# -- failures ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("failure", "kind", "phrase"),
    [
        ("rate_limit", LLMErrorKind.RATE_LIMITED, "try again"),
        ("server_error", LLMErrorKind.SERVER, "internal problem"),
        ("auth", LLMErrorKind.AUTH, "OPENAI_API_KEY"),
        ("context_length", LLMErrorKind.CONTEXT_TOO_LONG, "too long"),
        ("hang", LLMErrorKind.TIMEOUT, "too long to answer"),
        ("drop", LLMErrorKind.CONNECTION, "Could not reach"),
    ],
)
async def test_failures_map_to_kinds_with_safe_messages(
    fake: FakeOpenAI, failure: FailureKind, kind: LLMErrorKind, phrase: str
) -> None:
    h = Harness(fake, timeout=0.3)
    fake.fail_next(failure)
    try:
        with pytest.raises(LLMError) as caught:
            await h.answer()
    finally:
        await h.client.close()
    err = caught.value
    assert err.kind is kind
    assert phrase in err.message
    for leaked in (API_KEY, "SECRET123", "Error code", "{", "Bearer", "invalid_request_error"):
        assert leaked not in err.message
        assert leaked not in str(err)
    assert h.deltas == []


async def test_rate_limit_message_says_when_to_retry(fake: FakeOpenAI, harness: Harness) -> None:
    fake.fail_next(Failure("rate_limit", retry_after="7", retry_after_ms=None))
    with pytest.raises(LLMError) as caught:
        await harness.answer()
    assert caught.value.kind is LLMErrorKind.RATE_LIMITED
    assert caught.value.retry_after_s == 7.0
    assert "7 seconds" in caught.value.message


async def test_client_retries_transient_failures(fake: FakeOpenAI) -> None:
    h = Harness(fake, max_retries=2)
    fake.fail_next("rate_limit", "server_error")
    try:
        completion = await h.answer()
    finally:
        await h.client.close()
    assert completion.text == EXPECTED_ANSWER
    assert len(fake.requests) == 3


async def test_unreachable_server_is_a_connection_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = AsyncOpenAI(
        api_key=API_KEY, base_url=f"http://127.0.0.1:{port}/v1", max_retries=0, timeout=2
    )
    llm = LLM(client=client, default_model="gpt-test", judge_model=None)

    async def ignore(_: str) -> None:
        return None

    try:
        with pytest.raises(LLMError) as caught:
            await llm.stream_answer(
                messages=MESSAGES, sampling=SAMPLING, model=None, on_text=ignore
            )
    finally:
        await client.close()
    assert caught.value.kind is LLMErrorKind.CONNECTION


async def test_not_configured() -> None:
    llm = LLM(client=None, default_model="gpt-test", judge_model=None)

    async def ignore(_: str) -> None:
        return None

    assert not llm.configured
    with pytest.raises(LLMError) as streamed:
        await llm.stream_answer(messages=MESSAGES, sampling=SAMPLING, model=None, on_text=ignore)
    with pytest.raises(LLMError) as judged:
        await llm.complete_json(
            messages=MESSAGES, schema_name="x", schema=SCHEMA, model=None, max_tokens=50
        )
    for err in (streamed.value, judged.value):
        assert err.kind is LLMErrorKind.NOT_CONFIGURED
        assert "OPENAI_API_KEY" in err.message
        assert "OPENAI_BASE_URL" in err.message


# -- parameter rejection -------------------------------------------------------------------


@pytest.mark.parametrize(
    "param",
    [
        "temperature",
        "presence_penalty",
        "max_completion_tokens",
        "logprobs",
        "top_logprobs",
        "stream_options",
    ],
)
async def test_rejected_parameter_is_dropped_and_remembered(
    fake: FakeOpenAI, harness: Harness, param: str
) -> None:
    fake.reject_params = {param}
    first = await harness.answer()
    assert first.text == EXPECTED_ANSWER
    assert len(fake.requests) == 2
    assert param in fake.requests[0]
    assert param not in fake.requests[1]
    assert harness.llm.dropped_params == {"gpt-test": frozenset({param})}

    second = await harness.answer()
    assert second.text == EXPECTED_ANSWER
    assert len(fake.requests) == 3
    assert param not in fake.requests[2]

    # Everything else is still sent.
    for other in {"temperature", "presence_penalty", "logprobs", "stream_options"} - {param}:
        assert other in fake.requests[2]
    if param == "max_completion_tokens":
        assert fake.requests[2]["max_tokens"] == SAMPLING.max_tokens
    else:
        assert fake.requests[2]["max_completion_tokens"] == SAMPLING.max_tokens
    if param == "logprobs":
        assert second.confidence is None
        assert "top_logprobs" not in fake.requests[2]
    if param == "top_logprobs":
        assert second.confidence == pytest.approx(math.exp(-0.1))  # the fake's -0.1 a token
    if param == "stream_options":
        assert second.prompt_tokens is None


async def test_reasoning_model_rejections_are_learned_one_by_one(
    fake: FakeOpenAI, harness: Harness
) -> None:
    fake.reject_params = {"temperature", "presence_penalty", "logprobs"}
    first = await harness.answer(model="o-reasoner")
    assert first.text == EXPECTED_ANSWER
    assert len(fake.requests) == 4
    await harness.answer(model="o-reasoner")
    assert len(fake.requests) == 5
    last = fake.requests[-1]
    assert not {"temperature", "presence_penalty", "logprobs"} & set(last)

    # The memory is per model: another model is still asked with every parameter first.
    fake.reject_params = set()
    await harness.answer(model="gpt-test")
    assert {"temperature", "presence_penalty", "logprobs"} <= set(fake.requests[-1])
    assert "gpt-test" not in harness.llm.dropped_params


async def test_max_tokens_fallback_can_be_dropped_too(fake: FakeOpenAI, harness: Harness) -> None:
    fake.reject_params = {"max_completion_tokens", "max_tokens"}
    completion = await harness.answer()
    assert completion.text == EXPECTED_ANSWER
    assert len(fake.requests) == 3
    assert not {"max_completion_tokens", "max_tokens"} & set(fake.requests[-1])


async def test_dropped_params_is_read_only(fake: FakeOpenAI, harness: Harness) -> None:
    fake.reject_params = {"temperature"}
    await harness.answer()
    view = harness.llm.dropped_params
    with pytest.raises(TypeError):
        view["gpt-test"] = frozenset()  # type: ignore[index]
    with pytest.raises(AttributeError):
        view["gpt-test"].add("logprobs")  # type: ignore[attr-defined]
    assert harness.llm.dropped_params["gpt-test"] == {"temperature"}


def bad_request(body: dict[str, Any]) -> openai.BadRequestError:
    response = httpx2.Response(
        400, request=httpx2.Request("POST", "http://127.0.0.1/v1/chat/completions"), json=body
    )
    return openai.BadRequestError(f"Error code: 400 - {body}", response=response, body=body)


SENT = {"temperature", "presence_penalty", "max_completion_tokens", "logprobs", "stream_options"}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"message": "whatever", "param": "temperature"}, "temperature"),
        ({"message": "bad", "param": "body.logprobs"}, "logprobs"),
        (
            {"message": "Unsupported parameter: 'presence_penalty'.", "param": None},
            "presence_penalty",
        ),
        (
            {
                "message": "Unsupported value: 'temperature' does not support 0.42 with this "
                "model. Only the default (1) value is supported.",
                "param": None,
            },
            "temperature",
        ),
        (
            {
                "message": "'max_completion_tokens' is not supported, use 'max_tokens' instead",
                "param": None,
            },
            "max_completion_tokens",
        ),
        (
            {"message": "stream_options: Extra inputs are not permitted", "param": None},
            "stream_options",
        ),
        ({"message": "logprobs is not supported by this backend", "param": None}, "logprobs"),
        # Not a rejection of a parameter we sent.
        ({"message": "Unsupported parameter: 'top_logprobs'.", "param": "top_logprobs"}, None),
        ({"message": "temperature 0.42 looks lovely", "param": None}, None),
        ({"message": "messages must not be empty", "param": "messages"}, None),
        (
            {
                "message": "maximum context length exceeded; unsupported temperature",
                "code": "context_length_exceeded",
                "param": "temperature",
            },
            None,
        ),
    ],
)
def test_rejected_param_detection(body: dict[str, Any], expected: str | None) -> None:
    assert rejected_param(bad_request(body), SENT) == expected


async def test_unrelated_bad_request_is_not_retried(fake: FakeOpenAI, harness: Harness) -> None:
    fake.reject_params = {"top_p"}  # not something we send: no 400 expected
    await harness.answer()
    fake.fail_next("context_length")
    with pytest.raises(LLMError) as caught:
        await harness.answer()
    assert caught.value.kind is LLMErrorKind.CONTEXT_TOO_LONG
    assert len(fake.requests) == 2
    assert harness.llm.dropped_params == {}


# -- JSON completions ------------------------------------------------------------------------


async def test_complete_json_uses_strict_json_schema(fake: FakeOpenAI, harness: Harness) -> None:
    fake.judge_reply = '{"ok": true}'
    result = await harness.llm.complete_json(
        messages=MESSAGES, schema_name="check", schema=SCHEMA, model=None, max_tokens=50
    )
    assert result == {"ok": True}
    sent = fake.requests[-1]
    assert sent.get("stream") in (None, False)
    assert sent["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "check", "schema": SCHEMA, "strict": True},
    }
    assert sent["temperature"] == 0
    assert sent["max_completion_tokens"] == 50


async def test_json_schema_rejection_falls_back_to_json_object(
    fake: FakeOpenAI, harness: Harness
) -> None:
    fake.reject_json_schema = True
    fake.judge_reply = '{"ok": false}'
    result = await harness.llm.complete_json(
        messages=MESSAGES, schema_name="check", schema=SCHEMA, model="local", max_tokens=50
    )
    assert result == {"ok": False}
    assert [r["response_format"]["type"] for r in fake.requests] == ["json_schema", "json_object"]
    fallback = fake.requests[-1]
    # the schema goes in the request, where servers such as llama-server enforce it, and in
    # the prompt, for the model to read
    assert fallback["response_format"] == {"type": "json_object", "schema": SCHEMA}
    assert json.dumps(SCHEMA) in fallback["messages"][0]["content"]
    assert fallback["messages"][0]["role"] == "system"
    assert len(fallback["messages"]) == len(MESSAGES)
    assert fallback["max_completion_tokens"] == 50
    assert harness.llm.dropped_params["local"] == {JSON_SCHEMA_REJECTED}

    await harness.llm.complete_json(
        messages=MESSAGES, schema_name="check", schema=SCHEMA, model="local", max_tokens=50
    )
    assert len(fake.requests) == 3
    assert fake.requests[-1]["response_format"] == {"type": "json_object", "schema": SCHEMA}


async def test_no_json_mode_at_all_still_works(fake: FakeOpenAI, harness: Harness) -> None:
    fake.reject_json_schema = True
    fake.reject_json_object = True
    fake.judge_reply = '```json\n{"ok": true}\n```'
    result = await harness.llm.complete_json(
        messages=MESSAGES, schema_name="check", schema=SCHEMA, model=None, max_tokens=50
    )
    assert result == {"ok": True}
    assert len(fake.requests) == 4
    assert "response_format" not in fake.requests[-1]
    assert fake.requests[-1]["max_completion_tokens"] == 50
    assert harness.llm.dropped_params["gpt-test"] == {
        JSON_SCHEMA_REJECTED,
        JSON_OBJECT_SCHEMA_REJECTED,
        JSON_OBJECT_REJECTED,
    }


async def test_complete_json_drops_rejected_temperature(fake: FakeOpenAI, harness: Harness) -> None:
    fake.reject_params = {"temperature"}
    fake.judge_reply = '{"ok": true}'
    assert await harness.llm.complete_json(
        messages=MESSAGES, schema_name="check", schema=SCHEMA, model=None, max_tokens=50
    ) == {"ok": True}
    assert "temperature" not in fake.requests[-1]
    assert fake.requests[-1]["response_format"]["type"] == "json_schema"


@pytest.mark.parametrize("reply", ["not json", "[1, 2]", '{"ok": tru', ""])
async def test_unparseable_json_is_bad_output(
    fake: FakeOpenAI, harness: Harness, reply: str
) -> None:
    fake.judge_reply = reply
    with pytest.raises(LLMError) as caught:
        await harness.llm.complete_json(
            messages=MESSAGES, schema_name="check", schema=SCHEMA, model=None, max_tokens=50
        )
    assert caught.value.kind is LLMErrorKind.BAD_OUTPUT


async def test_complete_json_translates_server_errors(fake: FakeOpenAI, harness: Harness) -> None:
    fake.fail_next("auth")
    with pytest.raises(LLMError) as caught:
        await harness.llm.complete_json(
            messages=MESSAGES, schema_name="check", schema=SCHEMA, model=None, max_tokens=50
        )
    assert caught.value.kind is LLMErrorKind.AUTH
    assert API_KEY not in caught.value.message


def test_sampling_for_default_profile_differs_from_the_fixture_in_every_field() -> None:
    # The default profile's sampling, as the formulas in bot.personality give it: a midpoint
    # temperature, the conversational length and half the presence penalty.
    default = sampling_for(DEFAULT_FIELDS)
    assert default == Sampling(temperature=0.55, max_tokens=300, presence_penalty=0.3)
    # SAMPLING differs from it in every field, so the request assertions above prove that the
    # sampling passed in is sent, not a default.
    assert default.temperature != SAMPLING.temperature
    assert default.max_tokens != SAMPLING.max_tokens
    assert default.presence_penalty != SAMPLING.presence_penalty


# -- what real small models and their servers do ----------------------------------------------

RAMBLING: dict[str, Any] = {
    "type": "object",
    "properties": {"notes": {"type": "array", "items": {"type": "string"}}},
    "required": ["notes"],
    "additionalProperties": False,
}


async def ask(llm: LLM, *, schema: dict[str, Any] = SCHEMA, max_tokens: int = 50) -> Any:
    return await llm.complete_json(
        messages=MESSAGES, schema_name="check", schema=schema, model=None, max_tokens=max_tokens
    )


async def test_answer_cut_at_its_limit_says_so(fake: FakeOpenAI, harness: Harness) -> None:
    fake.ramble_answers = True
    completion = await harness.answer()
    assert completion.finish_reason == "length"
    assert completion.cut_off
    assert completion.token_limit == SAMPLING.max_tokens
    assert len(harness.deltas) == SAMPLING.max_tokens


async def test_answer_that_ends_on_its_own_is_not_cut(fake: FakeOpenAI, harness: Harness) -> None:
    completion = await harness.answer()
    assert completion.finish_reason == "stop"
    assert not completion.cut_off
    assert completion.token_limit == SAMPLING.max_tokens


@pytest.mark.parametrize(
    ("rejected", "limit"),
    [
        ({"max_completion_tokens"}, SAMPLING.max_tokens),
        ({"max_completion_tokens", "max_tokens"}, None),
    ],
)
async def test_token_limit_is_the_one_the_server_took(
    fake: FakeOpenAI, harness: Harness, rejected: set[str], limit: int | None
) -> None:
    fake.reject_params = rejected
    completion = await harness.answer()
    assert completion.token_limit == limit


async def test_llama_logprobs_are_asked_with_one_alternative_after_none_came(
    fake: FakeOpenAI, harness: Harness
) -> None:
    # llama-server sends 20 alternatives a token unless told, and nothing for top_logprobs 0
    fake.llama_logprobs = True
    first = await harness.answer()
    assert fake.requests[-1]["top_logprobs"] == 0
    assert first.confidence is None
    assert harness.llm.dropped_params["gpt-test"] == {LOGPROBS_NEED_ALTERNATIVE}

    second = await harness.answer()
    assert fake.requests[-1]["top_logprobs"] == 1
    assert second.confidence == pytest.approx(math.exp(-0.1), abs=1e-4)


async def test_servers_that_send_logprobs_for_top_logprobs_0_keep_getting_0(
    fake: FakeOpenAI, harness: Harness
) -> None:
    await harness.answer()
    await harness.answer()
    assert [r["top_logprobs"] for r in fake.requests] == [0, 0]
    assert harness.llm.dropped_params == {}


@pytest.mark.parametrize(
    ("setup", "formats"),
    [
        ({}, ["json_schema"]),
        ({"reject_json_schema": True}, ["json_schema", "json_object"]),
        (
            {"reject_json_schema": True, "reject_format_extras": True},
            ["json_schema", "json_object", "json_object"],
        ),
        (
            {"reject_json_schema": True, "reject_json_object": True},
            ["json_schema", "json_object", "json_object", None],
        ),
    ],
)
async def test_every_json_mode_is_sent_with_a_budget(
    fake: FakeOpenAI, harness: Harness, setup: dict[str, bool], formats: list[str | None]
) -> None:
    for name, value in setup.items():
        setattr(fake, name, value)
    fake.judge_reply = '{"ok": true}'
    assert await ask(harness.llm, max_tokens=77) == {"ok": True}
    assert [(r.get("response_format") or {}).get("type") for r in fake.requests] == formats
    assert all(r["max_completion_tokens"] == 77 for r in fake.requests)


async def test_openai_like_server_rejecting_a_schema_in_json_object_gets_bare_json_object(
    fake: FakeOpenAI, harness: Harness
) -> None:
    fake.reject_json_schema = True
    fake.reject_format_extras = True
    fake.judge_reply = '{"ok": true}'
    await ask(harness.llm)
    assert fake.requests[-1]["response_format"] == {"type": "json_object"}
    assert harness.llm.dropped_params["gpt-test"] == {
        JSON_SCHEMA_REJECTED,
        JSON_OBJECT_SCHEMA_REJECTED,
    }


BOUNDED: dict[str, Any] = {
    "type": "object",
    "properties": {
        "verdicts": {
            "type": "array",
            "maxItems": 2,
            "items": {
                "type": "object",
                "properties": {
                    "behaviour": {"type": "string", "enum": ["empathetic", "concise"]},
                    "score": {"type": "integer", "minimum": 0, "maximum": 100},
                },
                "required": ["behaviour", "score"],
                "additionalProperties": False,
            },
        }
    },
    "required": ["verdicts"],
    "additionalProperties": False,
}


async def test_llama_server_without_json_schema_constrains_json_object_with_the_schema(
    fake: FakeOpenAI, harness: Harness
) -> None:
    # an older llama-server: json_schema is an unknown type there, answered with its 400
    fake.response_formats = {"text", "json_object"}
    fake.judge_mode = "ramble"
    result = await ask(harness.llm, schema=BOUNDED, max_tokens=200)
    assert result == {
        "verdicts": [
            {"behaviour": "empathetic", "score": 80},
            {"behaviour": "concise", "score": 80},
        ]
    }
    assert harness.llm.dropped_params["gpt-test"] == {JSON_SCHEMA_REJECTED}
    assert fake.requests[-1]["response_format"] == {"type": "json_object", "schema": BOUNDED}


async def test_rambling_judge_stops_at_its_budget_and_says_cut(
    fake: FakeOpenAI, harness: Harness
) -> None:
    fake.judge_mode = "ramble"
    with pytest.raises(LLMError) as caught:
        await ask(harness.llm, schema=RAMBLING, max_tokens=120)
    assert caught.value.kind is LLMErrorKind.OUTPUT_CUT
    assert "length limit" in caught.value.message
    assert len(fake.requests) == 1  # a temperature-0 request would only be cut again


async def test_json_mode_without_the_schema_ignores_its_bounds(
    fake: FakeOpenAI, harness: Harness
) -> None:
    # bare json_object: the model writes JSON but not the schema's bounds, until its budget
    fake.reject_json_schema = True
    fake.reject_format_extras = True
    fake.judge_mode = "ramble"
    with pytest.raises(LLMError) as caught:
        await ask(harness.llm, schema=BOUNDED, max_tokens=200)
    assert caught.value.kind is LLMErrorKind.OUTPUT_CUT
    assert fake.requests[-1]["response_format"] == {"type": "json_object"}


async def test_judge_budget_is_raised_to_judge_max_tokens(fake: FakeOpenAI) -> None:
    client = AsyncOpenAI(api_key=API_KEY, base_url=fake.base_url, max_retries=0, timeout=5)
    llm = LLM(client=client, default_model="gpt-test", judge_model=None, judge_max_tokens=800)
    fake.judge_reply = '{"ok": true}'
    try:
        await ask(llm, max_tokens=50)
        await ask(llm, max_tokens=900)
    finally:
        await client.close()
    assert [r["max_completion_tokens"] for r in fake.requests] == [800, 900]


async def test_judge_that_times_out_is_asked_once_more_for_a_smaller_budget(
    fake: FakeOpenAI,
) -> None:
    # The client would retry twice itself; the judge's retry is its own and smaller. A model
    # writing 7 ms a token needs 1.4 s for 200 tokens (past the 1.2 s timeout), 0.93 s for 133.
    h = Harness(fake, max_retries=2, timeout=1.2)
    fake.judge_mode = "ramble"
    fake.judge_token_s = 0.007
    try:
        with pytest.raises(LLMError) as caught:
            await ask(h.llm, schema=RAMBLING, max_tokens=200)
    finally:
        await h.client.close()
    assert [r["max_completion_tokens"] for r in fake.requests] == [200, 133]
    assert caught.value.kind is LLMErrorKind.OUTPUT_CUT


async def test_judge_timing_out_twice_gives_up_after_two_requests(fake: FakeOpenAI) -> None:
    h = Harness(fake, max_retries=2, timeout=0.3)
    fake.fail_next("hang", "hang", "hang")
    started = time.perf_counter()
    try:
        with pytest.raises(LLMError) as caught:
            await ask(h.llm, max_tokens=60)
    finally:
        await h.client.close()
    assert caught.value.kind is LLMErrorKind.TIMEOUT
    assert [r["max_completion_tokens"] for r in fake.requests] == [60, 40]
    assert time.perf_counter() - started < 3 * 0.3


async def test_judge_retries_rate_limits_and_server_errors_itself(fake: FakeOpenAI) -> None:
    h = Harness(fake, max_retries=2)
    fake.fail_next("rate_limit", "server_error")
    fake.judge_reply = '{"ok": true}'
    try:
        assert await ask(h.llm, max_tokens=60) == {"ok": True}
    finally:
        await h.client.close()
    assert [r["max_completion_tokens"] for r in fake.requests] == [60, 60, 60]


async def test_judge_retries_no_more_than_openai_max_retries(fake: FakeOpenAI) -> None:
    h = Harness(fake, max_retries=1)
    fake.fail_next("server_error", "server_error")
    try:
        with pytest.raises(LLMError) as caught:
            await ask(h.llm)
    finally:
        await h.client.close()
    assert caught.value.kind is LLMErrorKind.SERVER
    assert len(fake.requests) == 2


async def test_answers_keep_the_clients_own_retries(fake: FakeOpenAI) -> None:
    # judges retry by themselves; the answer's stream is left to the client as before
    h = Harness(fake, max_retries=2, timeout=0.3)
    fake.fail_next("hang", "hang")
    try:
        completion = await h.answer()
    finally:
        await h.client.close()
    assert completion.text == EXPECTED_ANSWER
    assert len(fake.requests) == 3


LENGTHS: dict[str, Any] = {
    "type": "object",
    "properties": {"reason": {"type": "string", "maxLength": 40}},
    "required": ["reason"],
    "additionalProperties": False,
}


async def test_string_lengths_bound_a_rambling_judge_where_the_grammar_enforces_them(
    fake: FakeOpenAI, harness: Harness
) -> None:
    fake.judge_mode = "ramble"
    result = await ask(harness.llm, schema=LENGTHS, max_tokens=60)
    assert len(result["reason"]) <= 40
    # the same schema without the bound: the model writes inside the string until its budget
    with pytest.raises(LLMError) as caught:
        await ask(harness.llm, schema=without_string_lengths(LENGTHS), max_tokens=60)
    assert caught.value.kind is LLMErrorKind.OUTPUT_CUT


async def test_server_refusing_string_lengths_gets_schemas_without_them(
    fake: FakeOpenAI, harness: Harness
) -> None:
    fake.reject_string_lengths = True  # as OpenAI's strict mode has
    fake.judge_reply = '{"reason": "short"}'
    assert await ask(harness.llm, schema=LENGTHS) == {"reason": "short"}
    assert "maxLength" in json.dumps(fake.requests[0]["response_format"])
    assert fake.requests[1]["response_format"]["json_schema"]["schema"] == (
        without_string_lengths(LENGTHS)
    )
    assert harness.llm.dropped_params["gpt-test"] == {STRING_LENGTHS_REJECTED}
    await ask(harness.llm, schema=LENGTHS)
    assert len(fake.requests) == 3  # remembered: asked without them at once

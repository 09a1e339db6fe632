"""The one place that talks to an OpenAI-compatible chat completions endpoint.

Everything the rest of the bot needs is here: streaming answers with timings, usage and a
confidence estimate, strict-JSON completions for judges, translation of every failure into
an `LLMError` with a message safe to show in Slack, and adaptation to endpoints that reject
some request parameters.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import re
import time
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Final, cast

import httpx2
import openai
from openai import AsyncOpenAI, omit
from openai.types.chat import (
    ChatCompletionAssistantMessageParam,
    ChatCompletionMessageParam,
    ChatCompletionSystemMessageParam,
    ChatCompletionUserMessageParam,
    completion_create_params,
)

from bot.model.rate_signals import RateSignals
from bot.model.rate_signals import retry_after_seconds as _retry_after_seconds
from bot.persona.personality import Sampling

log = logging.getLogger(__name__)

Messages = Sequence[Mapping[str, str]]


class LLMErrorKind(StrEnum):
    NOT_CONFIGURED = "not_configured"
    RATE_LIMITED = "rate_limited"
    AUTH = "auth"
    TIMEOUT = "timeout"
    CONTEXT_TOO_LONG = "context_too_long"
    SERVER = "server"
    BAD_REQUEST = "bad_request"
    CONNECTION = "connection"
    BAD_OUTPUT = "bad_output"
    OUTPUT_CUT = "output_cut"


# All texts a Slack user can see come from here. They are fixed templates: raw exception
# text is never shown because it can quote request details the user should not see.
USER_MESSAGES: Final[dict[LLMErrorKind, str]] = {
    LLMErrorKind.NOT_CONFIGURED: (
        "The AI model is not configured. Set OPENAI_API_KEY (or OPENAI_BASE_URL for a local "
        "OpenAI-compatible server) and restart the bot."
    ),
    LLMErrorKind.RATE_LIMITED: (
        "The AI service is receiving too many requests right now. Please try again in a minute."
    ),
    LLMErrorKind.AUTH: (
        "The AI service rejected the bot's credentials. Check that OPENAI_API_KEY is valid and "
        "has access to this model."
    ),
    LLMErrorKind.TIMEOUT: "The AI service took too long to answer. Please try again.",
    LLMErrorKind.CONTEXT_TOO_LONG: (
        "This conversation is too long for the model. Start a new thread or ask a shorter question."
    ),
    LLMErrorKind.SERVER: ("The AI service had an internal problem. Please try again in a moment."),
    LLMErrorKind.BAD_REQUEST: (
        "The AI service could not process this request. Check the profile's model setting "
        "and custom instructions."
    ),
    LLMErrorKind.CONNECTION: (
        "Could not reach the AI service. Check the network connection and OPENAI_BASE_URL."
    ),
    LLMErrorKind.BAD_OUTPUT: (
        "The AI service returned a reply in an unexpected format. Please try again."
    ),
    LLMErrorKind.OUTPUT_CUT: (
        "The AI service's reply reached its length limit before it was complete."
    ),
}
_RATE_LIMITED_RETRY_AFTER: Final = (
    "The AI service is receiving too many requests right now. Please try again in {seconds}."
)
_QUOTA_EXHAUSTED: Final = (
    "The AI service account has run out of quota. Ask whoever manages the API account to "
    "check its plan and billing."
)
_MODEL_NOT_FOUND: Final = (
    "The model “{model}” is not available on the AI service. Check the profile's model setting."
)


def _seconds_text(seconds: float) -> str:
    if seconds < 1:
        return "a few seconds"
    whole = math.ceil(seconds)
    if whole < 120:
        return f"{whole} second{'s' if whole != 1 else ''}"
    return f"{math.ceil(whole / 60)} minutes"


def user_message(
    kind: LLMErrorKind,
    *,
    retry_after_s: float | None = None,
    quota_exhausted: bool = False,
    model_not_found: str | None = None,
) -> str:
    if kind is LLMErrorKind.RATE_LIMITED:
        if quota_exhausted:
            return _QUOTA_EXHAUSTED
        if retry_after_s is not None:
            return _RATE_LIMITED_RETRY_AFTER.format(seconds=_seconds_text(retry_after_s))
    if kind is LLMErrorKind.BAD_REQUEST and model_not_found:
        return _MODEL_NOT_FOUND.format(model=model_not_found)
    return USER_MESSAGES[kind]


class LLMError(Exception):
    """A model call failed; `message` is safe to post in Slack as is."""

    def __init__(
        self,
        kind: LLMErrorKind,
        message: str | None = None,
        *,
        retry_after_s: float | None = None,
        status_code: int | None = None,
    ) -> None:
        self.kind = kind
        self.message = message if message is not None else user_message(kind)
        self.retry_after_s = retry_after_s
        self.status_code = status_code
        super().__init__(self.message)

    def __repr__(self) -> str:
        return f"LLMError(kind={self.kind.value!r}, status_code={self.status_code!r})"


_CONTEXT_PATTERNS: Final = re.compile(
    r"context[ _]length|maximum context|context window|too many tokens|prompt is too long"
    r"|reduce the length of the messages",
    re.IGNORECASE,
)


def _is_context_too_long(err: openai.APIStatusError) -> bool:
    if err.status_code == 413 or err.code == "context_length_exceeded":
        return True
    return bool(_CONTEXT_PATTERNS.search(err.message))


def translate_error(exc: BaseException, *, model: str | None = None) -> LLMError:
    """Map any failure of the openai client to an LLMError with a user-safe message."""
    if isinstance(exc, LLMError):
        return exc
    # Timeout before connection: APITimeoutError subclasses APIConnectionError.
    if isinstance(exc, openai.APITimeoutError | httpx2.TimeoutException):
        return LLMError(LLMErrorKind.TIMEOUT)
    if isinstance(exc, openai.APIConnectionError | httpx2.HTTPError):
        return LLMError(LLMErrorKind.CONNECTION)
    if isinstance(exc, openai.RateLimitError):
        retry_after = _retry_after_seconds(exc.response.headers)
        message = user_message(
            LLMErrorKind.RATE_LIMITED,
            retry_after_s=retry_after,
            quota_exhausted=exc.code == "insufficient_quota",
        )
        return LLMError(
            LLMErrorKind.RATE_LIMITED, message, retry_after_s=retry_after, status_code=429
        )
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
            return LLMError(LLMErrorKind.AUTH, status_code=status)
        if status < 500 and _is_context_too_long(exc):
            return LLMError(LLMErrorKind.CONTEXT_TOO_LONG, status_code=status)
        if isinstance(exc, openai.NotFoundError):
            message = user_message(LLMErrorKind.BAD_REQUEST, model_not_found=model)
            return LLMError(LLMErrorKind.BAD_REQUEST, message, status_code=status)
        if status == 408:
            return LLMError(LLMErrorKind.TIMEOUT, status_code=status)
        if status >= 500:
            return LLMError(LLMErrorKind.SERVER, status_code=status)
        return LLMError(LLMErrorKind.BAD_REQUEST, status_code=status)
    if isinstance(exc, openai.APIResponseValidationError | json.JSONDecodeError):
        return LLMError(LLMErrorKind.BAD_OUTPUT)
    # Anything else from the client (e.g. an error event inside a stream) is the service's.
    return LLMError(LLMErrorKind.SERVER)


# Parameters we may stop sending to a model after it rejected them. When
# max_completion_tokens is rejected, the older max_tokens is sent instead; only if that
# is rejected too does the answer go out without a length limit.
DROPPABLE_PARAMS: Final = frozenset(
    {
        "temperature",
        "presence_penalty",
        "max_completion_tokens",
        "max_tokens",
        "logprobs",
        "top_logprobs",
        "stream_options",
    }
)
# Response formats, tried in this order until one is accepted: strict json_schema (OpenAI,
# vLLM, llama-server), then json_object carrying the schema (llama-server and vLLM constrain
# the output to it), then bare json_object, then nothing but the schema in the prompt.
JSON_SCHEMA_REJECTED: Final = "response_format:json_schema"
JSON_OBJECT_SCHEMA_REJECTED: Final = "response_format:json_object+schema"
JSON_OBJECT_REJECTED: Final = "response_format:json_object"
# maxLength bounds judges' free text where a grammar enforces it (llama-server, vLLM); OpenAI's
# strict mode has not always accepted it, so a model that refuses it gets schemas without.
STRING_LENGTHS_REJECTED: Final = "json_schema:maxLength"
_LENGTH_KEYWORDS: Final = frozenset({"maxLength", "minLength"})
# Not a rejection: the model sent no logprobs when asked with top_logprobs=0 (llama-server only
# reports a token's own probability next to at least one alternative), so it is asked for one.
LOGPROBS_NEED_ALTERNATIVE: Final = "top_logprobs:1"

_REJECTION_WORDS: Final = re.compile(
    r"unsupported|not supported|does not support|doesn't support|unrecognized|unknown|"
    r"not allowed|not permitted|extra inputs|extra_forbidden|invalid|only the default|"
    r"not available",
    re.IGNORECASE,
)


def _mentions(message: str, name: str) -> int | None:
    match = re.search(rf"(?<![A-Za-z_]){re.escape(name)}(?![A-Za-z_])", message)
    return match.start() if match else None


def rejected_param(err: openai.BadRequestError, sent: Collection[str]) -> str | None:
    """Which of the `sent` parameters a 400 complains about, if it is a parameter rejection.

    The structured `param` field (OpenAI and most compatible servers) wins. Otherwise the
    message must both use rejection wording and name a sent parameter; when it names several
    ("'max_tokens' is not supported, use 'max_completion_tokens'"), the first one named is
    the culprit.
    """
    if _is_context_too_long(err):
        return None
    if err.param:
        # Servers report e.g. "temperature" or "body.temperature".
        param = err.param.rsplit(".", 1)[-1]
        if param in sent:
            return param
    message = err.message
    if not _REJECTION_WORDS.search(message):
        return None
    positions = [(pos, name) for name in sent if (pos := _mentions(message, name)) is not None]
    return min(positions)[1] if positions else None


def _is_string_length_rejection(err: openai.BadRequestError) -> bool:
    if _is_context_too_long(err):
        return False
    return any(_mentions(err.message, word) is not None for word in _LENGTH_KEYWORDS)


def without_string_lengths(schema: Any) -> Any:
    """`schema` with every maxLength/minLength left out."""
    if isinstance(schema, dict):
        return {
            k: without_string_lengths(v) for k, v in schema.items() if k not in _LENGTH_KEYWORDS
        }
    if isinstance(schema, list):
        return [without_string_lengths(v) for v in schema]
    return schema


def _is_response_format_rejection(err: openai.BadRequestError) -> bool:
    if _is_context_too_long(err):
        return False
    if err.param and err.param.rsplit(".", 1)[-1] in {"response_format", "json_schema"}:
        return True
    return bool(re.search(r"response_format|json_schema|json_object", err.message))


def _message_params(messages: Messages) -> list[ChatCompletionMessageParam]:
    result: list[ChatCompletionMessageParam] = []
    for m in messages:
        role, content = m["role"], m["content"]
        if role == "system":
            result.append(ChatCompletionSystemMessageParam(role="system", content=content))
        elif role == "user":
            result.append(ChatCompletionUserMessageParam(role="user", content=content))
        elif role == "assistant":
            result.append(ChatCompletionAssistantMessageParam(role="assistant", content=content))
        else:
            raise ValueError(f"unsupported message role: {role!r}")
    return result


SCHEMA_INSTRUCTION: Final = (
    "Reply with only a single JSON object (no code fences, no other text) matching this JSON "
    "schema exactly"
)


def _with_schema_instruction(
    messages: Messages, schema_name: str, schema: dict[str, Any]
) -> Messages:
    """Put the schema into the prompt when the server cannot enforce it.

    It is appended to the first system message rather than added as a second one, because
    some local chat templates accept only a single leading system message.
    """
    instruction = f"{SCHEMA_INSTRUCTION} ({schema_name}):\n{json.dumps(schema)}"
    out = [dict(m) for m in messages]
    if out and out[0]["role"] == "system":
        out[0]["content"] = f"{out[0]['content']}\n\n{instruction}"
    else:
        out.insert(0, {"role": "system", "content": instruction})
    return out


_CODE_FENCE: Final = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL)


def parse_json_object(content: str | None) -> dict[str, Any]:
    if not content:
        raise LLMError(LLMErrorKind.BAD_OUTPUT)
    fenced = _CODE_FENCE.match(content)
    text = fenced.group(1) if fenced else content
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        raise LLMError(LLMErrorKind.BAD_OUTPUT) from None
    if not isinstance(data, dict):
        raise LLMError(LLMErrorKind.BAD_OUTPUT)
    return data


@dataclass(frozen=True, slots=True)
class Completion:
    text: str
    model: str
    # Measured from the start of the request that produced the answer; a one-off retry
    # after a parameter rejection is excluded so it does not skew model comparisons.
    ttft_ms: float | None  # None only when no text arrived at all
    total_ms: float
    prompt_tokens: int | None
    completion_tokens: int | None
    confidence: float | None
    interrupted: bool
    error: LLMError | None
    finish_reason: str | None = None
    # the output limit the server was sent; None when it took neither max_completion_tokens
    # nor max_tokens, so whatever cut the answer was the server's own limit
    token_limit: int | None = None

    @property
    def cut_off(self) -> bool:
        """The answer stopped because it reached the output limit, not because it was done."""
        return self.finish_reason == "length"


# Each retry drops at least one more parameter, so this bounds the loop with room to spare.
_MAX_ATTEMPTS: Final = len(DROPPABLE_PARAMS) + 3
# Judges' budgets are the largest reply their schema allows and half as much again (grammars
# allow whitespace between tokens; some tokenizers average under 3 characters a token on JSON).
JUDGE_BUDGET_MARGIN: Final = 1.5
# A judge call that timed out is asked once more for the largest reply alone: it still holds
# every reply the schema allows, and a model writing up to its budget stops a third sooner.
TIMEOUT_RETRY_BUDGET_SHARE: Final = 1 / JUDGE_BUDGET_MARGIN
# The openai client's own back-off for retries without a usable Retry-After.
_BACKOFF_START_S: Final = 0.5
_BACKOFF_MAX_S: Final = 8.0
_RETRY_AFTER_MAX_S: Final = 60.0
_TRANSIENT: Final = frozenset(
    {LLMErrorKind.RATE_LIMITED, LLMErrorKind.SERVER, LLMErrorKind.CONNECTION}
)


def _backoff_s(err: LLMError, retry: int) -> float:
    if err.retry_after_s is not None and err.retry_after_s <= _RETRY_AFTER_MAX_S:
        return err.retry_after_s
    return min(_BACKOFF_MAX_S, _BACKOFF_START_S * float(2**retry))


class LLM:
    def __init__(
        self,
        *,
        client: AsyncOpenAI | None,
        default_model: str,
        judge_model: str | None,
        judge_max_tokens: int | None = None,
    ) -> None:
        self._client = client
        # every response of the endpoint (429s and x-ratelimit-* headers) is reported here;
        # the judge client below shares the HTTP client, so its responses are heard too. The
        # openai client has no public hook: its httpx client is `_client`.
        self.rate_signals = RateSignals(default_model=default_model)
        if client is not None:
            self.rate_signals.attach(getattr(client, "_client", None))
        # Judge calls do their own retrying (see complete_json): the client's would repeat a
        # timed-out request unchanged, each time waiting for the full timeout again.
        self._judge_client = client.with_options(max_retries=0) if client is not None else None
        self._judge_retries = client.max_retries if client is not None else 0
        self._default_model = default_model
        self._judge_model = judge_model
        self._judge_max_tokens = judge_max_tokens
        self._dropped: dict[str, set[str]] = {}

    @property
    def configured(self) -> bool:
        return self._client is not None

    @property
    def default_model(self) -> str:
        return self._default_model

    @property
    def judge_model(self) -> str:
        return self._judge_model or self._default_model

    @property
    def dropped_params(self) -> Mapping[str, frozenset[str]]:
        """Per model, what was learned about it so far: the parameters and response formats it
        rejected, and LOGPROBS_NEED_ALTERNATIVE when it reports logprobs only with one."""
        return MappingProxyType({m: frozenset(p) for m, p in self._dropped.items()})

    def judge_budget(self, tokens: int) -> int:
        """A judge's output budget: its own, or JUDGE_MAX_TOKENS where that is larger."""
        return max(tokens, self._judge_max_tokens or 0)

    def _require_client(self) -> AsyncOpenAI:
        if self._client is None:
            raise LLMError(LLMErrorKind.NOT_CONFIGURED)
        return self._client

    def _drop(self, model: str, name: str) -> None:
        log.warning("model %s rejected %s; not sending it to this model again", model, name)
        self._dropped.setdefault(model, set()).add(name)

    def _learn(self, model: str, name: str) -> None:
        log.info("model %s: %s from now on", model, name)
        self._dropped.setdefault(model, set()).add(name)

    def seed_refused(self, model: str) -> bool:
        """Whether `model` refused the `seed` parameter (it is then sent without one)."""
        return "seed" in self._dropped.get(model, set())

    def length_params(self, model: str, limit: int) -> dict[str, int]:
        """How to send an output limit to `model`: max_completion_tokens, else the older
        max_tokens, else (both rejected) nothing."""
        dropped = self._dropped.get(model, set())
        if "max_completion_tokens" not in dropped:
            return {"max_completion_tokens": limit}
        if "max_tokens" not in dropped:
            return {"max_tokens": limit}
        return {}

    def response_format(
        self, model: str, schema_name: str, schema: dict[str, Any]
    ) -> dict[str, Any] | None:
        """The most constraining response format `model` has not rejected, None for none."""
        dropped = self._dropped.get(model, set())
        if STRING_LENGTHS_REJECTED in dropped:
            schema = without_string_lengths(schema)
        if JSON_SCHEMA_REJECTED not in dropped:
            return {
                "type": "json_schema",
                "json_schema": {"name": schema_name, "schema": schema, "strict": True},
            }
        if JSON_OBJECT_SCHEMA_REJECTED not in dropped:
            return {"type": "json_object", "schema": schema}
        if JSON_OBJECT_REJECTED not in dropped:
            return {"type": "json_object"}
        return None

    async def stream_answer(
        self,
        *,
        messages: Messages,
        sampling: Sampling,
        model: str | None,
        on_text: Callable[[str], Awaitable[None]],
    ) -> Completion:
        """Stream an answer, calling `on_text` with each text delta as it arrives.

        Raises LLMError when nothing could be produced. When the stream breaks after some
        text arrived, that text is returned with `interrupted=True` and the error attached,
        because a partial answer is still worth showing.
        """
        client = self._require_client()
        model_name = model or self._default_model
        params = _message_params(messages)

        for _ in range(_MAX_ATTEMPTS):
            dropped = self._dropped.get(model_name, set())
            length = self.length_params(model_name, sampling.max_tokens)
            sent = {
                name
                for name in ("temperature", "presence_penalty", "logprobs", "stream_options")
                if name not in dropped
            } | set(length)
            # Only the chosen token's probability is used, so no alternatives are asked for
            # (llama-server sends 20 a token unless told otherwise).
            alternatives = 1 if LOGPROBS_NEED_ALTERNATIVE in dropped else 0
            if "logprobs" in sent and "top_logprobs" not in dropped:
                sent.add("top_logprobs")
            started = time.perf_counter()
            try:
                stream = await client.chat.completions.create(
                    model=model_name,
                    messages=params,
                    stream=True,
                    temperature=sampling.temperature if "temperature" in sent else omit,
                    presence_penalty=(
                        sampling.presence_penalty if "presence_penalty" in sent else omit
                    ),
                    max_completion_tokens=length.get("max_completion_tokens", omit),
                    max_tokens=length.get("max_tokens", omit),
                    logprobs=True if "logprobs" in sent else omit,
                    top_logprobs=alternatives if "top_logprobs" in sent else omit,
                    stream_options={"include_usage": True} if "stream_options" in sent else omit,
                )
            except openai.BadRequestError as err:
                name = rejected_param(err, sent)
                if name is None:
                    raise translate_error(err, model=model_name) from err
                self._drop(model_name, name)
                continue
            except (openai.OpenAIError, httpx2.HTTPError) as err:
                raise translate_error(err, model=model_name) from err
            completion = await self._consume(stream, model_name, started, on_text)
            completion = replace(completion, token_limit=next(iter(length.values()), None))
            if (
                "top_logprobs" in sent
                and alternatives == 0
                and completion.confidence is None
                and completion.text
            ):
                self._learn(model_name, LOGPROBS_NEED_ALTERNATIVE)
            return completion
        raise LLMError(LLMErrorKind.BAD_REQUEST)

    async def _consume(
        self,
        stream: openai.AsyncStream[Any],
        model_name: str,
        started: float,
        on_text: Callable[[str], Awaitable[None]],
    ) -> Completion:
        parts: list[str] = []
        logprobs: list[float] = []
        reported_model: str | None = None
        prompt_tokens: int | None = None
        completion_tokens: int | None = None
        finish_reason: str | None = None
        first_text_at: float | None = None
        error: LLMError | None = None
        try:
            async for chunk in stream:
                if reported_model is None and chunk.model:
                    reported_model = chunk.model
                if chunk.usage is not None:
                    prompt_tokens = chunk.usage.prompt_tokens
                    completion_tokens = chunk.usage.completion_tokens
                for choice in chunk.choices:
                    if choice.index != 0:
                        continue
                    if choice.finish_reason:
                        finish_reason = choice.finish_reason
                    if choice.logprobs is not None and choice.logprobs.content:
                        logprobs.extend(t.logprob for t in choice.logprobs.content)
                    delta = choice.delta.content
                    if delta:
                        if first_text_at is None:
                            first_text_at = time.perf_counter()
                        parts.append(delta)
                        await on_text(delta)
        except (openai.OpenAIError, httpx2.HTTPError, json.JSONDecodeError) as err:
            # a malformed chunk (`data: {not json`) breaks the stream like a dropped connection
            error = translate_error(err, model=model_name)
            if not parts:
                raise error from err
            log.warning("stream from %s broke after %d chunks: %s", model_name, len(parts), error)
        finally:
            await stream.close()
        finished = time.perf_counter()
        return Completion(
            text="".join(parts),
            model=reported_model or model_name,
            ttft_ms=None if first_text_at is None else (first_text_at - started) * 1000,
            total_ms=(finished - started) * 1000,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            confidence=sum(math.exp(lp) for lp in logprobs) / len(logprobs) if logprobs else None,
            interrupted=error is not None,
            error=error,
            finish_reason=finish_reason,
        )

    async def complete_json(
        self,
        *,
        messages: Messages,
        schema_name: str,
        schema: dict[str, Any],
        model: str | None,
        max_tokens: int,
        temperature: float = 0.0,
        seed: int | None = None,
    ) -> dict[str, Any]:
        """One non-streamed completion parsed as a JSON object, for judges (and the simulator,
        which passes its own `temperature` and, in A/B tests, a `seed`: a model that refuses
        `seed` is asked again without it and not sent one again, see `seed_refused`).

        Prefers strict json_schema; falls back to json_object with the schema (in the request
        where the server takes it, and in the prompt), then to the prompt alone, remembering per
        model what the server rejected (string lengths in a schema included). Temperature 0
        keeps repeated judgements of the same answer as stable as the model allows. The output
        is always bounded by `max_tokens` (raised to JUDGE_MAX_TOKENS where that is larger): a
        small model asked for JSON can otherwise write until the timeout. A reply cut at that
        limit raises OUTPUT_CUT.

        Retries are done here, not by the client: a timed-out call is asked once more for two
        thirds of the budget (the same temperature-0 request would only time out again), and
        rate limits, 5xx and connection failures are retried as the client would
        (OPENAI_MAX_RETRIES times).
        """
        self._require_client()
        client = self._judge_client
        assert client is not None
        model_name = model or self.judge_model
        budget = self.judge_budget(max_tokens)
        retried_timeout = False
        transient_retries = 0

        for _ in range(_MAX_ATTEMPTS + 1 + self._judge_retries):
            dropped = self._dropped.get(model_name, set())
            response_format = self.response_format(model_name, schema_name, schema)
            prompt = messages
            if response_format is None or response_format["type"] != "json_schema":
                prompt = _with_schema_instruction(messages, schema_name, schema)
            length = self.length_params(model_name, budget)
            sent = ({"temperature"} - dropped) | set(length)
            if seed is not None and "seed" not in dropped:
                sent.add("seed")
            try:
                response = await client.chat.completions.create(
                    model=model_name,
                    messages=_message_params(prompt),
                    temperature=temperature if "temperature" in sent else omit,
                    seed=seed if "seed" in sent else omit,
                    max_completion_tokens=length.get("max_completion_tokens", omit),
                    max_tokens=length.get("max_tokens", omit),
                    response_format=(
                        cast(completion_create_params.ResponseFormat, response_format)
                        if response_format is not None
                        else omit
                    ),
                )
            except openai.BadRequestError as err:
                name = rejected_param(err, sent)
                if name is not None:
                    self._drop(model_name, name)
                    continue
                if (
                    response_format is not None
                    and STRING_LENGTHS_REJECTED not in dropped
                    and _is_string_length_rejection(err)
                ):
                    self._drop(model_name, STRING_LENGTHS_REJECTED)
                    continue
                if response_format is not None and _is_response_format_rejection(err):
                    self._drop(model_name, _rejection_marker(response_format))
                    continue
                raise translate_error(err, model=model_name) from err
            except (openai.OpenAIError, httpx2.HTTPError) as err:
                error = translate_error(err, model=model_name)
                if error.kind is LLMErrorKind.TIMEOUT and not retried_timeout:
                    retried_timeout = True
                    budget = max(1, int(budget * TIMEOUT_RETRY_BUDGET_SHARE))
                    log.warning(
                        "judge %s on model %s timed out; asking once more for %d tokens",
                        schema_name,
                        model_name,
                        budget,
                    )
                    continue
                if error.kind in _TRANSIENT and transient_retries < self._judge_retries:
                    await asyncio.sleep(_backoff_s(error, transient_retries))
                    transient_retries += 1
                    continue
                raise error from err
            if not response.choices:
                raise LLMError(LLMErrorKind.BAD_OUTPUT)
            choice = response.choices[0]
            try:
                return parse_json_object(choice.message.content)
            except LLMError:
                if choice.finish_reason == "length":
                    raise LLMError(LLMErrorKind.OUTPUT_CUT) from None
                raise
        raise LLMError(LLMErrorKind.BAD_REQUEST)


def _rejection_marker(response_format: dict[str, Any]) -> str:
    if response_format["type"] == "json_schema":
        return JSON_SCHEMA_REJECTED
    if "schema" in response_format:
        return JSON_OBJECT_SCHEMA_REJECTED
    return JSON_OBJECT_REJECTED

"""Asking the model endpoint whether it answers, and (for `romashka doctor`) what it supports.
Each probe is one small real request; failures are described in fixed words, never with the
server's text (which can quote request details)."""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import Any, Final

import httpx2
import openai
from openai import AsyncOpenAI

log = logging.getLogger(__name__)

PROBE_TIMEOUT_S: Final = 20.0
NOT_CONFIGURED: Final = "not configured"
PROBE_MESSAGES: Final[list[Any]] = [{"role": "user", "content": "Reply with the single word OK."}]
PROBE_SCHEMA: Final = {
    "type": "object",
    "properties": {"ok": {"type": "boolean"}},
    "required": ["ok"],
    "additionalProperties": False,
}


def describe_failure(exc: BaseException) -> str:
    if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
        return "credentials rejected"
    if isinstance(exc, openai.APITimeoutError | httpx2.TimeoutException):
        return "timed out"
    if isinstance(exc, openai.APIConnectionError | httpx2.HTTPError):
        return "unreachable"
    if isinstance(exc, openai.NotFoundError):
        return "model not found"
    if isinstance(exc, openai.RateLimitError):
        return "rate limited"
    if isinstance(exc, openai.APIStatusError):
        return f"answered HTTP {exc.status_code}"
    return "answered in an unexpected format"


def _quick(client: AsyncOpenAI) -> AsyncOpenAI:
    # one try, soon over: a probe reports, it does not wait for the endpoint to recover
    return client.with_options(timeout=PROBE_TIMEOUT_S, max_retries=0)


async def check_endpoint(client: AsyncOpenAI | None) -> str | None:
    """None when the endpoint answers with our credentials, else what is wrong. Listing the
    models costs no tokens; a server without that route still proved it is there."""
    if client is None:
        return NOT_CONFIGURED
    try:
        await _quick(client).models.list()
    except openai.NotFoundError:
        return None
    except (openai.OpenAIError, httpx2.HTTPError) as exc:
        return describe_failure(exc)
    return None


@dataclass(frozen=True, slots=True)
class Capability:
    name: str
    supported: bool
    # what the app does without it, or why the probe failed
    detail: str


async def _stream(client: AsyncOpenAI, model: str, **extra: Any) -> list[Any]:
    stream = await _quick(client).chat.completions.create(
        model=model, messages=PROBE_MESSAGES, stream=True, **extra
    )
    try:
        return [chunk async for chunk in stream]
    finally:
        await stream.close()


async def _streaming(client: AsyncOpenAI, model: str) -> Capability:
    name = "streaming"
    try:
        chunks = await _stream(client, model)
    except (openai.OpenAIError, httpx2.HTTPError) as exc:
        return Capability(name, False, describe_failure(exc))
    text = any(c.choices and c.choices[0].delta.content for c in chunks)
    return Capability(name, text, "answers appear as they are written" if text else "no text")


async def _usage(client: AsyncOpenAI, model: str) -> Capability:
    name = "usage in the stream"
    without = "token counts show as n/a"
    try:
        chunks = await _stream(client, model, stream_options={"include_usage": True})
    except openai.BadRequestError:
        return Capability(name, False, f"stream_options refused: {without}")
    except (openai.OpenAIError, httpx2.HTTPError) as exc:
        return Capability(name, False, describe_failure(exc))
    found = any(c.usage is not None for c in chunks)
    return Capability(name, found, "token counts are measured" if found else without)


async def _logprobs(client: AsyncOpenAI, model: str) -> Capability:
    name = "logprobs"
    without = "confidence shows as n/a"
    try:
        chunks = await _stream(client, model, logprobs=True)
    except openai.BadRequestError:
        return Capability(name, False, f"logprobs refused: {without}")
    except (openai.OpenAIError, httpx2.HTTPError) as exc:
        return Capability(name, False, describe_failure(exc))
    found = any(ch.logprobs is not None and ch.logprobs.content for c in chunks for ch in c.choices)
    return Capability(name, found, "confidence is measured" if found else without)


async def _json_schema(client: AsyncOpenAI, model: str) -> Capability:
    name = "strict JSON schema"
    without = "judges ask for JSON in the prompt instead, which small models follow less often"
    try:
        response = await _quick(client).chat.completions.create(
            model=model,
            messages=PROBE_MESSAGES,
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "probe", "schema": PROBE_SCHEMA, "strict": True},
            },
        )
    except openai.BadRequestError:
        return Capability(name, False, f"refused: {without}")
    except (openai.OpenAIError, httpx2.HTTPError) as exc:
        return Capability(name, False, describe_failure(exc))
    content = response.choices[0].message.content if response.choices else None
    try:
        parsed = json.loads(content or "")
    except json.JSONDecodeError:
        parsed = None
    if not isinstance(parsed, dict):
        return Capability(name, False, f"accepted but not followed: {without}")
    return Capability(name, True, "judges get schema-checked JSON")


async def probe_capabilities(
    client: AsyncOpenAI, *, model: str, judge_model: str
) -> list[Capability]:
    return list(
        await asyncio.gather(
            _streaming(client, model),
            _usage(client, model),
            _logprobs(client, model),
            _json_schema(client, judge_model),
        )
    )

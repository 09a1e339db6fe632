"""A small OpenAI-compatible chat completions server over real HTTP, for tests.

The real `openai.AsyncOpenAI` client talks to it, so tests exercise the actual request
encoding, SSE parsing, retries and error mapping. Answers depend on the system prompt
(detected through the band texts in bot.persona.personality), so tests can tell profiles apart.

Knobs (set as attributes; reset them per test by making a new server):
- ttft_s, token_interval_s: delays before the first chunk and between chunks
- logprobs_enabled: return logprobs when the request asks for them
- token_logprobs: logprobs given to successive tokens, cycled
- include_usage: send usage (final chunk when stream_options.include_usage, or in the body)
- reported_model: model name to report instead of echoing the requested one
- answer_text: fixed answer instead of the profile-derived one
- failures: queue of Failure for the next requests (see `fail_next`)
- reject_params: parameters answered with an OpenAI-shaped 400 "unsupported_parameter"
- reject_json_schema / reject_json_object: 400 for those response formats
- judge_levels: override perceived levels in judge replies; judge_reply: raw judge text
- output limits: every reply stops at the request's max_completion_tokens / max_tokens with
  finish_reason "length" (answers count word pieces as tokens, JSON replies 3 characters);
  output_limits = False lets a long answer_text through whole
- ramble_answers: answers keep writing (repeating themselves) until their limit, as small
  models often do
- judge_mode "ramble": the judge writes what its response_format constrains it to, and no more
  bounds than that: an array without maxItems keeps growing until the output limit (or
  ramble_max_tokens when the request has none), a string without an enum is free; when not
  constrained, enums, maxItems and "no other keys" are ignored (keys "100", "101"... follow).
  json_schema constrains; json_object constrains only when it carries a "schema" (llama-server,
  vLLM); bare json_object gives JSON that ignores the schema quoted in the prompt. Verdicts
  come from the test's data (ramble_integer, ramble_sentence), never from the product's judging.
- judge_token_s: generation time per token of a judge reply (judges are not streamed)
- response_formats: the response_format types accepted; any other is answered with
  llama-server's 400 ("response_format type must be one of ...")
- reject_format_extras: a response_format with keys beyond its type's (json_object with a
  "schema") is answered with an OpenAI-shaped 400, as api.openai.com does
- reject_string_lengths: a schema with maxLength is answered with OpenAI's strict-mode 400
- llama_logprobs: logprobs as llama-server sends them (20 alternatives a token unless
  top_logprobs says otherwise; none at all for top_logprobs 0)
Every request body is recorded in `requests`, and its timings (time.monotonic) in `timings`
at the same index.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import socket
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Final, Literal, Self

from aiohttp import web

from bot.domain.profile import TRAITS, ResponseStyle
from bot.metrics.proxies import measure
from bot.model.behaviour_judge import BEHAVIOUR_JUDGE_MARKER
from bot.model.llm import SCHEMA_INSTRUCTION
from bot.model.pair_judge import PAIRWISE_JUDGE_MARKER
from bot.model.trait_judge import JUDGE_MARKER
from bot.persona.knowledge import PROMPT_HEADER as KNOWLEDGE_HEADER
from bot.persona.knowledge import key_terms
from bot.persona.personality import STYLE_INSTRUCTIONS, TRAIT_BANDS

FailureKind = Literal[
    "rate_limit",
    "server_error",
    "auth",
    "context_length",
    "hang",
    "disconnect",
    "drop",
    "malformed",
]
# failures that happen inside a streamed body, after `after_chunks` good content chunks
STREAM_FAILURES: Final = frozenset({"disconnect", "malformed"})
MALFORMED_CHUNK: Final = b"data: {not json\n\n"


@dataclass
class Timing:
    """When a request arrived and when its first and last content chunks were written (streamed
    requests only), on the time.monotonic clock that FakeSlack's `Call.at` also uses."""

    received_at: float
    first_chunk_at: float | None = None
    last_chunk_at: float | None = None


@dataclass(frozen=True)
class Failure:
    kind: FailureKind
    # disconnect / malformed: content chunks sent before the connection is cut / before a chunk
    # that is not JSON (`data: {not json`) is sent.
    after_chunks: int = 0
    # rate_limit: retry-after header values. The openai client ignores "retry-after: 0" and
    # backs off 0.5 s, but honours a positive retry-after-ms, so 10 ms keeps retries fast.
    retry_after: str | None = "0"
    retry_after_ms: str | None = "10"


TECH_TERMS = ("OAuth 2.0", "HTTP 401", "API", "TTL", "SSO", "endpoint", "token", "cache")
EMPATHY_PHRASES = ("frustrating", "sorry", "understand", "inconvenience", "patience")


def detect_band(trait: str, system_prompt: str) -> int:
    for index, text in enumerate(TRAIT_BANDS[trait]):
        if text in system_prompt:
            return index
    return 2


def detect_style(system_prompt: str) -> ResponseStyle:
    for style, text in STYLE_INSTRUCTIONS.items():
        if text in system_prompt:
            return style
    return ResponseStyle.CONVERSATIONAL


def profile_answer(system_prompt: str) -> str:
    """A password-reset answer whose wording follows the bands found in the prompt."""
    formality = detect_band("formality", system_prompt)
    enthusiasm = detect_band("enthusiasm", system_prompt)
    depth = detect_band("technical_depth", system_prompt)
    empathy = detect_band("empathy", system_prompt)
    style = detect_style(system_prompt)
    casual = formality <= 1
    excited = enthusiasm >= 3
    end = "!" if excited else "."

    sentences: list[str] = []
    if empathy >= 3:
        sentences.append(
            "I'm so sorry, I understand how frustrating it is to be locked out"
            if casual
            else "I am sorry for the inconvenience, and I understand how frustrating this is"
        )
    if depth >= 3:
        sentences.append(
            "Your SSO session token expired, so the OAuth 2.0 endpoint returns HTTP 401 "
            "until the cache TTL runs out"
        )
    sentences.append(
        "You'll get a reset link if you click Forgot password on the sign-in page"
        if casual
        else "Please select Forgot password on the sign-in page to receive a reset link"
    )
    if style is not ResponseStyle.CONCISE:
        sentences.append(
            "It's usually there within a minute, so check your spam folder if you don't see it"
            if casual
            else "The message normally arrives within one minute; please check the spam folder "
            "if it does not appear"
        )
    if style is ResponseStyle.DETAILED:
        sentences.extend(
            [
                "The link remains valid for twenty-four hours and can be used only once",
                "After opening it, choose a new password of at least twelve characters",
                "All other devices are signed out automatically once the password changes",
                "If the message still does not arrive, verify that the address on file is "
                "correct in the account settings",
                "Should the problem persist, our support team can trigger the reset manually",
            ]
        )
    if style is ResponseStyle.CONVERSATIONAL:
        sentences.append("Did that help" if casual else "Does that resolve the issue")
    text = " ".join(s + ("?" if s.startswith(("Did", "Does")) else end) for s in sentences)
    if excited:
        text = ("Great question! " if casual else "Excellent question! ") + text + " 🎉"
    return text


def heuristic_levels(answer: str) -> dict[str, int]:
    """Perceived levels a crude judge would give; good enough to tell profiles apart."""
    p = measure(answer)
    exclamations = p.exclamations_per_sentence or 0.0
    contractions = p.contractions_per_100_words or 0.0
    lowered = answer.lower()
    tech_hits = sum(1 for term in TECH_TERMS if term.lower() in lowered)
    empathy_hits = sum(1 for phrase in EMPATHY_PHRASES if phrase in lowered)

    def clamp(value: float) -> int:
        return max(0, min(100, round(value)))

    return {
        "formality": clamp(80 - 12 * contractions),
        "enthusiasm": clamp(20 + 60 * exclamations + 15 * p.emoji_count),
        "technical_depth": clamp(15 + 12 * tech_hits),
        "empathy": clamp(15 + 20 * empathy_hits),
    }


def _error_body(message: str, type_: str, param: str | None, code: str | None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def _words(text: str) -> list[str]:
    # Split into word-sized deltas keeping the spaces, like a tokenizer would.
    return re.findall(r"\S+\s*|\s+", text)


# JSON is made of short tokens (quotes, braces, keys); small models' tokenizers average about
# three characters a token on it.
JSON_CHARS_PER_TOKEN = 3


def _output_limit(body: dict[str, Any]) -> int | None:
    limit = body.get("max_completion_tokens", body.get("max_tokens"))
    return int(limit) if limit is not None else None


def _bounded(fragments: Iterator[str], max_chars: int) -> tuple[str, bool]:
    """The text of `fragments` up to `max_chars`, and whether it was cut there."""
    out: list[str] = []
    size = 0
    for fragment in fragments:
        if size + len(fragment) > max_chars:
            out.append(fragment[: max_chars - size])
            return "".join(out), True
        out.append(fragment)
        size += len(fragment)
    return "".join(out), False


def _prompt_schema(body: dict[str, Any]) -> dict[str, Any] | None:
    """The JSON schema quoted in a prompt after SCHEMA_INSTRUCTION, if any."""
    for m in body.get("messages", []):
        content = str(m.get("content", ""))
        if SCHEMA_INSTRUCTION in content:
            quoted = content.split(SCHEMA_INSTRUCTION, 1)[1].split(":\n", 1)[-1]
            try:
                found: dict[str, Any] = json.JSONDecoder().raw_decode(quoted)[0]
            except ValueError:
                return None
            return found
    return None


class Rambler:
    """Writes JSON in a schema's shape as a small model does under (or without) a grammar:
    every bound the grammar enforces is kept, nothing else. Values come from the test's data."""

    def __init__(self, *, constrained: bool, integer: int, sentence: str) -> None:
        self.constrained = constrained
        self.integer = integer
        self.sentence = sentence

    def value(self, schema: dict[str, Any], index: int = 0) -> Iterator[str]:
        kind = schema.get("type")
        if kind == "object":
            properties = schema.get("properties", {})
            yield "{"
            for n, (key, sub) in enumerate(properties.items()):
                yield ("" if n == 0 else ", ") + json.dumps(key) + ": "
                yield from self.value(sub, index)
            if not self.constrained and properties:
                # "no other keys" is a bound too: unconstrained, the model adds keys of its own
                first = next(iter(properties.values()))
                for n in itertools.count():
                    yield f", {json.dumps(str(100 + n))}: "
                    yield from self.value(first, n)
            yield "}"
        elif kind == "array":
            bound = schema.get("maxItems") if self.constrained else None
            yield "["
            for n in itertools.count() if bound is None else range(int(bound)):
                yield "" if n == 0 else ", "
                yield from self.value(schema.get("items", {}), n)
            yield "]"
        elif kind in ("integer", "number"):
            value = self.integer
            if self.constrained:
                value = max(schema.get("minimum", value), min(schema.get("maximum", value), value))
            yield str(value)
        elif kind == "boolean":
            yield "true"
        else:
            enum = schema.get("enum")
            if enum and self.constrained:
                yield json.dumps(enum[index % len(enum)])
            elif enum:
                yield json.dumps(str(100 + index))  # a name of its own, as small models do
            else:
                yield from self.text(schema.get("maxLength") if self.constrained else None)

    def text(self, max_length: int | None) -> Iterator[str]:
        """Free text, written until its maxLength (or, without one, for ever)."""
        words = itertools.cycle(f"{self.sentence}, and ".split(" "))
        yield '"'
        written = 0
        for word in words:
            piece = word if written == 0 else " " + word
            if max_length is not None and written + len(piece) > max_length:
                break
            written += len(piece)
            yield json.dumps(piece)[1:-1]
        yield '"'


def _knowledge_lines(text: str) -> list[tuple[str, str]]:
    return [(m[1], m[2]) for m in re.finditer(r"^\[([A-Z][0-9]*)\] (.+)$", text, re.MULTILINE)]


def _body(line: str) -> str:
    """The answer part of an FAQ line, or the text after a label such as "Policy: "."""
    if " / A: " in line:
        return line.split(" / A: ", 1)[1].strip()
    return line.split(": ", 1)[-1].strip()


def _best_item(section: str, question: str) -> str | None:
    words = key_terms(question)
    scored = [
        (len(words & key_terms(text)), text)
        for ref, text in _knowledge_lines(section)
        if ref[0] in "FP"
    ]
    best = max(scored, default=(0, ""))
    return best[1] if best[0] > 0 else None


class FakeOpenAI:
    def __init__(self) -> None:
        self.ttft_s = 0.0
        self.token_interval_s = 0.0
        self.logprobs_enabled = True
        self.token_logprobs: list[float] = [-0.1]
        self.include_usage = True
        self.reported_model: str | None = None
        self.answer_text: str | None = None
        self.failures: deque[Failure] = deque()
        self.reject_params: set[str] = set()
        self.reject_json_schema = False
        self.reject_json_object = False
        self.judge_levels: dict[str, int] | None = None
        self.judge_reply: str | None = None
        self.requests: list[dict[str, Any]] = []
        self.timings: list[Timing] = []
        # behaviour judge: score per behaviour name (default 80, a pass)
        self.behaviour_scores: dict[str, int] = {}
        # judge requests are not streamed, so ttft_s does not apply: this is their latency
        self.judge_delay_s = 0.0
        # answers quote the knowledge item that best matches the question (off by default so
        # the style fixtures stay exactly as written); the judge then names it as a source
        self.use_knowledge = False
        # refs the trait judge names as sources on top of the ones the answer quotes
        self.extra_sources: list[str] = []
        # pairwise judge: "longer" prefers the longer reply (consistent in both orders),
        # "first" always prefers reply 1 (pure position bias), "tie" calls it even
        self.pairwise_mode = "longer"
        # small-model behaviours (see the module docstring)
        # answers stop at the request's output limit, as every server does; False hands a long
        # answer_text over whole, for tests of what a very long answer does to Slack
        self.output_limits = True
        self.ramble_answers = False
        self.judge_mode: Literal["scripted", "ramble"] = "scripted"
        self.ramble_integer = 80
        self.ramble_sentence = "the reply addresses the customer's message"
        # a server's own cap when a request has no output limit (llama-server: the context)
        self.ramble_max_tokens = 4096
        self.judge_token_s = 0.0
        self.response_formats: set[str] = {"text", "json_object", "json_schema"}
        # logprobs as llama-server sends them: 20 alternatives a token unless top_logprobs says
        # otherwise, and none at all for top_logprobs 0
        self.llama_logprobs = False
        self.reject_format_extras = False
        # OpenAI-shaped 400 for a schema holding maxLength/minLength (strict mode's refusal)
        self.reject_string_lengths = False
        # answer requests being served right now, and the most at once
        self.in_flight = 0
        self.max_in_flight = 0
        self.model_list_requests = 0
        self._runner: web.AppRunner | None = None
        self._port = 0
        self._stopping = asyncio.Event()

    # -- lifecycle ---------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        if not self._port:
            raise RuntimeError("FakeOpenAI is not started")
        return f"http://127.0.0.1:{self._port}/v1"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat_completions)
        app.router.add_get("/v1/models", self._models)
        self._runner = web.AppRunner(app, shutdown_timeout=0.5, handle_signals=False)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self._port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()

    async def stop(self) -> None:
        self._stopping.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def fail_next(self, *failures: FailureKind | Failure) -> None:
        for f in failures:
            self.failures.append(f if isinstance(f, Failure) else Failure(f))

    # -- request handling --------------------------------------------------------------

    def is_judge_request(self, body: dict[str, Any]) -> bool:
        if body.get("response_format"):
            return True
        return any(
            JUDGE_MARKER in content or SCHEMA_INSTRUCTION in content
            for content in (str(m.get("content", "")) for m in body.get("messages", []))
        )

    async def _models(self, request: web.Request) -> web.StreamResponse:
        """The model list; the next queued failure applies here as to a completion."""
        self.model_list_requests += 1
        failure = self.failures.popleft() if self.failures else None
        if failure is not None:
            return await self._fail(request, failure)
        model = {"id": "fake-model", "object": "model", "created": 0, "owned_by": "fake"}
        return web.json_response({"object": "list", "data": [model]})

    async def _chat_completions(self, request: web.Request) -> web.StreamResponse:
        body: dict[str, Any] = await request.json()
        if self.is_judge_request(body):
            if self.judge_delay_s:
                await asyncio.sleep(self.judge_delay_s)
            return await self._serve(request, body)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return await self._serve(request, body)
        finally:
            self.in_flight -= 1

    async def _serve(self, request: web.Request, body: dict[str, Any]) -> web.StreamResponse:
        timing = Timing(received_at=time.monotonic())
        self.requests.append(body)
        self.timings.append(timing)
        failure = self.failures.popleft() if self.failures else None

        if failure is not None and failure.kind not in STREAM_FAILURES:
            return await self._fail(request, failure)
        for name in sorted(self.reject_params):
            if name in body:
                return web.json_response(
                    _error_body(
                        f"Unsupported parameter: '{name}' is not supported with this model.",
                        "invalid_request_error",
                        name,
                        "unsupported_parameter",
                    ),
                    status=400,
                )
        rejected = self._format_rejection(body.get("response_format") or {})
        if rejected is not None:
            return rejected

        if self.is_judge_request(body):
            text, finish = self._judge_reply(body)
            tokens = -(-len(text) // JSON_CHARS_PER_TOKEN)
            if self.judge_token_s:
                await asyncio.sleep(tokens * self.judge_token_s)
        else:
            text, finish = self._limited_answer(body)
        if body.get("stream"):
            return await self._stream(request, body, text, failure, timing, finish)
        return web.json_response(self._completion(body, text, finish))

    def _format_rejection(self, response_format: dict[str, Any]) -> web.Response | None:
        fmt = response_format.get("type")
        if fmt is None:
            return None
        if (fmt == "json_schema" and self.reject_json_schema) or (
            fmt == "json_object" and self.reject_json_object
        ):
            return web.json_response(
                _error_body(
                    f"Invalid parameter: 'response_format' of type '{fmt}' is not supported "
                    "with this model.",
                    "invalid_request_error",
                    "response_format",
                    None,
                ),
                status=400,
            )
        if fmt not in self.response_formats:
            # llama-server's words and body shape (tools/server/server-common.cpp)
            message = 'response_format type must be one of "text" or "json_object", but got: ' + fmt
            return web.json_response(
                {"error": {"code": 400, "message": message, "type": "invalid_request_error"}},
                status=400,
            )
        schema = response_format.get("schema") or response_format.get("json_schema", {}).get(
            "schema"
        )
        if self.reject_string_lengths and "maxLength" in json.dumps(schema or {}):
            return web.json_response(
                _error_body(
                    "Invalid schema for response_format 'judge': In context=('properties', "
                    "'reason'), 'maxLength' is not permitted.",
                    "invalid_request_error",
                    "response_format",
                    None,
                ),
                status=400,
            )
        extras = set(response_format) - {"type", "json_schema"}
        if self.reject_format_extras and extras:
            name = sorted(extras)[0]
            return web.json_response(
                _error_body(
                    f"Unknown parameter: 'response_format.{name}'.",
                    "invalid_request_error",
                    f"response_format.{name}",
                    "unknown_parameter",
                ),
                status=400,
            )
        return None

    def _limited_answer(self, body: dict[str, Any]) -> tuple[str, str]:
        """The answer, cut at the request's output limit (word pieces as tokens)."""
        text = self._answer(body)
        limit = _output_limit(body) if self.output_limits else None
        pieces = _words(text)
        if self.ramble_answers and pieces:
            cap = limit if limit is not None else self.ramble_max_tokens
            # one space between repeats, so that the pieces stay the stream's pieces
            again = _words(text.rstrip() + " ")
            pieces = list(itertools.islice(itertools.cycle(again), cap + 1))
        if limit is not None and len(pieces) > limit:
            return "".join(pieces[:limit]), "length"
        if self.ramble_answers:
            return "".join(pieces[: self.ramble_max_tokens]), "length"
        return "".join(pieces), "stop"

    def _judge_reply(self, body: dict[str, Any]) -> tuple[str, str]:
        limit = _output_limit(body)
        max_chars = JSON_CHARS_PER_TOKEN * (limit if limit is not None else self.ramble_max_tokens)
        if self.judge_mode == "ramble":
            fragments = self._ramble(body)
        else:
            fragments = iter([self._judge_text(body)])
        text, cut = _bounded(fragments, max_chars)
        return text, "length" if cut else "stop"

    def _ramble(self, body: dict[str, Any]) -> Iterator[str]:
        response_format = body.get("response_format") or {}
        fmt = response_format.get("type")
        schema: dict[str, Any] | None = None
        if fmt == "json_schema":
            schema = response_format.get("json_schema", {}).get("schema")
        elif fmt == "json_object" and "schema" in response_format:
            schema = response_format["schema"]
        constrained = schema is not None
        if schema is None:
            schema = _prompt_schema(body) or {
                "type": "object",
                "properties": {"notes": {"type": "array", "items": {"type": "string"}}},
            }
        rambler = Rambler(
            constrained=constrained, integer=self.ramble_integer, sentence=self.ramble_sentence
        )
        return rambler.value(schema)

    async def _fail(self, request: web.Request, failure: Failure) -> web.StreamResponse:
        if failure.kind == "rate_limit":
            headers = {}
            if failure.retry_after is not None:
                headers["retry-after"] = failure.retry_after
            if failure.retry_after_ms is not None:
                headers["retry-after-ms"] = failure.retry_after_ms
            return web.json_response(
                _error_body(
                    "Rate limit reached for requests. Please try again later.",
                    "requests",
                    None,
                    "rate_limit_exceeded",
                ),
                status=429,
                headers=headers,
            )
        if failure.kind == "server_error":
            return web.json_response(
                _error_body(
                    "The server had an error while processing your request.",
                    "server_error",
                    None,
                    None,
                ),
                status=500,
            )
        if failure.kind == "auth":
            # Echo the key like a careless server would, so tests can prove it never
            # reaches a user-facing message.
            key = request.headers.get("Authorization", "").removeprefix("Bearer ")
            return web.json_response(
                _error_body(
                    f"Incorrect API key provided: {key}.",
                    "invalid_request_error",
                    None,
                    "invalid_api_key",
                ),
                status=401,
            )
        if failure.kind == "context_length":
            return web.json_response(
                _error_body(
                    "This model's maximum context length is 8192 tokens. However, your "
                    "messages resulted in 9100 tokens. Please reduce the length of the "
                    "messages.",
                    "invalid_request_error",
                    "messages",
                    "context_length_exceeded",
                ),
                status=400,
            )
        if failure.kind == "hang":
            await self._stopping.wait()
            return web.Response(status=503)
        # "drop": close the connection without any response.
        if request.transport is not None:
            request.transport.abort()
        return web.Response(status=500)

    def _answer(self, body: dict[str, Any]) -> str:
        if self.answer_text is not None:
            return self.answer_text
        system = "\n".join(
            str(m.get("content", "")) for m in body.get("messages", []) if m.get("role") == "system"
        )
        text = profile_answer(system)
        if self.use_knowledge and KNOWLEDGE_HEADER in system:
            question = str(body["messages"][-1].get("content", ""))
            best = _best_item(system.split(KNOWLEDGE_HEADER, 1)[1], question)
            if best is not None:
                text += f" {_body(best)}"
        return text

    def _judge_text(self, body: dict[str, Any]) -> str:
        if self.judge_reply is not None:
            return self.judge_reply
        if any(BEHAVIOUR_JUDGE_MARKER in str(m.get("content", "")) for m in body["messages"]):
            return self._behaviour_text(body)
        if any(PAIRWISE_JUDGE_MARKER in str(m.get("content", "")) for m in body["messages"]):
            return self._pairwise_text(body)
        # Only user messages: the judge's system prompt mentions the tags too.
        prompt = "\n".join(
            str(m.get("content", "")) for m in body.get("messages", []) if m.get("role") == "user"
        )
        match = re.search(r"<answer>\n?(.*?)\n?</answer>", prompt, re.DOTALL)
        levels = heuristic_levels(match.group(1) if match else "")
        if self.judge_levels is not None:
            levels.update(self.judge_levels)
        reply: dict[str, Any] = {
            trait: {"level": levels[trait], "reason": f"Heuristic rating of {trait}."}
            for trait in TRAITS
        }
        reply["suggestions"] = ["Shorten the greeting.", "Name the exact menu item."]
        listed = re.search(r"<knowledge>\n?(.*?)\n?</knowledge>", prompt, re.DOTALL)
        if listed:
            answer = match.group(1) if match else ""
            quoted = [
                ref
                for ref, text in _knowledge_lines(listed.group(1))
                if _body(text) and _body(text) in answer
            ]
            reply["sources"] = quoted + self.extra_sources
        return json.dumps(reply)

    def _pairwise_text(self, body: dict[str, Any]) -> str:
        prompt = str(body["messages"][-1].get("content", ""))
        first = re.search(r"<reply_1>\n?(.*?)\n?</reply_1>", prompt, re.DOTALL)
        second = re.search(r"<reply_2>\n?(.*?)\n?</reply_2>", prompt, re.DOTALL)
        len1 = len(first.group(1)) if first else 0
        len2 = len(second.group(1)) if second else 0
        if self.pairwise_mode == "first":
            better = "1"
        elif self.pairwise_mode == "tie" or len1 == len2:
            better = "tie"
        else:
            better = "1" if len1 > len2 else "2"
        return json.dumps({"better": better, "reason": "it answers more completely"})

    def _behaviour_text(self, body: dict[str, Any]) -> str:
        prompt = "\n".join(
            str(m.get("content", "")) for m in body.get("messages", []) if m.get("role") == "user"
        )
        listed = prompt.split("Expected behaviours:\n", 1)[-1].split("\n\n", 1)[0]
        names = [line[2:] for line in listed.splitlines() if line.startswith("- ")]
        # one entry per behaviour, keyed by its name, as the judge's schema asks
        verdicts = {
            name: {
                "score": self.behaviour_scores.get(name, 80),
                "reason": f"the reply is {name} enough in tone and content",
            }
            for name in names
        }
        return json.dumps(verdicts)

    def _model(self, body: dict[str, Any]) -> str:
        return self.reported_model or str(body.get("model", "fake-model"))

    def _usage(self, body: dict[str, Any], pieces: int) -> dict[str, int]:
        prompt_chars = sum(len(str(m.get("content", ""))) for m in body.get("messages", []))
        prompt_tokens = max(1, prompt_chars // 4)
        return {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": pieces,
            "total_tokens": prompt_tokens + pieces,
        }

    def _alternatives(self, body: dict[str, Any]) -> int | None:
        """How many alternatives a token's logprobs carry; None for no logprobs at all."""
        if not body.get("logprobs") or not self.logprobs_enabled:
            return None
        asked = body.get("top_logprobs")
        if not self.llama_logprobs:
            return int(asked or 0)
        # llama-server: 20 unless told, and nothing at all when told 0
        n = 20 if asked is None else int(asked)
        return n or None

    def _logprobs(self, pieces: list[str], start: int = 0, alternatives: int = 0) -> dict[str, Any]:
        values = self.token_logprobs

        def entry(p: str, value: float) -> dict[str, Any]:
            return {"token": p, "logprob": value, "bytes": list(p.encode())}

        return {
            "content": [
                {
                    **entry(p, values[(start + i) % len(values)]),
                    "top_logprobs": [entry(p, -1.0 - k) for k in range(alternatives)],
                }
                for i, p in enumerate(pieces)
            ],
            "refusal": None,
        }

    def _completion(self, body: dict[str, Any], text: str, finish: str) -> dict[str, Any]:
        pieces = _words(text)
        alternatives = self._alternatives(body)
        result: dict[str, Any] = {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self._model(body),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text, "refusal": None},
                    "logprobs": None
                    if alternatives is None
                    else self._logprobs(pieces, 0, alternatives),
                    "finish_reason": finish,
                }
            ],
        }
        if self.include_usage:
            result["usage"] = self._usage(body, len(pieces))
        return result

    async def _stream(
        self,
        request: web.Request,
        body: dict[str, Any],
        text: str,
        failure: Failure | None,
        timing: Timing | None = None,
        finish: str = "stop",
    ) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        model = self._model(body)
        alternatives = self._alternatives(body)
        pieces = _words(text)

        def chunk(
            delta: dict[str, Any], finish: str | None, logprobs: dict[str, Any] | None
        ) -> bytes:
            data = {
                "id": "chatcmpl-fake",
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": model,
                "choices": [
                    {"index": 0, "delta": delta, "logprobs": logprobs, "finish_reason": finish}
                ],
            }
            return f"data: {json.dumps(data)}\n\n".encode()

        await response.write(chunk({"role": "assistant", "content": ""}, None, None))
        if self.ttft_s:
            await asyncio.sleep(self.ttft_s)
        for index, piece in enumerate(pieces):
            if failure is not None and index >= failure.after_chunks:
                if failure.kind == "malformed":
                    # a chunk a buggy proxy or server mangled; the stream then ends normally
                    await response.write(MALFORMED_CHUNK)
                    await response.write(b"data: [DONE]\n\n")
                    await response.write_eof()
                    return response
                # Cut the TCP connection mid-body, as a crashed proxy or server would.
                if request.transport is not None:
                    request.transport.abort()
                return response
            if index and self.token_interval_s:
                await asyncio.sleep(self.token_interval_s)
            logprobs = (
                None if alternatives is None else self._logprobs([piece], index, alternatives)
            )
            await response.write(chunk({"content": piece}, None, logprobs))
            if timing is not None:
                timing.last_chunk_at = time.monotonic()
                if index == 0:
                    timing.first_chunk_at = timing.last_chunk_at
        await response.write(chunk({}, finish, None))
        options = body.get("stream_options") or {}
        if self.include_usage and options.get("include_usage"):
            usage_chunk = {
                "id": "chatcmpl-fake",
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": model,
                "choices": [],
                "usage": self._usage(body, len(pieces)),
            }
            await response.write(f"data: {json.dumps(usage_chunk)}\n\n".encode())
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response

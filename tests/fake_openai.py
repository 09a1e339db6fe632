"""A small OpenAI-compatible chat completions server over real HTTP, for tests.

The real `openai.AsyncOpenAI` client talks to it, so tests exercise the actual request
encoding, SSE parsing, retries and error mapping. It is built from nothing of the product's
(tests/test_fakes.py checks): answers are written in the fake's own words from
how its own cue words in the system prompt make it lean (`read_cues`, `write_answer`), and judge
requests are recognised by their shape (a response_format, or a JSON schema quoted in the
prompt) and answered in that schema's shape by the fake judge's own rules (`rate`, `_fill`).

Knobs (set as attributes; reset them per test by making a new server):
- ttft_s, token_interval_s: delays before the first chunk and between chunks
- logprobs_enabled: return logprobs when the request asks for them
- token_logprobs: logprobs given to successive tokens, cycled
- include_usage: send usage (final chunk when stream_options.include_usage, or in the body)
- reported_model: model name to report instead of echoing the requested one
- answer_text: fixed answer instead of the one written from the prompt
- leaning: the function from system prompt to Leaning that answers are written from
  (default read_cues); a test can put a hidden function of its own there
- failures: queue of Failure for the next requests (see `fail_next`)
- reject_params: parameters answered with an OpenAI-shaped 400 "unsupported_parameter"
  (`seed` is otherwise accepted and recorded in `requests`, as OpenAI does; replies do not
  depend on it, a test's json_hook may)
- reject_json_schema / reject_json_object: 400 for those response formats
- judge_levels: override perceived levels in judge replies; judge_reply: raw judge text
- json_hook: a function of the request body that may answer a JSON request itself (its text),
  or None to leave it to the fake judge; a test recognises its request by the schema's name
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
import math
import re
import socket
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Final, Literal, Self

from aiohttp import web

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


# -- the fake model's own voice ---------------------------------------------------------------
#
# The fake reads a system prompt the way a small instruction-following model does: by the words
# it recognises, with no knowledge of how the product builds its prompts. Each leaning below is
# pulled up by some cue words and down by others, anywhere in the system messages (a custom
# instruction "be formal" counts as much as the product's own wording). Negation is not
# understood ("no slang" still mentions slang), as with small models. The leanings are
# continuous (0..1, 0.5 for a prompt without cues), and the answer follows them: the share of
# sentences in casual wording, of sentences ending in "!", how many technical and empathetic
# sentences and steps it writes. A test can replace `FakeOpenAI.leaning` with its own function
# of the prompt (for example a hidden continuous function of trait values it knows), and the
# answer follows that instead.

# leaning: (cue stems that pull it up, cue stems that pull it down). A stem matches a word that
# starts with it; a stem with a space or hyphen matches that phrase.
CUES: Final[dict[str, tuple[tuple[str, ...], tuple[str, ...]]]] = {
    "formal": (
        (
            "formal",
            "professional",
            "polished",
            "business",
            "courteous",
            "respectful",
            "complete",
            "careful",
        ),
        ("casual", "informal", "relaxed", "friendly", "colleague", "slang", "chat"),
    ),
    "lively": (
        ("enthusias", "energ", "excite", "upbeat", "celebrat", "lively"),
        ("calm", "matter-of-fact", "reserved", "understated", "evenly", "flat"),
    ),
    "technical": (
        (
            "technically",
            "terminolog",
            "precise",
            "exact",
            "expert",
            "protocol",
            "api",
            "error code",
            "config",
            "root cause",
            "specific",
        ),
        ("everyday", "non-technical", "plain", "layman"),
    ),
    "caring": (
        (
            "empath",
            "feeling",
            "frustrat",
            "understanding",
            "acknowledg",
            "warm",
            "reassur",
            "patience",
            "validat",
            "sincere",
            "concern",
        ),
        ("strictly", "solution", "straight", "focus"),
    ),
    "long": (
        ("detailed", "thorough", "step-by-step", "reasons", "in depth"),
        ("concise", "short", "terse"),
    ),
    "chatty": (
        ("conversational", "back-and-forth", "natural", "check whether", "checking whether"),
        ("no questions",),
    ),
}
# how far one cue moves a leaning: 0.5 + 0.5 * tanh(CUE_WEIGHT * (up - down))
CUE_WEIGHT: Final = 0.25


@dataclass(frozen=True)
class Leaning:
    """How the fake model leans for one prompt, each 0..1 (0.5: no pull either way)."""

    formal: float = 0.5
    lively: float = 0.5
    technical: float = 0.5
    caring: float = 0.5
    long: float = 0.5
    chatty: float = 0.5


def _cue_count(stems: tuple[str, ...], text: str) -> int:
    return sum(len(re.findall(r"(?<![\w-])" + re.escape(stem), text)) for stem in stems)


def read_cues(system_prompt: str) -> Leaning:
    """The fake model's own reading of a system prompt (see CUES)."""
    text = system_prompt.lower()
    values = {
        name: 0.5 + 0.5 * math.tanh(CUE_WEIGHT * (_cue_count(up, text) - _cue_count(down, text)))
        for name, (up, down) in CUES.items()
    }
    return Leaning(**values)


def _share(value: float) -> float:
    """How far past neutral a leaning goes, 0..1 (nothing at or below 0.5)."""
    return max(0.0, min(1.0, 2 * value - 1))


# (casual wording, formal wording) of the sentences that answer a locked-out customer
_STEPS: Final[tuple[tuple[str, str], ...]] = (
    (
        "You'll get a reset link if you click Forgot password on the sign-in page",
        "Please select Forgot password on the sign-in page to receive a reset link",
    ),
    (
        "It's usually there within a minute, so check your spam folder if you don't see it",
        "The message normally arrives within one minute; please check the spam folder if it "
        "does not appear",
    ),
    (
        "The link's good for a day and you can only use it once",
        "The link remains valid for twenty-four hours and can be used only once",
    ),
    (
        "Once it's open, pick a new password that's at least twelve characters",
        "After opening it, choose a new password of at least twelve characters",
    ),
    (
        "We'll sign out your other devices once the password's changed",
        "All other devices are signed out automatically once the password changes",
    ),
    (
        "If it still doesn't show up, make sure the address in your account settings is right",
        "If the message still does not arrive, verify that the address on file is correct in "
        "the account settings",
    ),
    (
        "If that doesn't work either, our support team can reset it for you",
        "Should the problem persist, our support team can trigger the reset manually",
    ),
)
_EMPATHY: Final[tuple[tuple[str, str], ...]] = (
    (
        "I'm so sorry, I understand how frustrating it is to be locked out",
        "I am sorry for the inconvenience, and I understand how frustrating this is",
    ),
    (
        "Thanks for your patience, we'll get you back in",
        "Thank you for your patience; we will restore your access",
    ),
)
_TECHNICAL: Final[tuple[tuple[str, str], ...]] = (
    (
        "Your SSO session token's expired, so the OAuth 2.0 endpoint returns HTTP 401",
        "Your SSO session token expired, so the OAuth 2.0 endpoint returns HTTP 401",
    ),
    (
        "That'll last until the cache TTL runs out, about 15 minutes",
        "This persists until the cache TTL expires, after approximately 15 minutes",
    ),
    (
        "The API's logging it as error code AUTH_EXPIRED in the audit config",
        "The API records it as error code AUTH_EXPIRED in the audit configuration",
    ),
)
_CHECK_IN: Final = ("Did that help", "Does that resolve the issue")
_EMOJI: Final = ("🎉", "🙌")


def write_answer(leaning: Leaning) -> str:
    """A password-reset answer in the voice `leaning` describes (the fake's own wording)."""
    sentences: list[tuple[str, str]] = []
    sentences += _EMPATHY[: round(len(_EMPATHY) * _share(leaning.caring))]
    sentences += _TECHNICAL[: round(len(_TECHNICAL) * _share(leaning.technical))]
    # one step for a brief answer, all of them for a long one
    steps = 1 + round((len(_STEPS) - 1) * max(0.0, min(1.0, (leaning.long - 0.3) / 0.6)))
    sentences += _STEPS[:steps]
    # all casual up to a formal leaning of 0.25, none from 0.75
    casual_share = max(0.0, min(1.0, (0.75 - leaning.formal) / 0.5))
    exclaim_share = _share(leaning.lively)
    out: list[str] = []
    for index, (casual, formal) in enumerate(sentences):
        position = (index + 0.5) / len(sentences)
        end = "!" if position < exclaim_share else "."
        out.append((casual if position < casual_share else formal) + end)
    if leaning.chatty > 0.6:
        out.append((_CHECK_IN[0] if casual_share > 0.5 else _CHECK_IN[1]) + "?")
    if exclaim_share > 0.6:
        out.insert(0, "Great question!" if casual_share > 0.5 else "Excellent question!")
    emoji = _EMOJI[: round(len(_EMOJI) * exclaim_share)]
    return " ".join(out + list(emoji))


def answer_for(system_prompt: str) -> str:
    """What the fake model answers under `system_prompt` by default (without knowledge)."""
    return write_answer(read_cues(system_prompt))


# -- the fake judge's own rules ----------------------------------------------------------------
#
# The judge rates what it reads in the answer with its own word lists, never the product's
# measures: the rating of a trait is a baseline plus a fixed amount per marker found.

CONTRACTION: Final = re.compile(r"\b\w+'(?:s|re|ll|t|ve|d|m)\b", re.IGNORECASE)
UPBEAT_WORDS: Final = ("great", "excellent", "awesome", "happy", "love")
TECH_TERMS: Final = (
    "oauth",
    "http",
    "api",
    "ttl",
    "sso",
    "endpoint",
    "token",
    "cache",
    "error code",
)
EMPATHY_PHRASES: Final = ("frustrating", "sorry", "understand", "inconvenience", "patience")
EMOJI: Final = re.compile("[\U0001f300-\U0001faff\u2600-\u27bf]")


def _sentences(answer: str) -> int:
    return max(1, len(re.findall(r"[.!?]+(?:\s|$)", answer)))


def _clamp(value: float) -> int:
    return max(0, min(100, round(value)))


def rate(answer: str) -> dict[str, int]:
    """The fake judge's levels for an answer: its own markers, counted.

    formality: 85, less 60 for each contraction per sentence; enthusiasm: 15, plus 40 per "!"
    per sentence, 15 per emoji and 10 per upbeat word; technical_depth: 10 plus 12 per
    technical term; empathy: 10 plus 18 per empathy phrase. Each clamped to 0..100."""
    lowered = answer.lower()
    sentences = _sentences(answer)
    return {
        "formality": _clamp(85 - 60 * len(CONTRACTION.findall(answer)) / sentences),
        "enthusiasm": _clamp(
            15
            + 40 * answer.count("!") / sentences
            + 15 * len(EMOJI.findall(answer))
            + 10 * sum(len(re.findall(rf"\b{w}\b", lowered)) for w in UPBEAT_WORDS)
        ),
        "technical_depth": _clamp(10 + 12 * sum(term in lowered for term in TECH_TERMS)),
        "empathy": _clamp(10 + 18 * sum(phrase in lowered for phrase in EMPATHY_PHRASES)),
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


_SCHEMA_START: Final = re.compile(r'\{\s*"type"\s*:\s*"object"')


def _prompt_schema(body: dict[str, Any]) -> dict[str, Any] | None:
    """A JSON schema (an object schema with properties) quoted anywhere in the messages: how a
    client asks for JSON when the server cannot enforce it."""
    decoder = json.JSONDecoder()
    for m in body.get("messages", []):
        content = str(m.get("content", ""))
        for start in _SCHEMA_START.finditer(content):
            try:
                found = decoder.raw_decode(content, start.start())[0]
            except ValueError:
                continue
            if isinstance(found, dict) and isinstance(found.get("properties"), dict):
                return found
    return None


def _enforced_schema(body: dict[str, Any]) -> dict[str, Any] | None:
    """The schema the server constrains the reply to: json_schema's, or the one a json_object
    carries (llama-server, vLLM)."""
    response_format = body.get("response_format") or {}
    fmt = response_format.get("type")
    if fmt == "json_schema":
        schema: dict[str, Any] | None = response_format.get("json_schema", {}).get("schema")
        return schema
    if fmt == "json_object" and "schema" in response_format:
        carried: dict[str, Any] = response_format["schema"]
        return carried
    return None


def _tagged(tag: str, text: str) -> str | None:
    """The text between <tag> and </tag>: how a judge request sets apart what it is about."""
    match = re.search(rf"<{tag}>\n?(.*?)\n?</{tag}>", text, re.DOTALL)
    return match.group(1) if match else None


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
    """Lines that start with a bracketed id ("[F2] ..."): reference material in a prompt."""
    return [(m[1], m[2]) for m in re.finditer(r"^\[([A-Z][0-9]*)\] (.+)$", text, re.MULTILINE)]


def _body(line: str) -> str:
    """The answer part of an FAQ line, or the text after a label such as "Policy: "."""
    if " / A: " in line:
        return line.split(" / A: ", 1)[1].strip()
    return line.split(": ", 1)[-1].strip()


_COMMON_WORDS: Final = frozenset(
    re.findall(
        r"\w+",
        "the and for are you your our what how can with this that from have does when where "
        "which who why will would could should about into there their them they was were",
    )
)


def _terms(text: str) -> set[str]:
    """Words of three letters or more, lower-cased, a plural "s" dropped, common words out."""
    words = re.findall(r"[a-z0-9$][a-z0-9$/]*", text.lower())
    return {w.removesuffix("s") for w in words if len(w) > 2 and w not in _COMMON_WORDS}


def _best_item(system_prompt: str, question: str) -> str | None:
    """The FAQ or policy line (ids F.., P..) sharing most words with the question, if any."""
    words = _terms(question)
    scored = [
        (len(words & _terms(text)), -n, text)
        for n, (ref, text) in enumerate(_knowledge_lines(system_prompt))
        if ref[0] in "FP"
    ]
    best = max(scored, default=(0, 0, ""))
    return best[2] if best[0] > 0 else None


SUGGESTIONS: Final = ["Shorten the greeting.", "Name the exact menu item."]


class FakeOpenAI:
    def __init__(self) -> None:
        self.ttft_s = 0.0
        self.token_interval_s = 0.0
        self.logprobs_enabled = True
        self.token_logprobs: list[float] = [-0.1]
        self.include_usage = True
        self.reported_model: str | None = None
        self.answer_text: str | None = None
        # how the model leans for a system prompt; answers are written from it (see CUES)
        self.leaning: Callable[[str], Leaning] = read_cues
        self.failures: deque[Failure] = deque()
        self.reject_params: set[str] = set()
        self.reject_json_schema = False
        self.reject_json_object = False
        self.judge_levels: dict[str, int] | None = None
        self.judge_reply: str | None = None
        self.json_hook: Callable[[dict[str, Any]], str | None] | None = None
        self.requests: list[dict[str, Any]] = []
        # the text of each reply as written (before any failure cuts it), at its request's
        # index; None for a request answered with an error
        self.replies: list[str | None] = []
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
        # an endpoint's concurrency limit: answers beyond it get 429 with this Retry-After
        self.answer_limit: int | None = None
        self.limit_retry_after = "1"
        self.rejected = 0
        self.model_list_requests = 0
        # headers sent with every response (x-ratelimit-remaining-requests, say)
        self.extra_headers: dict[str, str] = {}
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

        async def add_headers(_: web.Request, response: web.StreamResponse) -> None:
            response.headers.update(self.extra_headers)

        app.on_response_prepare.append(add_headers)
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
        """A request for JSON: a response_format, or a JSON schema quoted in the messages."""
        return bool(body.get("response_format")) or _prompt_schema(body) is not None

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
        if self.answer_limit is not None and self.in_flight >= self.answer_limit:
            self.rejected += 1
            return web.json_response(
                _error_body(
                    "Rate limit reached for requests", "requests", None, "rate_limit_exceeded"
                ),
                status=429,
                headers={"retry-after": self.limit_retry_after},
            )
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return await self._serve(request, body)
        finally:
            self.in_flight -= 1

    async def _serve(self, request: web.Request, body: dict[str, Any]) -> web.StreamResponse:
        timing = Timing(received_at=time.monotonic())
        index = len(self.requests)
        self.requests.append(body)
        self.timings.append(timing)
        self.replies.append(None)
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
        self.replies[index] = text
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
        schema = _enforced_schema(body)
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
        text = write_answer(self.leaning(system))
        if self.use_knowledge:
            question = str(body["messages"][-1].get("content", ""))
            best = _best_item(system, question)
            if best is not None:
                text += f" {_body(best)}"
        return text

    def _judge_text(self, body: dict[str, Any]) -> str:
        """A reply in the shape of the request's schema, filled by the fake judge's own rules:
        the schema says what is asked (see `_fill`), the tags in the user message what about."""
        if self.json_hook is not None:
            hooked = self.json_hook(body)
            if hooked is not None:
                return hooked
        if self.judge_reply is not None:
            return self.judge_reply
        schema = _enforced_schema(body) or _prompt_schema(body) or {}
        user = "\n".join(
            str(m.get("content", "")) for m in body.get("messages", []) if m.get("role") == "user"
        )
        return json.dumps(self._fill(schema, user))

    def _fill(self, schema: dict[str, Any], user: str) -> dict[str, Any]:
        """One value per property of the schema, by what the property looks like:
        - an object with a "level": a rating of the trait it is named after, by `rate` (50 for
          a name the judge has no rule for; `judge_levels` overrides), reason "Heuristic rating
          of <name>."
        - an object with a "score": a verdict on the behaviour it is named after
          (`behaviour_scores`, default 80)
        - a string with an enum of "1" and "2": the better of <reply_1> and <reply_2>
          (`pairwise_mode`)
        - an array of ids from an enum: the ids of the <knowledge> lines whose text the answer
          quotes, then `extra_sources`
        - any other array: SUGGESTIONS; any other string, number or boolean: a fixed value."""
        answer = _tagged("answer", user) or _tagged("reply", user) or ""
        levels = rate(answer)
        if self.judge_levels is not None:
            levels.update(self.judge_levels)
        reply: dict[str, Any] = {}
        for name, sub in schema.get("properties", {}).items():
            inner = sub.get("properties", {})
            kind = sub.get("type")
            if "level" in inner:
                rating: dict[str, Any] = {"level": levels.get(name, 50)}
                if "reason" in inner:
                    rating["reason"] = f"Heuristic rating of {name}."
                reply[name] = rating
            elif "score" in inner:
                reply[name] = {
                    "score": self.behaviour_scores.get(name, 80),
                    "reason": f"the reply is {name} enough in tone and content",
                }
            elif kind == "string" and {"1", "2"} <= set(sub.get("enum", [])):
                reply[name] = self._better(user)
            elif kind == "array" and "enum" in sub.get("items", {}):
                listed = _tagged("knowledge", user) or ""
                quoted = [
                    ref
                    for ref, text in _knowledge_lines(listed)
                    if _body(text) and _body(text) in answer
                ]
                reply[name] = quoted + self.extra_sources
            elif kind == "array":
                reply[name] = list(SUGGESTIONS)
            elif kind == "string":
                reply[name] = sub["enum"][0] if sub.get("enum") else "it answers more completely"
            elif kind in ("integer", "number"):
                reply[name] = 50
            elif kind == "boolean":
                reply[name] = True
        return reply

    def _better(self, user: str) -> str:
        len1 = len(_tagged("reply_1", user) or "")
        len2 = len(_tagged("reply_2", user) or "")
        if self.pairwise_mode == "first":
            return "1"
        if self.pairwise_mode == "tie" or len1 == len2:
            return "tie"
        return "1" if len1 > len2 else "2"

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

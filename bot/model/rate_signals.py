"""What the model endpoint says about its rate limits, from every response it sends: a 429 (and
its Retry-After) and the `x-ratelimit-*` headers of OpenAI-style servers. The LLM's HTTP client
reports each response here (answers streamed or not, judges, every retry the openai client makes
on its own), so whoever shares the endpoint's budget (bot.jobs.budget) hears of every limit,
whichever code path met it."""

from __future__ import annotations

import email.utils
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final

import httpx2

log = logging.getLogger(__name__)

# "6m0s", "1s", "20ms", "1h2m3.5s": OpenAI's x-ratelimit-reset-* durations
_DURATION: Final = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_UNIT_S: Final = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


@dataclass(frozen=True, slots=True)
class RateSignal:
    """A response that says the endpoint is at its limit for `model`: a 429 (`retry_after_s`
    if it named one), or requests or tokens remaining 0 until `exhausted_for_s` from now."""

    model: str
    status: int
    retry_after_s: float | None
    exhausted_for_s: float | None

    @property
    def rate_limited(self) -> bool:
        return self.status == 429


Listener = Callable[[RateSignal], Awaitable[None]]


def parse_duration_s(value: str | None) -> float | None:
    """OpenAI's reset durations ("6m0s", "20ms"), or plain seconds ("1.5"); None if neither."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    parts = _DURATION.findall(value)
    if not parts or "".join(n + u for n, u in parts) != value:
        return None
    return sum(float(n) * _UNIT_S[u] for n, u in parts)


def retry_after_seconds(headers: httpx2.Headers) -> float | None:
    ms = headers.get("retry-after-ms")
    if ms is not None:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, parsed.timestamp() - time.time())


def _remaining(headers: httpx2.Headers, kind: str) -> int | None:
    try:
        return int(headers.get(f"x-ratelimit-remaining-{kind}", ""))
    except ValueError:
        return None


def exhausted_for_s(headers: httpx2.Headers) -> float | None:
    """How long the endpoint says no request can succeed (requests or tokens remaining 0)."""
    waits = [
        parse_duration_s(headers.get(f"x-ratelimit-reset-{kind}"))
        for kind in ("requests", "tokens")
        if _remaining(headers, kind) == 0
    ]
    known = [w for w in waits if w is not None]
    if known:
        return max(known)
    return 1.0 if waits else None


def _model_of(request: httpx2.Request, default: str) -> str:
    try:
        body: Any = json.loads(request.content or b"{}")
    except (ValueError, httpx2.RequestNotRead):
        return default
    model = body.get("model") if isinstance(body, dict) else None
    return model if isinstance(model, str) and model else default


class RateSignals:
    """Listeners by key (one per budget: subscribing twice under one key replaces, so every
    code path may subscribe without counting twice)."""

    def __init__(self, *, default_model: str) -> None:
        self._default_model = default_model
        self._listeners: dict[str, Listener] = {}

    def subscribe(self, key: str, listener: Listener) -> None:
        self._listeners[key] = listener

    def attach(self, http_client: object) -> None:
        """Hear every response of this HTTP client (the openai client's own)."""
        hooks = getattr(http_client, "event_hooks", None)
        if isinstance(hooks, dict) and self.on_response not in hooks.get("response", []):
            hooks.setdefault("response", []).append(self.on_response)

    async def on_response(self, response: httpx2.Response) -> None:
        if not self._listeners:
            return
        headers = response.headers
        if response.status_code == 429:
            signal = RateSignal(
                model=_model_of(response.request, self._default_model),
                status=429,
                retry_after_s=retry_after_seconds(headers),
                exhausted_for_s=None,
            )
        else:
            exhausted = exhausted_for_s(headers)
            if exhausted is None:
                return
            signal = RateSignal(
                model=_model_of(response.request, self._default_model),
                status=response.status_code,
                retry_after_s=None,
                exhausted_for_s=exhausted,
            )
        for listener in list(self._listeners.values()):
            try:
                await listener(signal)
            except Exception:
                # the budget is advice: a model call never fails because it could not be told
                log.exception("could not report the model endpoint's rate limit")

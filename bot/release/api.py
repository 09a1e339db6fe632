"""The read API the live bot polls, served by the same process as the Slack app:
`GET /v1/profiles/{name}?label=production` (or `?version=7`) and `GET /v1/openapi.json`.

Parse, check, call, reply, like a listener: the token gives the workspace (so another
workspace's profile is simply not found: 404, never 403, which would confirm it exists), the
configuration comes from bot/release/document.py, and every error is JSON:
{"error": {"code", "message"}}.
The answer carries a strong ETag (a hash of its bytes), so a bot polling with If-None-Match
gets an empty 304 until someone promotes another version."""

from __future__ import annotations

import contextlib
import logging
import math
import re
from collections.abc import AsyncIterator
from typing import Final

from aiohttp import web

from bot.errors import UserError
from bot.persona import validation
from bot.release import api_tokens
from bot.release.api_spec import openapi_document
from bot.release.document import canonical_json, etag_of, profile_config
from bot.release.labels import LABEL_RULE
from bot.slack.rate_limit import TokenBuckets
from bot.startup.deps import Deps
from storage.errors import LabelNotFound, ProfileNotFound, VersionNotFound

log = logging.getLogger(__name__)

PREFIX: Final = "/v1"
PROFILE_PATH: Final = PREFIX + "/profiles/{name}"
OPENAPI_PATH: Final = PREFIX + "/openapi.json"
# versions are PostgreSQL integers
MAX_VERSION: Final = 2**31 - 1
_VERSION: Final = re.compile(r"^[0-9]{1,10}$")
# the bot should ask again rather than trust a copy: the 304 makes asking cheap
CACHE_CONTROL: Final = "no-cache"
_JSON: Final = "application/json"


def error(status: int, code: str, message: str, **headers: str) -> web.Response:
    return web.json_response(
        {"error": {"code": code, "message": message}}, status=status, headers=headers or None
    )


def _matches(if_none_match: str | None, etag: str) -> bool:
    """If-None-Match uses the weak comparison (RFC 9110 13.1.2): W/ is ignored."""
    if if_none_match is None:
        return False
    tags = [t.strip() for t in if_none_match.split(",")]
    return any(t == "*" or t.removeprefix("W/") == etag for t in tags)


def add_routes(web_app: web.Application, deps: Deps) -> None:
    per_minute = deps.settings.api_rate_limit_per_minute
    limits = TokenBuckets(capacity=per_minute, refill_per_s=per_minute / 60)
    # requests that fail authentication, per client address: each may cost a database lookup,
    # and nobody should get to try tokens at full speed
    failures = TokenBuckets(capacity=per_minute, refill_per_s=per_minute / 60)

    async def openapi(_: web.Request) -> web.Response:
        return web.json_response(openapi_document())

    async def profile(request: web.Request) -> web.Response:
        token = await api_tokens.authenticate(
            deps, authorization=request.headers.get("Authorization")
        )
        if token is None:
            wait_s = failures.take(f"address:{request.remote}")
            if wait_s:
                return error(
                    429,
                    "rate_limited",
                    "Too many requests without a valid token from your address.",
                    **{"Retry-After": str(math.ceil(wait_s))},
                )
            return error(
                401,
                "unauthorized",
                "Send a valid API token as 'Authorization: Bearer <token>' "
                "(create one with /bot api-token create <name>).",
                **{"WWW-Authenticate": 'Bearer realm="romashka"'},
            )
        wait_s = limits.take(f"token:{token.id}")
        if wait_s:
            return error(
                429,
                "rate_limited",
                f"Too many requests with this token: at most {per_minute} a minute.",
                **{"Retry-After": str(math.ceil(wait_s))},
            )
        label = request.query.get("label")
        raw_version = request.query.get("version")
        if (label is None) == (raw_version is None):
            return error(400, "bad_request", "Give exactly one of ?label=<label> or ?version=<n>.")
        version: int | None = None
        if raw_version is not None:
            if not _VERSION.match(raw_version) or not 1 <= int(raw_version) <= MAX_VERSION:
                return error(400, "bad_request", "version must be a whole number from 1.")
            version = int(raw_version)
        if label is not None and not LABEL_RULE.match(label):
            return error(
                400,
                "bad_request",
                "label must be one word of lower-case letters, digits, - or _ (at most 30).",
            )
        name = request.match_info["name"]
        try:
            validation.profile_name(name)
        except UserError:
            # no profile can have that name (and a NUL byte must not reach PostgreSQL)
            return error(404, "profile_not_found", f"No profile named {name!r}.")
        try:
            document = await profile_config(
                deps.pool,
                team_id=token.team_id,
                profile_name=name,
                label=label,
                version=version,
                # the model a test uses when the profile names none
                default_model=(
                    deps.llm.default_model if deps.llm is not None else deps.settings.openai_model
                ),
            )
        except ProfileNotFound:
            return error(404, "profile_not_found", f"No profile named {name!r}.")
        except LabelNotFound:
            return error(404, "label_not_found", f"Profile {name!r} has no label {label!r}.")
        except VersionNotFound:
            return error(404, "version_not_found", f"Profile {name!r} has no version {version}.")
        body = canonical_json(document)
        etag = etag_of(body)
        headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL}
        if _matches(request.headers.get("If-None-Match"), etag):
            return web.Response(status=304, headers=headers)
        return web.Response(body=body, content_type=_JSON, charset="utf-8", headers=headers)

    web_app.router.add_get(OPENAPI_PATH, openapi)
    web_app.router.add_get(PROFILE_PATH, profile)


def api_app(deps: Deps) -> web.Application:
    """The read API alone, for Socket Mode (which has no HTTP server of its own)."""
    web_app = web.Application()
    add_routes(web_app, deps)
    return web_app


@contextlib.asynccontextmanager
async def api_server(deps: Deps, *, port: int | None, host: str = "0.0.0.0") -> AsyncIterator[None]:
    """Serve the read API on `port` while the body runs (Socket Mode with API_PORT); no port,
    nothing served."""
    if port is None:
        yield
        return
    runner = web.AppRunner(api_app(deps), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    log.info("read API listening on http://%s:%d%s", host, port, PREFIX)
    try:
        yield
    finally:
        await runner.cleanup()

"""API tokens for the read API: made here, shown once, stored as a sha256 hash only.

A token is `rmk_` and 32 random bytes (256 bits, URL-safe base64): too much entropy to guess,
so a fast unsalted hash is enough to store it (a slow hash protects guessable passwords), and
looking a request's token up by its hash needs no per-row comparison. The prefix lets the log
redaction and secret scanners recognise one."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Final

from bot.blocks.common import escape
from bot.domain.release import ApiToken
from bot.errors import UserError
from bot.startup.deps import Deps
from storage import api_tokens as repo
from storage.errors import ApiTokenNameTaken

TOKEN_PREFIX: Final = "rmk_"
TOKEN_BYTES: Final = 32
# what a token looks like: the prefix and 43 characters of URL-safe base64
TOKEN_SHAPE: Final = re.compile(r"^rmk_[A-Za-z0-9_-]{43}$")
NAME_RULE: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")
NAME_RULES: Final = (
    "API token names are one word of letters, digits, `.`, `-` or `_` (at most 40 characters), "
    "e.g. `live-bot`."
)


def new_secret() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def token_name(raw: str) -> str:
    if not NAME_RULE.match(raw):
        raise UserError(NAME_RULES)
    return raw


@dataclass(frozen=True, slots=True)
class Created:
    token: ApiToken
    secret: str  # shown once, to whoever created it


async def create(deps: Deps, *, team_id: str, user_id: str, name: str) -> Created:
    secret = new_secret()
    try:
        token = await repo.create(
            deps.pool,
            team_id=team_id,
            name=token_name(name),
            token_hash=token_hash(secret),
            user_id=user_id,
        )
    except ApiTokenNameTaken:
        raise UserError(
            f"There is already an API token named `{escape(name)}`. Pick another name, or "
            f"revoke it first with `/bot api-token revoke {name}`."
        ) from None
    return Created(token, secret)


async def live(deps: Deps, *, team_id: str) -> list[ApiToken]:
    return await repo.live_tokens(deps.pool, team_id=team_id)


async def revoke(deps: Deps, *, team_id: str, user_id: str, name: str) -> None:
    if not await repo.revoke(deps.pool, team_id=team_id, name=name, user_id=user_id):
        raise UserError(
            f"There is no API token named `{escape(name)}` in this workspace. "
            "`/bot api-token list` shows them."
        )


async def authenticate(deps: Deps, *, authorization: str | None) -> ApiToken | None:
    """The live token an `Authorization: Bearer …` header carries, or None. A header that is
    missing, malformed or names a revoked token gets None alike: which of these it was is the
    caller's business, not an attacker's."""
    if authorization is None:
        return None
    scheme, _, secret = authorization.strip().partition(" ")
    secret = secret.strip()
    if scheme.lower() != "bearer" or not TOKEN_SHAPE.match(secret):
        return None
    return await repo.find_live(deps.pool, token_hash=token_hash(secret))

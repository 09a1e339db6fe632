"""Splitting `/bot` text into a subcommand, an optional profile and arguments. Pure."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.errors import UserError

QUOTES = '"“”'
_QUOTED = re.compile(r"[\"“”]([^\"“”]*)[\"“”]")
_LEADING_PROFILE = re.compile(r"^@([\w.-]+)(?:@(\d+))?\s*", re.UNICODE)
_VERSION = re.compile(r"^v?(\d{1,9})$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Parsed:
    sub: str
    rest: str  # everything after the subcommand (and after a leading @profile), stripped
    profile: str | None  # from a leading `@Name`


def parse(text: str) -> Parsed:
    stripped = text.strip()
    if not stripped:
        return Parsed("help", "", None)
    head, _, rest = stripped.partition(" ")
    rest = rest.strip()
    profile = None
    match = _LEADING_PROFILE.match(rest)
    if match and not match.group(2):
        profile = match.group(1)
        rest = rest[match.end() :].strip()
    return Parsed(head.lower(), rest, profile)


def split_words(text: str) -> list[str]:
    return text.split()


def parse_version(raw: str) -> int | None:
    match = _VERSION.match(raw.strip())
    return int(match.group(1)) if match else None


def quoted(raw: str, *, usage: str) -> tuple[list[str], str] | None:
    """The quoted parts at the start of `raw` and what follows the last quote (e.g. a trailing
    profile name), or None when `raw` does not start with a quote. Text between quotes, an empty
    or unclosed quote is refused with `usage`: the command the person typed, never another's."""
    text = raw.strip()
    if not text or text[0] not in QUOTES:
        return None
    last = max(text.rfind(q) for q in QUOTES)
    head, tail = text[: last + 1], text[last + 1 :].strip()
    found = [m.strip() for m in _QUOTED.findall(head)]
    if not found or not all(found) or _QUOTED.sub("", head).strip():
        raise UserError(usage)
    return found, tail


def trailing_profile(leading: str | None, rest: str, *, usage: str) -> str | None:
    """A profile named after the arguments (`... Support`), as in every other command; naming
    one both first (`@Support`) and last, or more than one word, is refused with `usage`."""
    words = rest.split()
    if not words:
        return leading
    if leading is not None or len(words) > 1:
        raise UserError(usage)
    return words[0].removeprefix("@")

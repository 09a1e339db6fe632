"""Splitting `/bot` text into a subcommand, an optional profile and arguments. Pure."""

from __future__ import annotations

import re
from dataclasses import dataclass

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

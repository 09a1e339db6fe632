"""Turning the storage layer's exceptions into replies a person can act on."""

from __future__ import annotations

from bot.blocks.common import escape
from bot.messages import NO_PROFILE_YET
from storage.errors import (
    NoProfileYet,
    ProfileNameTaken,
    ProfileNotFound,
    StorageError,
    VersionIdNotFound,
    VersionNotFound,
)


def storage_message(exc: StorageError) -> str | None:
    """The reply for an expected storage outcome, or None for a real failure."""
    if isinstance(exc, NoProfileYet):
        return NO_PROFILE_YET
    if isinstance(exc, ProfileNotFound):
        if exc.name.isdigit():
            return "That profile does not exist in this workspace."
        return (
            f"There is no profile named *{escape(exc.name)}* in this workspace. "
            "`/bot profiles` lists them."
        )
    if isinstance(exc, VersionIdNotFound):
        return "That profile version does not exist in this workspace."
    if isinstance(exc, VersionNotFound):
        return (
            f"*{escape(exc.profile_name)}* has no version {exc.version}. "
            f"`/bot history {exc.profile_name}` lists its versions."
        )
    if isinstance(exc, ProfileNameTaken):
        return f"A profile named *{escape(exc.name)}* already exists. Pick another name."
    return None

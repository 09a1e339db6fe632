"""What changed between two versions: the one definition used by history, set and rollback."""

from __future__ import annotations

from bot.domain.profile import FIELD_LABELS, Change, ProfileFields


def diff(old: ProfileFields, new: ProfileFields) -> list[Change]:
    before, after = old.as_dict(), new.as_dict()
    return [Change(k, before[k], after[k]) for k in FIELD_LABELS if before[k] != after[k]]

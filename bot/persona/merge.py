"""Edits made in a form opened on an older version, applied on top of the current one.

A three-way merge: what the person changed relative to the version they opened (`base`) is
applied to the current version; what they left alone keeps the current value, so a save made by
someone else in between is kept. Where both changed the same thing, the person saving wins and
is told which value they replaced (the replaced version stays in the history). Pure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from typing import Any, TypeVar

from bot.domain.knowledge import Knowledge
from bot.domain.profile import Change, ProfileFields, ResponseStyle

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Merged:
    fields: ProfileFields
    replaced: list[Change]  # someone else's values this edit overwrote: old = theirs, new = ours


def merge_fields(*, base: ProfileFields, ours: ProfileFields, current: ProfileFields) -> Merged:
    changes: dict[str, Any] = {}
    replaced: list[Change] = []
    for f in fields(ProfileFields):
        b, o, c = getattr(base, f.name), getattr(ours, f.name), getattr(current, f.name)
        if o == b:
            continue  # left alone: the current value stays
        changes[f.name] = o
        if c != b and c != o:
            replaced.append(Change(f.name, _shown(c), _shown(o)))
    return Merged(replace(current, **changes), replaced)


def _shown(value: Any) -> str | int | None:
    return value.value if isinstance(value, ResponseStyle) else value


def _merge_list(base: Sequence[T], ours: Sequence[T], current: Sequence[T]) -> list[T]:
    """Lines the person removed go, lines they added come after the current ones; when only
    one side changed the list, that side's list (and order) is taken as it is."""
    if list(ours) == list(base):
        return list(current)
    if list(current) == list(base):
        return list(ours)
    removed = list(base)
    for item in ours:
        if item in removed:
            removed.remove(item)
    added = list(ours)
    for item in base:
        if item in added:
            added.remove(item)
    result = list(current)
    for item in removed:
        if item in result:
            result.remove(item)
    return result + [item for item in added if item not in result]


def _merge_value(base: str, ours: str, current: str) -> str:
    return current if ours == base else ours


@dataclass(frozen=True, slots=True)
class MergedKnowledge:
    knowledge: Knowledge
    both_changed: list[str]  # sections changed by the person and by someone else since


def merge_knowledge(*, base: Knowledge, ours: Knowledge, current: Knowledge) -> MergedKnowledge:
    both = [
        label
        for label, b, o, c in (
            ("company", base.company, ours.company, current.company),
            ("industry", base.industry, ours.industry, current.industry),
            ("products", base.products, ours.products, current.products),
            ("policies", base.policies, ours.policies, current.policies),
            ("FAQs", base.faqs, ours.faqs, current.faqs),
        )
        if o != b and c != b and c != o
    ]
    merged = Knowledge(
        _merge_value(base.company, ours.company, current.company),
        _merge_value(base.industry, ours.industry, current.industry),
        _merge_list(base.products, ours.products, current.products),
        _merge_list(base.policies, ours.policies, current.policies),
        _merge_list(base.faqs, ours.faqs, current.faqs),
    )
    return MergedKnowledge(merged, both)

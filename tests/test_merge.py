"""Three-way merges of a form opened on an older version with the current version. Pure."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from bot.domain.knowledge import Knowledge
from bot.domain.profile import DEFAULT_FIELDS, ResponseStyle
from bot.persona.merge import merge_fields, merge_knowledge

BASE = DEFAULT_FIELDS


@pytest.mark.parametrize(
    ("ours", "theirs", "merged", "replaced"),
    [
        # nobody else saved: the form is taken as it is
        ({"formality": 80}, {}, {"formality": 80}, []),
        # someone else changed another field: both changes are kept
        ({"formality": 80}, {"empathy": 10}, {"formality": 80, "empathy": 10}, []),
        # the form left a field alone that someone else changed: theirs stays
        ({}, {"model": "gpt-4o"}, {"model": "gpt-4o"}, []),
        # both changed the same field: the person saving wins and is told what they replaced
        ({"empathy": 70}, {"empathy": 10}, {"empathy": 70}, [("empathy", 10, 70)]),
        # both made the same change: nothing to report
        ({"empathy": 70}, {"empathy": 70}, {"empathy": 70}, []),
        (
            {"response_style": ResponseStyle.CONCISE},
            {"response_style": ResponseStyle.DETAILED},
            {"response_style": ResponseStyle.CONCISE},
            [("response_style", "detailed", "concise")],
        ),
    ],
)
def test_merge_fields(
    ours: dict[str, Any],
    theirs: dict[str, Any],
    merged: dict[str, Any],
    replaced: list[tuple[str, Any, Any]],
) -> None:
    result = merge_fields(base=BASE, ours=replace(BASE, **ours), current=replace(BASE, **theirs))
    assert result.fields == replace(BASE, **merged)
    assert [(c.field, c.old, c.new) for c in result.replaced] == replaced


K = Knowledge("Acme", "Retail", ["Shoes"], ["Free returns", "No cash"], [("Q1?", "A1.")])


@pytest.mark.parametrize(
    ("ours", "theirs", "merged", "both"),
    [
        ({}, {}, {}, []),
        # one side changed a list: that side's list is taken, order included
        (
            {"policies": ["No cash", "Free returns"]},
            {},
            {"policies": ["No cash", "Free returns"]},
            [],
        ),
        ({}, {"products": ["Shoes", "Boots"]}, {"products": ["Shoes", "Boots"]}, []),
        # both added lines: all of them, theirs first
        (
            {"policies": ["Free returns", "No cash", "Ours"]},
            {"policies": ["Free returns", "No cash", "Theirs"]},
            {"policies": ["Free returns", "No cash", "Theirs", "Ours"]},
            ["policies"],
        ),
        # we removed a line they kept, they added one: both happen
        (
            {"policies": ["No cash"]},
            {"policies": ["Free returns", "No cash", "Theirs"]},
            {"policies": ["No cash", "Theirs"]},
            ["policies"],
        ),
        # we both removed the same line: it goes once
        (
            {"policies": ["No cash"]},
            {"policies": ["No cash"]},
            {"policies": ["No cash"]},
            [],
        ),
        # a name both changed: ours wins
        ({"company": "Acme Ltd"}, {"company": "ACME"}, {"company": "Acme Ltd"}, ["company"]),
        ({"industry": "Shops"}, {"company": "ACME"}, {"company": "ACME", "industry": "Shops"}, []),
        (
            {"faqs": [("Q1?", "A1."), ("Q2?", "A2.")]},
            {"faqs": []},
            {"faqs": [("Q2?", "A2.")]},
            ["FAQs"],
        ),
    ],
)
def test_merge_knowledge(
    ours: dict[str, Any], theirs: dict[str, Any], merged: dict[str, Any], both: list[str]
) -> None:
    result = merge_knowledge(base=K, ours=replace(K, **ours), current=replace(K, **theirs))
    assert result.knowledge == replace(K, **merged)
    assert result.both_changed == both

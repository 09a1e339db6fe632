"""Company knowledge: the form, the prompt section, what fits the budget, and which items an
answer really relied on."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

import asyncpg

from bot.domain.knowledge import KnowledgeItem, describe
from bot.persona.conversation import Turn, estimate_tokens
from storage import knowledge as repo

PROMPT_HEADER: Final = (
    "Company knowledge. When you state facts about the company, its products, prices or "
    "policies, use only these items; if something is not covered, say you will check rather "
    "than guess. The [ids] are for internal reference only: never show them to the customer."
)


def prompt_section(items: Sequence[KnowledgeItem]) -> str:
    if not items:
        return ""
    return PROMPT_HEADER + "\n" + "\n".join(f"[{i.ref}] {describe(i)}" for i in items)


def fits(items: Sequence[KnowledgeItem], budget_tokens: int) -> bool:
    return estimate_tokens(prompt_section(items)) <= budget_tokens


def select(ranked: Sequence[KnowledgeItem], budget_tokens: int) -> list[KnowledgeItem]:
    """The company and industry, then the most relevant items while they fit the budget."""
    chosen = [i for i in ranked if i.kind in {"company", "industry"}]
    for item in ranked:
        if item.kind in {"company", "industry"}:
            continue
        if fits([*chosen, item], budget_tokens):
            chosen.append(item)
    return chosen


def knowledge_query(turns: Sequence[Turn]) -> str:
    """What to search the knowledge for: the latest few things the customer said."""
    said = [t.content for t in turns if t.role == "user"]
    return " ".join(said[-3:])


async def for_prompt(
    pool: asyncpg.Pool, *, team_id: str, version_id: int, query: str, budget_tokens: int
) -> list[KnowledgeItem]:
    every = await repo.items(pool, team_id=team_id, version_id=version_id)
    if fits(every, budget_tokens):
        return every
    ranked = await repo.ranked(pool, team_id=team_id, version_id=version_id, query=query)
    return select(ranked, budget_tokens)


# ---- what an answer relied on -------------------------------------------------------------------

_STOP: Final = frozenset(
    (
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "can",
        "do",
        "does",
        "for",
        "from",
        "has",
        "have",
        "how",
        "i",
        "if",
        "in",
        "is",
        "it",
        "its",
        "may",
        "my",
        "no",
        "not",
        "of",
        "on",
        "or",
        "our",
        "so",
        "that",
        "the",
        "their",
        "them",
        "there",
        "this",
        "to",
        "us",
        "we",
        "what",
        "when",
        "where",
        "which",
        "who",
        "will",
        "with",
        "you",
        "your",
        "yes",
        "",
    )
)


def _stem(word: str) -> str:
    for suffix in ("ing", "ies", "es", "ed", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def key_terms(text: str) -> set[str]:
    words = re.findall(r"[a-z0-9$][a-z0-9$/.-]*", text.lower())
    return {_stem(w.strip(".-/")) for w in words if w not in _STOP and len(w.strip(".-/")) > 1}


def shares_key_terms(item: KnowledgeItem, answer: str) -> bool:
    """At least two of the item's key terms (or all of them, if it has fewer) are in the answer."""
    terms = key_terms(item.body)
    if not terms:
        return False
    needed = min(2, len(terms))
    return len(terms & key_terms(answer)) >= needed


def relied_on(named: Sequence[str], given: Sequence[KnowledgeItem], answer: str) -> list[str]:
    """An item counts as used only if the judge named it and the answer shares its key terms."""
    by_ref = {i.ref: i for i in given}
    wanted = {n.strip().strip("[]").upper() for n in named}
    return [ref for ref, item in by_ref.items() if ref in wanted and shares_key_terms(item, answer)]

"""Company knowledge: the form, the prompt section, what fits the budget, and which items an
answer really relied on."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

import asyncpg

from bot import ids
from bot.conversation import Turn, estimate_tokens
from storage import knowledge as repo
from storage.knowledge import KnowledgeItem

COMPANY_MAX: Final = 100
LINE_MAX: Final = 500
QUESTION_MAX: Final = 300
ANSWER_MAX: Final = 2000
PRODUCTS_MAX: Final = 50
POLICIES_MAX: Final = 100
FAQS_MAX: Final = 500
_FAQ_LINE: Final = re.compile(r"^\s*Q:\s*(?P<q>.+?)\s*/\s*A:\s*(?P<a>.+?)\s*$", re.IGNORECASE)
KIND_LABELS: Final = {
    "company": "Company",
    "industry": "Industry",
    "product": "Product or service",
    "policy": "Policy",
    "faq": "FAQ",
}
PROMPT_HEADER: Final = (
    "Company knowledge. When you state facts about the company, its products, prices or "
    "policies, use only these items; if something is not covered, say you will check rather "
    "than guess. The [ids] are for internal reference only: never show them to the customer."
)


@dataclass(frozen=True, slots=True)
class Knowledge:
    company: str = ""
    industry: str = ""
    products: list[str] = field(default_factory=list)
    policies: list[str] = field(default_factory=list)
    faqs: list[tuple[str, str]] = field(default_factory=list)

    def items(self) -> list[KnowledgeItem]:
        out: list[KnowledgeItem] = []
        if self.company:
            out.append(KnowledgeItem("company", "C", self.company))
        if self.industry:
            out.append(KnowledgeItem("industry", "I", self.industry))
        out += [KnowledgeItem("product", f"S{i}", p) for i, p in enumerate(self.products, 1)]
        out += [KnowledgeItem("policy", f"P{i}", p) for i, p in enumerate(self.policies, 1)]
        out += [
            KnowledgeItem("faq", f"F{i}", a, question=q) for i, (q, a) in enumerate(self.faqs, 1)
        ]
        return out

    @classmethod
    def of(cls, items: Sequence[KnowledgeItem]) -> Knowledge:
        def first(kind: str) -> str:
            return next((i.body for i in items if i.kind == kind), "")

        return cls(
            company=first("company"),
            industry=first("industry"),
            products=[i.body for i in items if i.kind == "product"],
            policies=[i.body for i in items if i.kind == "policy"],
            faqs=[(i.question or "", i.body) for i in items if i.kind == "faq"],
        )


def faq_lines(faqs: Sequence[tuple[str, str]]) -> str:
    return "\n".join(f"Q: {q} / A: {a}" for q, a in faqs)


def parse_faqs(text: str) -> list[tuple[str, str]]:
    """`Q: … / A: …`, one per line; raises ValueError naming the first bad line."""
    faqs = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        match = _FAQ_LINE.match(line)
        if match is None:
            raise ValueError(f"Line {number} is not `Q: question / A: answer`.")
        q, a = match["q"], match["a"]
        if len(q) > QUESTION_MAX or len(a) > ANSWER_MAX:
            raise ValueError(
                f"Line {number}: questions are at most {QUESTION_MAX} characters and answers "
                f"at most {ANSWER_MAX:,}."
            )
        faqs.append((q, a))
    return faqs


def _lines(text: str | None) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def validate(
    form: Mapping[str, str | None], *, keep: Knowledge
) -> tuple[Knowledge | None, dict[str, str]]:
    """The modal's values; a field absent from the form (too large to edit there) keeps `keep`'s."""
    errors: dict[str, str] = {}
    company = (form.get(ids.KNOWLEDGE_COMPANY) or "").strip()
    industry = (form.get(ids.KNOWLEDGE_INDUSTRY) or "").strip()
    if len(company) > COMPANY_MAX:
        errors[ids.KNOWLEDGE_COMPANY] = f"At most {COMPANY_MAX} characters."
    if len(industry) > COMPANY_MAX:
        errors[ids.KNOWLEDGE_INDUSTRY] = f"At most {COMPANY_MAX} characters."

    def lines(key: str, limit: int, current: list[str]) -> list[str]:
        if key not in form:
            return current
        found = _lines(form.get(key))
        if len(found) > limit:
            errors[key] = f"At most {limit} lines (got {len(found)})."
        elif any(len(x) > LINE_MAX for x in found):
            errors[key] = f"Each line is at most {LINE_MAX} characters."
        return found

    products = lines(ids.KNOWLEDGE_PRODUCTS, PRODUCTS_MAX, keep.products)
    policies = lines(ids.KNOWLEDGE_POLICIES, POLICIES_MAX, keep.policies)
    faqs = keep.faqs
    if ids.KNOWLEDGE_FAQ in form:
        try:
            faqs = parse_faqs(form.get(ids.KNOWLEDGE_FAQ) or "")
        except ValueError as exc:
            errors[ids.KNOWLEDGE_FAQ] = str(exc)
    if errors:
        return None, errors
    return Knowledge(company, industry, products, policies, faqs), {}


def describe(item: KnowledgeItem) -> str:
    if item.kind == "faq":
        return f"Q: {item.question} / A: {item.body}"
    return f"{KIND_LABELS[item.kind]}: {item.body}"


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

"""What a profile knows (company, products, policies, FAQs): its items and the form's limits."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from bot import ids

KINDS: Final = ("company", "industry", "product", "policy", "faq")


@dataclass(frozen=True, slots=True)
class KnowledgeItem:
    kind: str
    ref: str
    body: str
    question: str | None = None
    is_example: bool = False


# The seed's example knowledge, given to a workspace's first profile and marked as an example.
EXAMPLE: Final = (
    KnowledgeItem("company", "C", "ROMASHKA", is_example=True),
    KnowledgeItem("industry", "I", "Customer service technology", is_example=True),
    KnowledgeItem("product", "S1", "AI chat support", is_example=True),
    KnowledgeItem("product", "S2", "Customer service platform", is_example=True),
    KnowledgeItem("product", "S3", "Knowledge base", is_example=True),
    KnowledgeItem("policy", "P1", "30-day money-back guarantee", is_example=True),
    KnowledgeItem("policy", "P2", "24/7 support", is_example=True),
    KnowledgeItem("policy", "P3", "Data privacy protection", is_example=True),
    KnowledgeItem(
        "faq",
        "F1",
        "Sign up for a free trial, connect your support channels and import your existing "
        "FAQs; the setup wizard walks you through each step.",
        question="How do I get started?",
        is_example=True,
    ),
    KnowledgeItem(
        "faq",
        "F2",
        "Starter is $29/month, Professional is $99/month, and Enterprise pricing is custom.",
        question="What are your pricing plans?",
        is_example=True,
    ),
    KnowledgeItem(
        "faq",
        "F3",
        "Our support team is available 24/7 by chat and email.",
        question="How do I get technical support?",
        is_example=True,
    ),
)


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

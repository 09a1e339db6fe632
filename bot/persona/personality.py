"""Turn a profile's trait sliders into a system prompt and sampling parameters.

Pure functions only: the same fields always give the same prompt and sampling, so a saved
profile version reproduces exactly what the model was told.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Final

from bot.domain.knowledge import KnowledgeItem
from bot.domain.profile import MAX_TOKENS_BY_STYLE, TRAITS, ProfileFields, ResponseStyle
from bot.persona.knowledge import prompt_section

BAND_RANGES: Final[tuple[tuple[int, int], ...]] = ((0, 20), (21, 40), (41, 60), (61, 80), (81, 100))

# Each text is a behavioural instruction, not an adjective: models follow "never use
# contractions" far more reliably than "be formal". Every text is unique across all traits
# and bands so a prompt can be traced back to the band that produced it.
TRAIT_BANDS: Final[dict[str, tuple[str, str, str, str, str]]] = {
    "formality": (
        "Write casually, like a friendly colleague in chat: use contractions (you're, it's, "
        "don't), address the customer by first name when you know it, and keep it relaxed.",
        "Keep the tone informal but tidy: contractions are welcome, plain everyday words, "
        "no slang and no stiff phrasing.",
        "Use a neutral, professional tone: plain language, occasional contractions are fine, "
        "avoid both slang and ceremonial phrases.",
        "Write in a polished business tone: prefer full forms over contractions, use complete "
        "sentences, and greet and close politely.",
        "Write formally: never use contractions or slang, address the customer respectfully "
        "(no first names), use complete, carefully constructed sentences, and close with a "
        "courteous sign-off.",
    ),
    "enthusiasm": (
        "Stay calm and matter-of-fact: no exclamation marks, no emoji, no superlatives; state "
        "the facts evenly.",
        "Be reserved: at most a brief, understated positive remark, no exclamation marks and "
        "no emoji.",
        "Be pleasant and moderately warm: an occasional positive phrase is fine, at most one "
        "exclamation mark, no emoji.",
        "Sound upbeat: show genuine energy with positive phrasing, use an exclamation mark or "
        "two, and one fitting emoji is fine.",
        "Be highly enthusiastic and energetic: open with excitement, use exclamation marks "
        "freely, celebrate the customer's progress, and include one or two fitting emoji.",
    ),
    "technical_depth": (
        "Avoid technical jargon entirely: explain everything in everyday words a non-technical "
        "customer understands, and skip internal details.",
        "Keep technical detail light: name a setting or menu item when needed, but explain any "
        "technical term in plain words.",
        "Give a balanced level of detail: name the relevant settings, features and steps "
        "precisely, with brief explanations of technical terms.",
        "Be technically specific: use precise product and technical terminology, mention exact "
        "settings, error codes and versions where relevant.",
        "Go deep technically: assume an expert reader, use exact technical terminology (APIs, "
        "protocols, error codes, configuration keys), explain root causes, and include "
        "commands or config snippets when useful.",
    ),
    "empathy": (
        "Focus strictly on the solution: do not comment on the customer's feelings or "
        "apologise unless the company is clearly at fault.",
        "Acknowledge the issue briefly in a few words, then move straight to the solution.",
        "Show reasonable understanding: acknowledge the customer's situation in one sentence "
        "before helping.",
        "Be warm and understanding: acknowledge how the problem affects the customer, thank "
        "them for their patience, and reassure them it can be fixed.",
        "Lead with empathy: name the customer's frustration or concern explicitly, validate "
        "it, apologise sincerely for the inconvenience, and reassure them you will stay with "
        "them until it is resolved.",
    ),
}

STYLE_INSTRUCTIONS: Final[dict[ResponseStyle, str]] = {
    ResponseStyle.CONCISE: (
        "Response style: concise. Answer in at most three short sentences or a short list; "
        "give only what the customer needs to act."
    ),
    ResponseStyle.DETAILED: (
        "Response style: detailed. Give a thorough answer with step-by-step instructions, "
        "the reasons behind them, and what to do if a step does not work."
    ),
    ResponseStyle.CONVERSATIONAL: (
        "Response style: conversational. Answer in a natural back-and-forth manner in a short "
        "paragraph or two, and end by checking whether that helped or offering the next step."
    ),
}

CUSTOM_START: Final = "=== CUSTOM INSTRUCTIONS FROM THE TEAM ==="
CUSTOM_END: Final = "=== END OF CUSTOM INSTRUCTIONS ==="


TEMPERATURE_MIN: Final = 0.1
TEMPERATURE_MAX: Final = 1.0
# Presence penalty discourages reusing any token already in the answer. Technical answers
# must repeat exact terms (setting names, error codes, commands) rather than paraphrase them,
# so the deepest technical profile gets no penalty; a plain-language profile gets up to 0.6
# to keep the wording varied. 0.6 stays well below the range (>1) where output degrades.
PRESENCE_PENALTY_MAX: Final = 0.6


def band(level: int) -> int:
    """Index 0..4 of the band a 0-100 trait level falls into (0-20, 21-40, ..., 81-100).

    Out-of-range levels are clamped: the UI validates input, and a prompt should still
    be built from a slightly off value rather than crash a reply.
    """
    clamped = min(100, max(0, level))
    if clamped <= 20:
        return 0
    return (clamped - 1) // 20


def trait_instruction(trait: str, level: int) -> str:
    return TRAIT_BANDS[trait][band(level)]


def build_system_prompt(fields: ProfileFields, knowledge: Sequence[KnowledgeItem] = ()) -> str:
    name = fields.bot_name.strip() or "the assistant"
    company = next((i.body for i in knowledge if i.kind == "company"), "")
    employer = f" for {company}" if company else ""
    lines = [
        f"You are {name}, a customer-service assistant{employer}. Help customers with "
        "their questions accurately and honestly; if you do not know something, say so and "
        "offer how to find out instead of guessing.",
        "",
        "How to write:",
    ]
    lines.extend(f"- {trait_instruction(trait, fields.trait(trait))}" for trait in TRAITS)
    lines.extend(["", STYLE_INSTRUCTIONS[fields.response_style]])
    custom = fields.custom_instructions.strip()
    if custom:
        # The markers are stripped from the custom text so a user cannot close the section
        # early and make the rest look like part of the base prompt.
        custom = custom.replace(CUSTOM_START, "").replace(CUSTOM_END, "").strip()
    if custom:
        lines.extend(
            [
                "",
                "Follow these additional instructions from the team unless they conflict with "
                "honesty or safety:",
                CUSTOM_START,
                custom,
                CUSTOM_END,
            ]
        )
    section = prompt_section(knowledge)
    if section:
        lines.extend(["", section])
    return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class Sampling:
    temperature: float
    max_tokens: int
    presence_penalty: float


def _round2(value: Decimal) -> float:
    # Decimal half-up, so 0.865 becomes 0.87 as a person would expect, not 0.86 as binary
    # floating point rounding gives.
    return float(value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def sampling_for(fields: ProfileFields) -> Sampling:
    enthusiasm = min(100, max(0, fields.enthusiasm))
    informality = 100 - min(100, max(0, fields.formality))
    # Lively, informal voices need more variety in wording; formal, calm ones are better
    # served by predictable, low-temperature phrasing.
    liveliness = Decimal(enthusiasm + informality) / 200
    temperature = _round2(
        Decimal(str(TEMPERATURE_MIN)) + Decimal(str(TEMPERATURE_MAX - TEMPERATURE_MIN)) * liveliness
    )
    depth = min(100, max(0, fields.technical_depth))
    presence_penalty = _round2(Decimal(str(PRESENCE_PENALTY_MAX)) * (100 - depth) / 100)
    return Sampling(
        temperature=temperature,
        max_tokens=MAX_TOKENS_BY_STYLE[fields.response_style],
        presence_penalty=presence_penalty,
    )

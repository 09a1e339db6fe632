"""Turn a profile's trait sliders into a system prompt and sampling parameters.

Pure functions only: the same fields always give the same prompt and sampling, so a saved
profile version reproduces exactly what the model was told.

Each trait line follows its slider point by point (issue #17, "Continuous traits"): it states
the level as a number on a scale whose two ends are named, gives the wording of the nearest of
five anchors (0, 25, 50, 75, 100), and between anchors says how far and which way to lean from
that wording. So 63 and 70 read differently, where five fixed bands gave them one text. The
anchors are graded in steps of similar size (README, "Continuous traits: before and after"):
the calibration of the five old band texts found the low three of enthusiasm, technical depth
and empathy indistinguishable (they only forbade things) and the top two of formality,
technical depth and empathy saturated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Final

from bot.domain.knowledge import KnowledgeItem
from bot.domain.profile import MAX_TOKENS_BY_STYLE, TRAITS, ProfileFields, ResponseStyle
from bot.persona.knowledge import prompt_section

ANCHORS: Final[tuple[int, int, int, int, int]] = (0, 25, 50, 75, 100)
ANCHOR_STEP: Final = 25
# Off an anchor by at most this much the lean is "slightly", beyond it "somewhat" (an anchor
# is at most 12 points away).
SLIGHT_MAX: Final = 6


@dataclass(frozen=True, slots=True)
class TraitScale:
    """How a trait is named to the model: its label, what 0 and 100 mean, and the phrases that
    lean from an anchor's wording toward either end."""

    label: str
    low: str
    high: str
    toward_low: str
    toward_high: str


TRAIT_SCALES: Final[dict[str, TraitScale]] = {
    "formality": TraitScale(
        "Formality", "casual chat", "formal writing", "more casual", "more formal"
    ),
    "enthusiasm": TraitScale("Enthusiasm", "calm", "enthusiastic", "calmer", "more lively"),
    "technical_depth": TraitScale(
        "Technical depth", "everyday words", "expert detail", "less technical", "more technical"
    ),
    "empathy": TraitScale(
        "Empathy", "solution only", "deeply empathetic", "more to the point", "warmer"
    ),
}

# The wording at each anchor (0, 25, 50, 75, 100). Each text is a behavioural instruction, not
# an adjective: models follow "never use contractions" far more reliably than "be formal".
# Each step up adds or strengthens a behaviour the previous anchor did not ask for, so that
# neighbouring anchors differ by a similar amount: the old middle texts only forbade things
# ("at most one exclamation mark", "no emoji"), which reads the same as the text below them,
# and their top two both asked for everything at once. Words that belong to another trait's
# scale are avoided ("plain" reads as non-technical, "warm" as empathetic), so that one slider
# does not move another. Every text is unique across all traits and anchors so a prompt can be
# traced back to the anchor that produced it.
TRAIT_ANCHORS: Final[dict[str, tuple[str, str, str, str, str]]] = {
    "formality": (
        "Write very casually, like chatting with a colleague: use contractions (you're, it's, "
        "don't) in nearly every sentence, use the customer's first name when you know it, and "
        "keep it relaxed.",
        "Keep the tone informal but tidy: use contractions freely and simple words, and no jokes.",
        "Use a neutral tone, neither stiff nor loose: a contraction now and then is fine; avoid "
        "ceremonial phrases.",
        "Write in a polished tone: prefer full forms (do not, it is) over contractions, and "
        "greet and close politely.",
        "Write formally: never use contractions or slang, address the customer respectfully "
        "(no first names), use complete, carefully constructed sentences, and close with a "
        "courteous sign-off.",
    ),
    "enthusiasm": (
        "Stay calm and matter-of-fact: no exclamation marks, no emoji, no superlatives; state "
        "the facts evenly.",
        "Add a little energy: one brief positive remark is fine, but no exclamation marks and "
        "no emoji.",
        "Sound pleasant and upbeat, with some energy: a positive phrase or two and one "
        "exclamation mark, no emoji.",
        "Sound upbeat, energetic and enthusiastic: show excitement with positive phrasing, use "
        "an exclamation mark or two, and one fitting emoji.",
        "Be highly enthusiastic and energetic: open with excitement, use exclamation marks "
        "freely, celebrate the customer's progress, keep it lively, and include one or two "
        "fitting emoji.",
    ),
    "technical_depth": (
        "Avoid technical jargon entirely: explain everything in everyday words a non-technical "
        "customer understands, and skip internal details.",
        "Keep technical detail light: name the exact setting or menu item when needed, and "
        "explain any technical term in simple words.",
        "Give a moderate level of detail: name the exact settings, features and steps "
        "precisely, with specific values, and briefly explain technical terms.",
        "Be technically specific: use precise product and technical terminology, mention exact "
        "settings, error codes and versions where relevant.",
        "Go deep technically: assume an expert reader, use exact technical terminology (APIs, "
        "protocols, error codes, configuration keys), explain root causes, and include "
        "commands or config snippets when useful.",
    ),
    "empathy": (
        "Focus strictly on the solution: do not comment on the customer's feelings or "
        "apologise unless the company is clearly at fault.",
        "Acknowledge the issue in a few words, then move on to the fix.",
        "Show understanding: acknowledge the customer's situation in one sentence before helping.",
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


def _clamped(level: int) -> int:
    # The UI validates input, and a prompt should still be built from a slightly off value
    # rather than crash a reply.
    return min(100, max(0, level))


def nearest_anchor(level: int) -> int:
    """Index 0..4 of the anchor (0, 25, 50, 75, 100) nearest a 0-100 level: 12 is nearer 0,
    13 nearer 25. Out-of-range levels are clamped."""
    return (_clamped(level) + ANCHOR_STEP // 2) // ANCHOR_STEP


def trait_instruction(trait: str, level: int) -> str:
    """The trait's line: the level on a named scale, the nearest anchor's wording, and off an
    anchor which way and how far to lean from it."""
    scale = TRAIT_SCALES[trait]
    clamped = _clamped(level)
    index = nearest_anchor(clamped)
    text = TRAIT_ANCHORS[trait][index]
    off = clamped - ANCHORS[index]
    if off:
        amount = "slightly" if abs(off) <= SLIGHT_MAX else "somewhat"
        toward = scale.toward_high if off > 0 else scale.toward_low
        text += f" Lean {amount} {toward} than that."
    return f"{scale.label} {clamped}/100 (0 = {scale.low}, 100 = {scale.high}): {text}"


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

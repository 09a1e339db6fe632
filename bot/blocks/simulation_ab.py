"""Block Kit for A/B tests over simulated customers: the blind pair of whole conversations, its
transcript modal, the reveal and the side-by-side result. Pure.

Blind means blind: before voting closes a pair shows "Conversation 1" and "Conversation 2" in
its stored order, the transcript names the sides "Customer" and "Bot" (never the profile's bot
name or avatar, which differ between versions), and no figure of a conversation (goal, judge,
faults) is shown; all of that comes with the reveal.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from bot import ids, limits
from bot.blocks.ab import evidence, fit, model_text
from bot.blocks.common import Block, escape, mrkdwn, plain
from bot.domain.profile import TRAIT_LABELS
from bot.domain.verdict import AbVerdict

VOTE_LABELS: Final = {
    ids.AB_SIM_VOTE_1: ("1 is better", "1"),
    ids.AB_SIM_VOTE_2: ("2 is better", "2"),
    ids.AB_SIM_VOTE_TIE: ("Tie", "tie"),
    ids.AB_SIM_VOTE_BOTH_BAD: ("Both bad", "both_bad"),
}
CHOICE_WORDS: Final = {"a": "A better", "b": "B better", "tie": "tie", "both_bad": "both bad"}
# a transcript turn is cut to this many characters (a section holds 3,000, its heading and the
# note take the rest), and the view to this many turns (a view holds 100 blocks; the header,
# the note and the cut notice take three): the cut is said in the view
TRANSCRIPT_TURN_CHARS: Final = limits.SECTION_TEXT - 200
TRANSCRIPT_TURNS: Final = limits.BLOCKS_PER_VIEW - 3
# kept free in the result message for its closing notes
RESULT_NOTES_CHARS: Final = 1_000
CUSTOMER: Final = "Customer"
BOT: Final = "Bot"


@dataclass(frozen=True, slots=True)
class Line:
    customer: bool
    text: str


def _button(action_id: str, text: str, value: str) -> Block:
    return {
        "type": "button",
        "action_id": action_id,
        "text": plain(text, limits.BUTTON_TEXT),
        "value": value,
    }


def _read_buttons(message_id: int) -> list[Block]:
    return [
        _button(ids.AB_TRANSCRIPT, f"Read conversation {n}", json.dumps({"m": message_id, "c": n}))
        for n in ("1", "2")
    ]


def _heading(position: int, total: int, name: str) -> str:
    return f"*Pair {position + 1} of {total}* · {escape(name)}"


def blind_pair(
    *, message_id: int, position: int, total: int, name: str, turns_1: int, turns_2: int
) -> tuple[str, list[Block]]:
    """Both conversations of one sample, in the pair's stored order, with the vote buttons."""
    body = (
        f"{_heading(position, total, name)}\n"
        "The same simulated customer (same persona, same seed) talked to both versions. "
        "Read both conversations, then vote for the better one as a whole.\n"
        f"Conversation 1: {turns_1} turns · Conversation 2: {turns_2} turns"
    )
    votes = [
        _button(action_id, label, json.dumps({"m": message_id, "c": choice}))
        for action_id, (label, choice) in VOTE_LABELS.items()
    ]
    blocks: list[Block] = [
        {"type": "section", "text": mrkdwn(body, limits.SECTION_TEXT)},
        {"type": "actions", "elements": _read_buttons(message_id)},
        {"type": "actions", "elements": votes},
    ]
    return f"Pair {position + 1} of {total}: which conversation is better?", blocks


def failed_pair(*, position: int, total: int, name: str, reason: str) -> tuple[str, list[Block]]:
    note = f"{_heading(position, total, name)}\n⚠️ This pair {escape(reason)}, so it takes no votes."
    return (
        f"Pair {position + 1} of {total}: left out of the vote",
        [{"type": "section", "text": mrkdwn(note, limits.SECTION_TEXT)}],
    )


def revealed_pair(
    *,
    message_id: int,
    position: int,
    total: int,
    name: str,
    label_1: str,
    label_2: str,
    goal_1: str,
    goal_2: str,
    votes: dict[str, int],
) -> tuple[str, list[Block]]:
    counted = ", ".join(f"{CHOICE_WORDS[c]}: {n}" for c, n in votes.items() if n) or "no votes"
    body = (
        f"{_heading(position, total, name)}\n"
        f"Conversation 1 was *{escape(label_1)}* (goal: {escape(goal_1)}), "
        f"Conversation 2 was *{escape(label_2)}* (goal: {escape(goal_2)})\nVotes: {counted}"
    )
    blocks: list[Block] = [
        {"type": "section", "text": mrkdwn(body, limits.SECTION_TEXT)},
        {"type": "actions", "elements": _read_buttons(message_id)},
    ]
    return f"Pair {position + 1} of {total}: revealed", blocks


def transcript(
    *,
    position: int,
    total: int,
    name: str,
    number: str,
    lines: Sequence[Line],
    label: str | None = None,
) -> dict[str, Any]:
    """One conversation of a pair in full, as far as a view allows; `label` (its version)
    only once voting has closed."""
    title = f"Conversation {number}" + (f" ({label})" if label else "")
    blocks: list[Block] = [
        {"type": "header", "text": plain(title, limits.HEADER_TEXT)},
        {
            "type": "context",
            "elements": [
                mrkdwn(
                    f"Pair {position + 1} of {total} · {escape(name)}", limits.SECTION_FIELD_TEXT
                )
            ],
        },
    ]
    cut = 0
    for line in lines[:TRANSCRIPT_TURNS]:
        render = escape if line.customer else model_text
        body, shortened = fit(line.text, TRANSCRIPT_TURN_CHARS, render=render)
        if shortened:
            cut += 1
            body = body.replace("full text in Details", "cut to fit a Slack view")
        who = CUSTOMER if line.customer else BOT
        blocks.append({"type": "section", "text": mrkdwn(f"*{who}*\n{body}", limits.SECTION_TEXT)})
    if not lines:
        blocks.append({"type": "section", "text": mrkdwn("_(no turns)_", limits.SECTION_TEXT)})
    notes = []
    if len(lines) > TRANSCRIPT_TURNS:
        notes.append(
            f"{len(lines) - TRANSCRIPT_TURNS} later turns are not shown: a Slack view holds "
            f"at most {limits.BLOCKS_PER_VIEW} blocks"
        )
    if cut:
        notes.append(
            f"{cut} turn{'s' if cut != 1 else ''} cut at {TRANSCRIPT_TURN_CHARS:,} characters"
        )
    if notes:
        blocks.append(
            {
                "type": "context",
                "elements": [mrkdwn("_(" + "; ".join(notes) + ")_", limits.SECTION_FIELD_TEXT)],
            }
        )
    return {
        "type": "modal",
        "callback_id": ids.AB_TRANSCRIPT_MODAL,
        "title": plain(f"Conversation {number}", limits.MODAL_TITLE),
        "close": plain("Close", limits.MODAL_BUTTON),
        "blocks": blocks,
    }


# ---- the result at close ------------------------------------------------------------------------


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.0%}"


def rate_text(r: dict[str, Any]) -> str:
    """`passed/n (value, 95% CI low–high)`; n/a with nothing judged."""
    if not r["n"]:
        return "n/a"
    text = f"{r['passed']}/{r['n']} ({_pct(r['value'])}"
    if r.get("low") is not None:
        text += f", 95% CI {_pct(r['low'])}–{_pct(r['high'])}"
    return text + ")"


def difference_text(d: dict[str, Any] | None) -> str:
    if d is None:
        return "B − A: n/a (fewer than 2 judged on a side)"
    return (
        f"B − A: {d['diff'] * 100:+.0f} points (95% CI {d['low'] * 100:+.0f} to "
        f"{d['high'] * 100:+.0f}, Newcombe)"
    )


def _drift_text(d: dict[str, Any] | None) -> str:
    if d is None or d.get("slope") is None:
        return "n/a"
    return f"{d['slope']:+.1f}/turn [{d['slope_low']:+.1f}, {d['slope_high']:+.1f}]"


def simulation_section(f: dict[str, Any], label_a: str, label_b: str) -> str:
    """One simulation's figures for A and B side by side (from bot.simulation.ab_figures)."""
    lines = [
        f"*{escape(f['name'])}*",
        f"Goal reached · A {rate_text(f['goal_a'])} · B {rate_text(f['goal_b'])} · "
        + difference_text(f["goal_difference"]),
    ]
    for b in f["behaviours"]:
        lines.append(f"{escape(b['behaviour'])} · A {rate_text(b['a'])} · B {rate_text(b['b'])}")
    for d in f["drift"]:
        label = TRAIT_LABELS.get(str(d["trait"]), str(d["trait"]))
        lines.append(f"Drift {label} (trend) · A {_drift_text(d['a'])} · B {_drift_text(d['b'])}")
    alignments = [f.get("alignment_a"), f.get("alignment_b")]
    if any(a is not None for a in alignments):
        shown = ["n/a" if a is None else f"{a:.1f}" for a in alignments]
        lines.append(f"Mean alignment of the bot's turns · A {shown[0]} · B {shown[1]}")
    if f["not_counted_a"] or f["not_counted_b"]:
        lines.append(
            f"Not counted (simulator fault or model error) · A {f['not_counted_a']} · "
            f"B {f['not_counted_b']}"
        )
    return "\n".join(lines)


def result_message(
    *,
    ab_id: int,
    label_a: str,
    label_b: str,
    v: AbVerdict,
    figures: Sequence[dict[str, Any]],
    seed_note: str,
) -> tuple[str, list[Block]]:
    p = v.per_person
    people = (
        f"*Votes* (one per person per pair): A {p.a_wins} · B {p.b_wins} · ties {p.ties} · "
        f"both bad {p.both_bad}"
        + (f" · E = {evidence(p.log_e_value)} (decides at 20)" if p.decisive else "")
    )
    heads = f"A: {escape(label_a)} · B: {escape(label_b)}"
    blocks: list[Block] = [
        {
            "type": "header",
            "text": plain(f"Result of A/B test #{ab_id} (simulated customers)", limits.HEADER_TEXT),
        },
        {"type": "section", "text": mrkdwn(f"*{escape(v.recommendation)}*", limits.SECTION_TEXT)},
        {"type": "section", "text": mrkdwn(f"{heads}\n{people}", limits.SECTION_TEXT)},
    ]
    # what one message holds: Slack refuses more blocks or more text (see bot.limits); the
    # figures left out are stored with the verdict
    room = limits.BLOCKS_PER_MESSAGE - len(blocks) - 3
    used = sum(len(json.dumps(b)) for b in blocks) + RESULT_NOTES_CHARS
    shown = 0
    for f in figures:
        text = simulation_section(f, label_a, label_b)[: limits.SECTION_TEXT]
        if shown >= room or used + len(text) > limits.BLOCKS_TEXT_TOTAL:
            break
        blocks.append({"type": "section", "text": mrkdwn(text, limits.SECTION_TEXT)})
        used += len(text)
        shown += 1
    if shown < len(figures):
        more = len(figures) - shown
        blocks.append(
            {
                "type": "context",
                "elements": [
                    mrkdwn(
                        f"{more} more simulated customer{'s' if more != 1 else ''} not shown "
                        "(a Slack message holds no more); every figure is stored with the "
                        "verdict.",
                        limits.SECTION_FIELD_TEXT,
                    )
                ],
            }
        )
    blocks.append(
        {
            "type": "context",
            "elements": [
                mrkdwn(
                    f"{seed_note} Goal and behaviour rates count conversations the customer "
                    "played out (simulator faults and model errors left out); drift is the "
                    "trend of perceived − set level per bot turn, with its 95% interval.",
                    limits.SECTION_FIELD_TEXT,
                )
            ],
        }
    )
    return f"Result of A/B test #{ab_id}: {v.recommendation}", blocks

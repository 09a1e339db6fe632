"""Block Kit for simulated customers: the kind choice and the form of `/bot scenario new`, the
conversation's thread messages, the run's progress and summary. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from bot import ids, limits
from bot.blocks.common import (
    Block,
    counted,
    escape,
    mrkdwn,
    plain,
    report_failed_parent,
    split_text,
    stop_button,
    truncate,
)
from bot.blocks.scenarios import FormContext, _text_input
from bot.domain.profile import TRAIT_LABELS
from bot.domain.scenarios import NAME_MAX
from bot.domain.simulation import (
    ENDING_TEXT,
    GOAL_MAX,
    MIN_TURNS_FOR_TREND,
    PERSONA_FACTS_MAX,
    PERSONA_GIVES_UP_MAX,
    PERSONA_SHORT_MAX,
    PERSONA_WANTS_MAX,
    PERSONA_WHO_MAX,
    TOLERANCE,
    TURN_LIMIT_DEFAULT,
    TURN_LIMIT_MAX,
    Ending,
    Simulation,
)
from bot.slack.text import Dialect, neutralise

# the neutral name and icon the simulated customer's turns are posted under
CUSTOMER_NAME: Final = "Simulated customer"
CUSTOMER_ICON: Final = ":bust_in_silhouette:"
TURN_SECTIONS_MAX: Final = 4
# a context block's text element: at most 2000 characters
CONTEXT_TEXT_MAX: Final = 2000

_KINDS: Final = (
    (ids.SCENARIO_KIND_SINGLE, "Single messages", "Customer messages sent one at a time"),
    (
        ids.SCENARIO_KIND_SIMULATED,
        "Simulated customer",
        "A model plays a customer persona for a whole conversation",
    ),
)


def with_kind_choice(
    view: dict[str, Any], *, chosen: str, action_id: str = ids.SCENARIO_KIND
) -> dict[str, Any]:
    """A new scenario's form with the kind choice on top: choosing the other kind swaps the
    form (views.update), keeping the modal open. `action_id` says who swaps it: the saved
    thread's forms (bot/blocks/scenario_draft.py) draft again from the conversation."""
    options = [
        {
            "text": plain(title, limits.INPUT_LABEL),
            "description": plain(hint, limits.INPUT_LABEL),
            "value": value,
        }
        for value, title, hint in _KINDS
    ]
    choice: Block = {
        "type": "actions",
        "block_id": action_id,
        "elements": [
            {
                "type": "radio_buttons",
                "action_id": action_id,
                "options": options,
                "initial_option": next(o for o in options if o["value"] == chosen),
            }
        ],
    }
    return {**view, "blocks": [choice, *view["blocks"]]}


def kind_choice(context: FormContext) -> dict[str, Any]:
    """The kind of scenario as a modal of its own (unused by `/bot scenario new`, which shows
    the choice on top of the form)."""
    options = [
        {
            "text": plain(title, limits.INPUT_LABEL),
            "description": plain(hint, limits.INPUT_LABEL),
            "value": value,
        }
        for value, title, hint in _KINDS
    ]
    return {
        "type": "modal",
        "callback_id": ids.SCENARIO_KIND_MODAL,
        "title": plain("New scenario", limits.MODAL_TITLE),
        "submit": plain("Next", limits.MODAL_BUTTON),
        "close": plain("Cancel", limits.MODAL_BUTTON),
        "private_metadata": context.dump(),
        "blocks": [
            {
                "type": "input",
                "block_id": ids.SCENARIO_KIND,
                "label": plain("Kind of scenario", limits.INPUT_LABEL),
                "element": {
                    "type": "radio_buttons",
                    "action_id": ids.SCENARIO_KIND + ids.INPUT_SUFFIX,
                    "options": options,
                    "initial_option": options[0],
                },
            }
        ],
    }


def read_kind(view: dict[str, Any]) -> str | None:
    values: dict[str, Any] = view.get("state", {}).get("values", {})
    chosen = (
        values.get(ids.SCENARIO_KIND, {}).get(ids.SCENARIO_KIND + ids.INPUT_SUFFIX) or {}
    ).get("selected_option") or {}
    value = chosen.get("value")
    return str(value) if value is not None else None


def simulation_form(context: FormContext) -> dict[str, Any]:
    def field(
        block_id: str, label: str, max_length: int, *, multiline: bool, hint: str | None = None
    ) -> Block:
        return _text_input(
            block_id, label, "", max_length=max_length, multiline=multiline, hint=hint
        )

    return {
        "type": "modal",
        "callback_id": ids.SIMULATION_MODAL,
        "title": plain("Simulated customer", limits.MODAL_TITLE),
        "submit": plain("Save", limits.MODAL_BUTTON),
        "close": plain("Cancel", limits.MODAL_BUTTON),
        "private_metadata": context.dump(),
        "blocks": [
            field(ids.SIMULATION_NAME, "Name", NAME_MAX, multiline=False),
            field(
                ids.SIMULATION_WHO,
                "Who the customer is",
                PERSONA_WHO_MAX,
                multiline=True,
                hint=f"Up to {PERSONA_WHO_MAX:,} characters, e.g. a small shop owner on the "
                "basic plan",
            ),
            field(ids.SIMULATION_MOOD, "Mood", PERSONA_SHORT_MAX, multiline=False),
            field(ids.SIMULATION_EXPERTISE, "Expertise", PERSONA_SHORT_MAX, multiline=False),
            field(ids.SIMULATION_WANTS, "What they want", PERSONA_WANTS_MAX, multiline=True),
            field(
                ids.SIMULATION_GIVES_UP,
                "What makes them give up",
                PERSONA_GIVES_UP_MAX,
                multiline=True,
            ),
            _text_input(
                ids.SIMULATION_FACTS,
                "Facts they hold",
                "",
                max_length=PERSONA_FACTS_MAX,
                multiline=True,
                optional=True,
                hint="e.g. order number 48213, charged on 3 March",
            ),
            field(ids.SIMULATION_GOAL, "Goal", GOAL_MAX, multiline=True),
            _text_input(
                ids.SIMULATION_BEHAVIOURS,
                "Expected behaviours",
                "",
                max_length=limits.PLAIN_TEXT_INPUT_MAX,
                multiline=True,
                optional=True,
                hint="Short phrases over the whole conversation, up to 10",
            ),
            _text_input(
                ids.SIMULATION_TURN_LIMIT,
                "Turn limit",
                str(TURN_LIMIT_DEFAULT),
                max_length=2,
                multiline=False,
                hint=f"Customer messages at most, 1 to {TURN_LIMIT_MAX}",
            ),
        ],
    }


def turn_message(
    *, name: str, sample: int, repeat: int, turn: int, text: str, customer: bool
) -> tuple[str, list[Block]]:
    """One turn in the run's thread; the model's text (either side's) is neutralised."""
    said = neutralise(text, dialect=Dialect.MRKDWN)
    pieces = [p for p in split_text(said, limits.SECTION_TEXT) if p.strip()] or ["_(empty)_"]
    blocks: list[Block] = [
        {"type": "section", "text": mrkdwn(p, limits.SECTION_TEXT)}
        for p in pieces[:TURN_SECTIONS_MAX]
    ]
    who = "customer" if customer else "bot"
    where = f"{escape(name)}" + (f" · sample {sample + 1} of {repeat}" if repeat > 1 else "")
    blocks.append(
        {
            "type": "context",
            "elements": [mrkdwn(f"{where} · {who} turn {turn // 2 + 1}", 300)],
        }
    )
    return truncate(said, limits.READABLE_MESSAGE_TEXT), blocks


def progress_message(
    *, run_id: int, label: str, names: Sequence[str], done: int, total: int
) -> tuple[str, list[Block]]:
    text = f"Simulation run #{run_id} on {label}: {done} of {counted(total, 'conversation')} done"
    listed = ", ".join(escape(n) for n in names)
    return text, [
        {
            "type": "section",
            "text": mrkdwn(
                f"*Simulated customers* on *{escape(label)}*: {listed}\n"
                f"{done} of {counted(total, 'conversation')} done; the conversations are in "
                "the thread.",
                limits.SECTION_TEXT,
            ),
        },
        {
            "type": "context",
            "elements": [mrkdwn(f"simulation run #{run_id}", 100)],
        },
        {
            "type": "actions",
            "elements": [stop_button(ids.SIMULATION_STOP, run_id)],
        },
    ]


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def rate_text(r: dict[str, Any]) -> str:
    if not r["n"]:
        return "n/a (nothing judged)"
    text = f"{r['passed']}/{r['n']} ({_pct(r['value'])})"
    if r.get("low") is not None:
        text += f", 95% CI {_pct(r['low'])}–{_pct(r['high'])}"
    return text


def drift_line(d: dict[str, Any]) -> str:
    label = TRAIT_LABELS.get(str(d["trait"]), str(d["trait"]))
    if not d["gaps"]:
        return f"{label}: n/a (no judged turn)"
    last_turn, last_gap = d["gaps"][-1]
    if d["slope"] is None:
        trend = f"trend n/a (< {MIN_TURNS_FOR_TREND} judged turns)"
    else:
        trend = (
            f"trend {d['slope']:+.1f}/turn (95% CI {d['slope_low']:+.1f} to {d['slope_high']:+.1f})"
        )
    crossed = (
        f"leaves ±{TOLERANCE} at turn {d['first_outside']}"
        if d["first_outside"] is not None
        else f"within ±{TOLERANCE}"
    )
    return f"{label}: gap {last_gap:+.0f} at turn {last_turn} · {trend} · {crossed}"


def simulation_text(f: dict[str, Any]) -> str:
    endings = ", ".join(
        f"{ENDING_TEXT.get(Ending(e), e)} ×{n}" for e, n in sorted(f["endings"].items())
    )
    goal = f["goal"]
    lines = [
        f"*{escape(f['name'])}* — {counted(f['conversations'], 'conversation')} ({endings})",
        f"Goal reached: {rate_text(goal['rate'])} · yes {goal['yes']}, partly {goal['partly']}, "
        f"no {goal['no']}",
    ]
    for reason in goal["reasons"][:1]:
        lines.append(f"_{neutralise(truncate(reason, 200), dialect=Dialect.MRKDWN)}_")
    for b in f["behaviours"]:
        lines.append(f"• {escape(b['behaviour'])}: {rate_text(b)}")
    for d in f["drift"]:
        lines.append("• " + drift_line(d))
    for fault in f["faults"][:2]:
        lines.append(f":warning: {neutralise(truncate(str(fault), 200), dialect=Dialect.MRKDWN)}")
    return "\n".join(lines)


def summary(*, run_id: int, label: str, data: dict[str, Any]) -> tuple[str, list[Block]]:
    blocks: list[Block] = [
        {
            "type": "header",
            "text": plain(f"Simulation run #{run_id}: {label}", limits.HEADER_TEXT),
        }
    ]
    room = limits.BLOCKS_PER_MESSAGE - 3
    for f in data["simulations"][:room]:
        blocks.append({"type": "section", "text": mrkdwn(simulation_text(f), limits.SECTION_TEXT)})
    overall = (
        f"*Overall* pass rate (goals reached and behaviours shown): {rate_text(data['pass_rate'])}"
    )
    if data.get("alignment") is not None:
        overall += f" · mean alignment {data['alignment']:.0f}/100"
    unconfirmed = int(data.get("unconfirmed_posts") or 0)
    if unconfirmed:
        # a turn Slack refused, or whose worker stopped mid-post in a thread the app could
        # not read back
        overall += (
            f"\n⚠️ {unconfirmed} turn post{'s' if unconfirmed != 1 else ''} not confirmed "
            "(Slack refused it, or the app stopped while posting and could not read the "
            "thread back)"
        )
    blocks += [
        {"type": "divider"},
        {"type": "section", "text": mrkdwn(overall, limits.SECTION_TEXT)},
        {
            "type": "context",
            "elements": [
                mrkdwn(
                    f"Gap = perceived − set level per bot turn; drift outside ±{TOLERANCE} "
                    "points is flagged. Simulator faults are not counted against the bot.",
                    300,
                )
            ],
        },
    ]
    fallback = f"Simulation run #{run_id} on {label}: pass rate {rate_text(data['pass_rate'])}"
    return truncate(fallback, limits.READABLE_MESSAGE_TEXT), blocks[: limits.BLOCKS_PER_MESSAGE]


def simulation_list(simulations: Sequence[Simulation]) -> list[Block]:
    """A context block listing the simulated customers (the scripted scenarios' list keeps its
    sections and Run buttons; simulations are run by name)."""
    if not simulations:
        return []
    lines = [
        f"• *{escape(s.name)}* — {escape(truncate(s.goal, 100))} (up to {s.turn_limit} turns)"
        for s in simulations
    ]
    text = (
        "*Simulated customers* (`/bot scenario run <name>`, or `simulations` for all):\n"
        + "\n".join(lines)
    )
    return [{"type": "context", "elements": [mrkdwn(text, CONTEXT_TEXT_MAX)]}]


def report_failed_message(
    *, run_id: int, label: str, names: Sequence[str], total: int, reason: str
) -> tuple[str, list[Block]]:
    """Every conversation played, the summary not written: Write summary writes it from the
    stored conversations (none is played again)."""
    return report_failed_parent(
        what="Simulation run",
        run_id=run_id,
        label=label,
        names=names,
        finished=f"all {counted(total, 'conversation')} played",
        reason=reason,
        action_id=ids.SIMULATION_WRITE_SUMMARY,
        button="Write summary",
        hint="Write summary writes it from the stored conversations; none is played again.",
    )

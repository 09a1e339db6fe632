"""Block Kit for `/bot stats`: one section per version with its figures as fields. Pure."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Final

from bot import ids, limits
from bot.blocks.common import Block, counted, escape, mrkdwn, plain, slack_date, table
from bot.domain.profile import TRAIT_LABELS, TRAITS
from bot.domain.stats import Compared

NA: Final = "n/a"
# A readable message long before Slack's 50 blocks; the rest are named in a note.
VERSIONS_SHOWN: Final = 20
# blocks besides the versions: header, explanation, truncation note, actions
_FIXED_BLOCKS: Final = 5  # header, context, the table, the note on hidden versions, Chart

TRAIT_GAP_MEANING: Final = (
    "Trait gap = mean of (perceived − target) over the judged answers, in points of the 0–100 "
    "scale: + came across stronger than set, − weaker."
)
ARROWS_MEANING: Final = (
    "▲ / ▼ / = compare each figure with the previous version used in the period "
    "(tokens per answer, A/B share of tests won)."
)


def ms(value: float | None) -> str:
    if value is None:
        return NA
    if value < 1000:
        return f"{value:.0f} ms"
    return f"{value / 1000:.2f} s"


def percent(value: float | None) -> str:
    return NA if value is None else f"{100 * value:.0f}%"


def signed(value: float | None) -> str:
    if value is None:
        return NA
    return f"{value:+.1f}".replace("-", "−")


def _mark(text: str, arrow: str | None) -> str:
    return f"{text} {arrow}" if arrow and text != NA else text


def times(n: int) -> str:
    return "once" if n == 1 else f"{n} times"


def period_text(days: int) -> str:
    return "the last day" if days == 1 else f"the last {days} days"


def _fields(c: Compared) -> list[Block]:
    s = c.stats
    a = c.arrow
    kinds = (
        f"tests {s.answers['test']} · follow-ups {s.answers['followup']} · "
        f"scenario {s.answers['scenario']} · A/B {s.answers['ab']}"
    )
    if s.failed:
        kinds += f" · {s.failed} failed"
    if s.cut_off:
        kinds += f" · {s.cut_off} cut at the length limit"
    if s.judge_unavailable:
        kinds += f" · judge unavailable {times(s.judge_unavailable)}"
    alignment = (NA if s.alignment is None else _mark(f"{s.alignment:.1f}/100", a("alignment"))) + (
        f" ({s.aligned} judged)" if s.aligned else ""
    )
    gaps = "\n".join(
        f"{TRAIT_LABELS[t]} {_mark(signed(s.trait_gaps.get(t)), a(f'gap_{t}'))}" for t in TRAITS
    )
    satisfaction = (
        NA
        if s.satisfaction is None
        else _mark(f"{percent(s.satisfaction)} 👍", a("satisfaction"))
        + f" of {s.rated} rating{'s' if s.rated != 1 else ''}"
    )
    behaviours = (
        NA
        if s.pass_rate is None
        else _mark(
            f"{s.behaviours_passed}/{s.behaviours_judged} passed ({percent(s.pass_rate)})",
            a("pass_rate"),
        )
    )
    ab = (
        NA
        if not s.ab_tests
        else _mark(
            f"{s.ab_won} won · {s.ab_lost} lost · {s.ab_inconclusive} inconclusive",
            a("ab_win_share"),
        )
    )
    tokens = NA
    if s.tokens is not None and s.tokens_per_answer is not None:
        per_answer = _mark(f"≈{s.tokens_per_answer:,.0f} per answer", a("tokens_per_answer"))
        tokens = f"{s.tokens:,} ({per_answer})"
    texts = [
        f"*Answers*\n{_mark(str(s.total_answers), a('answers'))}\n{kinds}",
        "*Response time*\n"
        f"median {_mark(ms(s.median_ms), a('median_ms'))} · p95 {_mark(ms(s.p95_ms), a('p95_ms'))}",
        "*First token*\n"
        f"median {_mark(ms(s.median_ttft_ms), a('median_ttft_ms'))} · "
        f"p95 {_mark(ms(s.p95_ttft_ms), a('p95_ttft_ms'))}",
        f"*Alignment*\n{alignment}",
        f"*Trait gap* (perceived − target)\n{gaps}",
        f"*Satisfaction*\n{satisfaction}",
        f"*Behaviours* (scenario runs)\n{behaviours}",
        f"*A/B record*\n{ab}",
        f"*Tokens*\n{tokens}",
    ]
    return [mrkdwn(t, limits.SECTION_FIELD_TEXT) for t in texts[: limits.SECTION_FIELDS]]


def _version_section(c: Compared) -> Block:
    s = c.stats
    against = (
        f"compared with v{c.previous.version}"
        if c.previous is not None
        else "no earlier version used in the period"
    )
    head = f"*v{s.version}* · saved {slack_date(s.created_at)} · {against}"
    return {"type": "section", "text": mrkdwn(head, limits.SECTION_TEXT), "fields": _fields(c)}


TABLE_COLUMNS: Final = (
    "Version",
    "Answers",
    "Median",
    "p95",
    "Alignment",
    "Satisfaction",
    "Pass rate",
    "Tokens/answer",
)


def versions_table(compared: Sequence[Compared]) -> Block:
    """The versions side by side in Slack's table block, newest first; the sections below keep
    the detail and the arrows. n/a where nothing was measured."""
    rows = []
    for c in compared[:VERSIONS_SHOWN]:
        s = c.stats
        rows.append(
            [
                f"v{s.version}",
                str(s.total_answers),
                ms(s.median_ms),
                ms(s.p95_ms),
                NA if s.alignment is None else f"{s.alignment:.1f}",
                percent(s.satisfaction),
                percent(s.pass_rate),
                NA if s.tokens_per_answer is None else f"{s.tokens_per_answer:,.0f}",
            ]
        )
    return table(list(TABLE_COLUMNS), rows, right=frozenset(range(1, len(TABLE_COLUMNS))))


def without_table(blocks: Sequence[Block]) -> list[Block]:
    """The message as it was before tables, for a workspace that refuses them."""
    return [b for b in blocks if b.get("type") != "table"]


def chart_value(profile_id: int, days: int) -> str:
    return json.dumps({"p": profile_id, "d": days})


def stats_message(
    compared: Sequence[Compared], *, profile_name: str, profile_id: int, days: int
) -> tuple[str, list[Block]]:
    name = escape(profile_name)
    period = period_text(days)
    if not compared:
        text = (
            f"No answers from *{name}* in {period}, and no A/B test of it closed then: "
            "nothing to measure yet. Try a longer period with `--days 90`, or `/bot test …`."
        )
        return text, [{"type": "section", "text": mrkdwn(text, limits.SECTION_TEXT)}]
    room = min(VERSIONS_SHOWN, limits.BLOCKS_PER_MESSAGE - _FIXED_BLOCKS)
    blocks: list[Block] = [
        {
            "type": "header",
            "text": plain(f"Stats: {profile_name}, {period}", limits.HEADER_TEXT),
        },
        {
            "type": "context",
            "elements": [
                mrkdwn(
                    f"{len(compared)} version{'s' if len(compared) != 1 else ''} used, newest "
                    f"first. {ARROWS_MEANING} {TRAIT_GAP_MEANING} Times exclude failed answers; "
                    "*n/a* = nothing measured.",
                    limits.SECTION_FIELD_TEXT,
                )
            ],
        },
    ]
    blocks.append(versions_table(compared))
    blocks += [_version_section(c) for c in compared[:room]]
    if len(compared) > room:
        hidden = compared[room:]
        blocks.append(
            {
                "type": "context",
                "elements": [
                    mrkdwn(
                        f"…and {counted(len(hidden), 'older version')} not shown "
                        f"(v{hidden[-1].stats.version}–v{hidden[0].stats.version}); "
                        "a shorter `--days` narrows the list.",
                        limits.SECTION_FIELD_TEXT,
                    )
                ],
            }
        )
    blocks.append(
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "action_id": ids.STATS_CHART,
                    "text": plain("Chart", limits.BUTTON_TEXT),
                    "value": chart_value(profile_id, days),
                }
            ],
        }
    )
    summary = f"Stats of {profile_name} over {period}: {counted(len(compared), 'version')} used."
    return summary, blocks

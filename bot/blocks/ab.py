"""Block Kit for A/B tests: the parent with its tally, the blind pair, the reveal, the verdict
and the leaderboard. Pure."""

from __future__ import annotations

import json

from bot import ids, limits
from bot.ab_stats import Ranked
from bot.ab_verdict import AbVerdict, SideMetrics
from bot.blocks.answer import seconds
from bot.blocks.common import Block, escape, mrkdwn, plain, split_text, truncate
from bot.slack_text import Dialect, neutralise
from storage.ab import Tally

NEUTRAL_NAME = "ROMASHKA A/B"
NEUTRAL_ICON = ":scales:"
REPLY_SECTIONS_MAX = 3
VOTE_LABELS = {
    ids.AB_VOTE_1: ("1 is better", "1"),
    ids.AB_VOTE_2: ("2 is better", "2"),
    ids.AB_VOTE_TIE: ("Tie", "tie"),
    ids.AB_VOTE_BOTH_BAD: ("Both bad", "both_bad"),
}
CHOICE_WORDS = {"a": "A is better", "b": "B is better", "tie": "a tie", "both_bad": "both bad"}


def title(ab_id: int, label_a: str, label_b: str) -> str:
    return f"A/B test #{ab_id}: {label_a} vs {label_b}"


def parent(
    *,
    ab_id: int,
    label_a: str,
    label_b: str,
    messages: int,
    status: str,
    tally: Tally,
    recommendation: str | None = None,
) -> tuple[str, list[Block]]:
    state = {
        "answering": "answering…",
        "open": "voting open",
        "closed": "voting closed",
    }.get(status, status)
    head = f"{title(ab_id, label_a, label_b)}, {messages} messages, {state}"
    counts = (
        f"A wins *{tally.a}* · B wins *{tally.b}* · ties *{tally.tie}* · "
        f"both bad *{tally.both_bad}* · voters *{tally.voters}*"
    )
    blocks: list[Block] = [
        {"type": "section", "text": mrkdwn(f"*{escape(head)}*\n{counts}", limits.SECTION_TEXT)}
    ]
    if recommendation:
        blocks.append(
            {"type": "section", "text": mrkdwn(f"*Verdict:* {escape(recommendation)}", 3000)}
        )
    if status == "open":
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "action_id": ids.AB_CLOSE,
                        "text": plain("Close voting", limits.BUTTON_TEXT),
                        "value": str(ab_id),
                        "confirm": {
                            "title": plain("Close voting?", 100),
                            "text": plain("Votes stop and the replies are revealed.", 300),
                            "confirm": plain("Close", 30),
                            "deny": plain("Keep open", 30),
                        },
                    }
                ],
            }
        )
    return head, blocks


def _reply_sections(label: str, text: str) -> list[Block]:
    heading_room = 40
    replied = neutralise(text, dialect=Dialect.MRKDWN)
    pieces = split_text(replied, limits.SECTION_TEXT - heading_room)
    blocks: list[Block] = []
    for i, piece in enumerate(pieces[:REPLY_SECTIONS_MAX]):
        heading = f"*{escape(label)}*\n" if i == 0 else ""
        body = piece if piece.strip() else "_(no reply: the model failed)_"
        blocks.append({"type": "section", "text": mrkdwn(heading + body, limits.SECTION_TEXT)})
    if len(pieces) > REPLY_SECTIONS_MAX:
        blocks.append({"type": "context", "elements": [mrkdwn("_(reply truncated)_", 100)]})
    return blocks


def _question(position: int, total: int, question: str) -> Block:
    quoted = "\n".join(f"> {line}" for line in escape(truncate(question, 2500)).splitlines())
    return {
        "type": "section",
        "text": mrkdwn(f"*Message {position + 1} of {total}*\n{quoted}", limits.SECTION_TEXT),
    }


def blind_pair(
    *, message_id: int, position: int, total: int, question: str, reply_1: str, reply_2: str
) -> tuple[str, list[Block]]:
    blocks = [
        _question(position, total, question),
        *_reply_sections("Reply 1", reply_1),
        *_reply_sections("Reply 2", reply_2),
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "action_id": action_id,
                    "text": plain(label, limits.BUTTON_TEXT),
                    "value": json.dumps({"m": message_id, "c": choice}),
                }
                for action_id, (label, choice) in VOTE_LABELS.items()
            ],
        },
    ]
    return f"Message {position + 1} of {total}: which reply is better?", blocks


def revealed_pair(
    *,
    position: int,
    total: int,
    question: str,
    reply_1: str,
    reply_2: str,
    label_1: str,
    label_2: str,
    votes: dict[str, int],
    judge: str,
) -> tuple[str, list[Block]]:
    counted = ", ".join(f"{CHOICE_WORDS[c]}: {n}" for c, n in votes.items() if n) or "no votes"
    reveal = (
        f"Reply 1 was *{escape(label_1)}*, Reply 2 was *{escape(label_2)}* · votes: {counted} · "
        f"judge: {judge}"
    )
    blocks = [
        _question(position, total, question),
        *_reply_sections(f"Reply 1 ({label_1})", reply_1),
        *_reply_sections(f"Reply 2 ({label_2})", reply_2),
        {"type": "context", "elements": [mrkdwn(reveal, 2000)]},
    ]
    return f"Message {position + 1} of {total}: revealed", blocks


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.0%}"


def _side(m: SideMetrics) -> str:
    alignment = "n/a" if m.mean_alignment is None else f"{m.mean_alignment:.1f}"
    tokens = "n/a" if m.tokens is None else f"{m.tokens:,}"
    failed = f" ({m.failed} failed)" if m.failed else ""
    return (
        f"{m.answers} answers{failed} · mean time {seconds(m.mean_ms)} · "
        f"alignment {alignment} · {tokens} tokens"
    )


def verdict_message(
    *, ab_id: int, label_a: str, label_b: str, v: AbVerdict
) -> tuple[str, list[Block]]:
    p, m = v.per_person, v.per_message
    human = (
        f"*People* (every vote): A {p.a_wins} · B {p.b_wins} · ties {p.ties} · "
        f"both bad {p.both_bad}\n"
        f"B's share of decisive votes {_pct(p.b_share)} (95% Wilson interval "
        f"{p.wilson_low:.0%}–{p.wilson_high:.0%}) · sign test p = {p.sign_test_p:.3g} · "
        f"P(B better) = {p.prob_b_better:.0%}\n"
        f"*Per message* (majority of each message's votes): A {m.a_wins} · B {m.b_wins} · "
        f"ties {m.ties} · both bad {m.both_bad}"
    )
    agreement = (
        f"agreed with the people on {v.judge_agreed} of {v.judge_compared} messages"
        if v.judge_compared
        else "no message where both the judge and the people were decisive"
    )
    judge = (
        f"*Automatic judge* (asked in both orders): A {v.judge['a']} · B {v.judge['b']} · "
        f"tie {v.judge['tie']} · inconsistent {v.judge['inconsistent']} · "
        f"unavailable {v.judge['unavailable']}; {agreement}"
    )
    metrics = (
        f"*Side by side*\nA ({escape(label_a)}): {_side(v.side_a)}\n"
        f"B ({escape(label_b)}): {_side(v.side_b)}"
    )
    blocks: list[Block] = [
        {"type": "header", "text": plain(f"Verdict of A/B test #{ab_id}", limits.HEADER_TEXT)},
        {"type": "section", "text": mrkdwn(f"*{escape(v.recommendation)}*", limits.SECTION_TEXT)},
        {"type": "section", "text": mrkdwn(human, limits.SECTION_TEXT)},
        {"type": "section", "text": mrkdwn(judge, limits.SECTION_TEXT)},
        {"type": "section", "text": mrkdwn(metrics, limits.SECTION_TEXT)},
    ]
    return f"Verdict of A/B test #{ab_id}: {v.recommendation}", blocks


def leaderboard(ranked: list[Ranked], labels: dict[str, str]) -> tuple[str, list[Block]]:
    if not ranked:
        text = "No votes yet: start an A/B test with `/bot ab Support@1 Support@2`."
        return text, [{"type": "section", "text": mrkdwn(text, limits.SECTION_TEXT)}]
    lines = []
    for i, r in enumerate(ranked[:40], start=1):
        flag = " · _preliminary_" if r.preliminary else ""
        lines.append(
            f"{i}. *{escape(labels.get(r.item, r.item))}* — {r.rating:.0f} "
            f"(95% {r.low:.0f}–{r.high:.0f}) · {r.votes} votes{flag}"
        )
    blocks: list[Block] = [
        {"type": "header", "text": plain("A/B leaderboard", limits.HEADER_TEXT)},
        {"type": "section", "text": mrkdwn("\n".join(lines), limits.SECTION_TEXT)},
        {
            "type": "context",
            "elements": [
                mrkdwn(
                    "Bradley–Terry ratings fitted on every vote (ties count half), on an "
                    "Elo-like scale centred at 1000, with bootstrap 95% intervals; fewer than "
                    "10 votes is preliminary.",
                    500,
                )
            ],
        },
    ]
    return "A/B leaderboard", blocks

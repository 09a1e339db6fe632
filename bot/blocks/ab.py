"""Block Kit for A/B tests: the parent, the blind pair and its Details, the reveal, the verdict
and the leaderboard. Pure.

Blind means blind: until voting closes nothing built here may depend on which reply is A. The
parent then shows participation only (votes, voters, votes per message), the pair only "Reply 1"
and "Reply 2", and the judge's opinion nowhere; `revealed` figures exist only for closed tests.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from bot import ids, limits
from bot.blocks.answer import seconds
from bot.blocks.common import Block, counted, escape, mrkdwn, plain, table
from bot.blocks.judges import agreement_note
from bot.domain.ab import PairProgress, Participation, Tally
from bot.domain.judges import JudgeAgreement
from bot.domain.verdict import (
    LOG_THRESHOLD,
    THRESHOLD,
    AbVerdict,
    Kappa,
    Ranked,
    SideMetrics,
    Verdict,
)
from bot.slack.text import Dialect, neutralise

NEUTRAL_NAME = "ROMASHKA A/B"
NEUTRAL_ICON = ":scales:"
VOTE_LABELS = {
    ids.AB_VOTE_1: ("1 is better", "1"),
    ids.AB_VOTE_2: ("2 is better", "2"),
    ids.AB_VOTE_TIE: ("Tie", "tie"),
    ids.AB_VOTE_BOTH_BAD: ("Both bad", "both_bad"),
}
CHOICE_WORDS = {"a": "A is better", "b": "B is better", "tie": "a tie", "both_bad": "both bad"}
SHORTENED: Final = "\n_(shortened; full text in Details)_"
NO_REPLY: Final = "_(no reply: the model failed)_"
STATE_WORDS: Final = {
    "answering": "answering…",
    "open": "voting open",
    "closed": "voting closed",
    "failed": "failed",
    "interrupted": "interrupted",
    "cancelled": "cancelled",
}
# texts of a Details modal: the view's blocks hold the question and both replies in full
_DETAILS_CHUNK: Final = limits.SECTION_TEXT - 100
_DETAILS_BLOCKS: Final = limits.BLOCKS_PER_VIEW - 4


@dataclass(frozen=True, slots=True)
class Budget:
    """Characters a pair message gives the customer's message and each reply. Three sections
    of at most 3,000 characters stay well under Slack's total (`limits.BLOCKS_TEXT_TOTAL`);
    COMPACT is the second try when Slack still refuses the message as too long."""

    question: int
    reply: int


FULL: Final = Budget(question=2500, reply=2800)
COMPACT: Final = Budget(question=700, reply=1000)


def title(ab_id: int, label_a: str, label_b: str) -> str:
    return f"A/B test #{ab_id}: {label_a} vs {label_b}"


def _button(action_id: str, text: str, value: str) -> Block:
    return {
        "type": "button",
        "action_id": action_id,
        "text": plain(text, limits.BUTTON_TEXT),
        "value": value,
    }


def participation_line(p: Participation) -> str:
    """Votes, voters and votes per message: what can be shown while the order is hidden."""
    per_message = " · ".join(f"{i}: *{n}*" for i, n in enumerate(p.per_message, start=1))
    line = f"Votes *{p.votes}* from *{p.voters}* voter{'s' if p.voters != 1 else ''}"
    if per_message:
        line += f" · per message {per_message}"
    if p.unanswered:
        line += f" · {p.unanswered} could not be answered"
    return line


def progress_line(p: PairProgress) -> str:
    """How far the pairs are, from the queue: the same for any blind order."""
    parts = [f"Pairs posted *{p.posted}/{p.total}*"]
    if p.running:
        parts.append(f"{p.running} being written")
    if p.waiting:
        parts.append(f"{p.waiting} waiting")
    if p.failed:
        parts.append(f"{p.failed} failed")
    return " · ".join(parts)


def parent(
    *,
    ab_id: int,
    label_a: str,
    label_b: str,
    messages: int,
    status: str,
    participation: Participation,
    revealed: Tally | None = None,
    recommendation: str | None = None,
    reason: str | None = None,
    ended_by: str | None = None,
    progress: PairProgress | None = None,
    unit: str = "message",
    extra: str | None = None,
) -> tuple[str, list[Block]]:
    """`revealed` and `recommendation` are shown for a closed test only; `progress` (or the
    `extra` line, an A/B over simulations' conversations played) while it is answering."""
    head = (
        f"{title(ab_id, label_a, label_b)}, {counted(messages, unit)}, "
        f"{STATE_WORDS.get(status, status)}"
    )
    lines = [f"*{escape(head)}*", participation_line(participation)]
    if status == "answering" and progress is not None:
        lines.append(progress_line(progress))
    if status == "answering" and extra is not None:
        lines.append(extra)
    closed = status == "closed"
    if closed and revealed is not None:
        lines.append(
            f"A wins *{revealed.a}* · B wins *{revealed.b}* · ties *{revealed.tie}* · "
            f"both bad *{revealed.both_bad}*"
        )
    if status in {"failed", "interrupted"}:
        lines.append(
            f"⚠️ {escape(reason or 'no reason recorded')}. Nobody can vote on it; "
            f"`/bot ab cancel {ab_id}` (or *Cancel test*) ends it."
        )
    if status == "cancelled":
        by = f" by <@{ended_by}>" if ended_by else ""
        lines.append(f"Cancelled{by}: no verdict, and votes are no longer taken.")
    blocks: list[Block] = [
        {"type": "section", "text": mrkdwn("\n".join(lines), limits.SECTION_TEXT)}
    ]
    if closed and recommendation:
        blocks.append(
            {
                "type": "section",
                "text": mrkdwn(f"*Verdict:* {escape(recommendation)}", limits.SECTION_TEXT),
            }
        )
    if status == "open":
        close = _button(ids.AB_CLOSE, "Close voting", str(ab_id))
        close["confirm"] = {
            "title": plain("Close voting?", 100),
            "text": plain("Votes stop and the replies are revealed.", 300),
            "confirm": plain("Close", 30),
            "deny": plain("Keep open", 30),
        }
        blocks += [
            {"type": "actions", "elements": [close]},
            {
                "type": "context",
                "elements": [
                    mrkdwn(
                        "Counts show who took part, not what they chose: which reply is A stays "
                        "hidden until voting closes.",
                        limits.SECTION_FIELD_TEXT,
                    )
                ],
            },
        ]
    if status in {"answering", "failed", "interrupted"}:
        cancel = _button(ids.AB_CANCEL, "Cancel test", str(ab_id))
        cancel["confirm"] = {
            "title": plain("Cancel this A/B test?", 100),
            "text": plain("It ends without a verdict and takes no more votes.", 300),
            "confirm": plain("Cancel test", 30),
            "deny": plain("Keep it", 30),
        }
        blocks.append({"type": "actions", "elements": [cancel]})
    return head, blocks


def model_text(text: str) -> str:
    """A reply as the model wrote it, made inert for mrkdwn (no pings, no disguised links)."""
    return neutralise(text, dialect=Dialect.MRKDWN)


def fit(text: str, limit: int, *, render: Callable[[str], str] = escape) -> tuple[str, bool]:
    """`text` rendered for mrkdwn (`escape` for people's text, `model_text` for the model's) in
    at most `limit` characters, and whether it was shortened. Shortened text ends with a
    visible note; it is cut before rendering, so no entity is split."""
    whole = render(text)
    if len(whole) <= limit:
        return whole, False
    room = max(1, limit - len(SHORTENED))

    def shown(cut: int) -> str:
        return render(text[:cut].rstrip()) + "…"

    # the longest cut whose rendered form fits (rendering only lengthens, so this is monotone
    # but for a Markdown link cut in half; every cut tried is checked, so the result fits)
    lo, hi = 0, min(len(text), room)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if len(shown(mid)) <= room:
            lo = mid
        else:
            hi = mid - 1
    return shown(lo) + SHORTENED, True


def _question(position: int, total: int, question: str, limit: int) -> tuple[Block, bool]:
    body, shortened = fit(question, limit)
    quoted = "\n".join(f"> {line}" for line in body.splitlines())
    block = {
        "type": "section",
        "text": mrkdwn(f"*Message {position + 1} of {total}*\n{quoted}", limits.SECTION_TEXT),
    }
    return block, shortened


def _reply(label: str, text: str, limit: int) -> tuple[Block, bool]:
    body, shortened = fit(text, limit, render=model_text) if text.strip() else (NO_REPLY, False)
    heading = f"*{escape(label)}*\n"
    return {"type": "section", "text": mrkdwn(heading + body, limits.SECTION_TEXT)}, shortened


def _details_button(message_id: int) -> Block:
    return _button(ids.AB_DETAILS, "Details", str(message_id))


def blind_pair(
    *,
    message_id: int,
    position: int,
    total: int,
    question: str,
    reply_1: str,
    reply_2: str,
    budget: Budget = FULL,
) -> tuple[str, list[Block]]:
    asked, q_short = _question(position, total, question, budget.question)
    first, short_1 = _reply("Reply 1", reply_1, budget.reply)
    second, short_2 = _reply("Reply 2", reply_2, budget.reply)
    buttons = [
        _button(action_id, label, json.dumps({"m": message_id, "c": choice}))
        for action_id, (label, choice) in VOTE_LABELS.items()
    ]
    if q_short or short_1 or short_2:
        buttons.append(_details_button(message_id))
    blocks = [asked, first, second, {"type": "actions", "elements": buttons}]
    return f"Message {position + 1} of {total}: which reply is better?", blocks


def failed_pair(
    *, position: int, total: int, question: str, reason: str
) -> tuple[str, list[Block]]:
    asked, _ = _question(position, total, question, FULL.question)
    note = f"⚠️ This message {escape(reason)}, so it is left out of the vote."
    blocks = [asked, {"type": "context", "elements": [mrkdwn(note, limits.SECTION_FIELD_TEXT)]}]
    return f"Message {position + 1} of {total}: could not be answered", blocks


def revealed_pair(
    *,
    message_id: int,
    position: int,
    total: int,
    question: str,
    reply_1: str,
    reply_2: str,
    label_1: str,
    label_2: str,
    votes: dict[str, int],
    judge: str,
    budget: Budget = FULL,
) -> tuple[str, list[Block]]:
    counted = ", ".join(f"{CHOICE_WORDS[c]}: {n}" for c, n in votes.items() if n) or "no votes"
    reveal = (
        f"Reply 1 was *{escape(label_1)}*, Reply 2 was *{escape(label_2)}* · votes: {counted} · "
        f"judge: {escape(judge)}"
    )
    asked, q_short = _question(position, total, question, budget.question)
    first, short_1 = _reply(f"Reply 1 ({label_1})", reply_1, budget.reply)
    second, short_2 = _reply(f"Reply 2 ({label_2})", reply_2, budget.reply)
    blocks: list[Block] = [
        asked,
        first,
        second,
        {"type": "context", "elements": [mrkdwn(reveal, limits.SECTION_FIELD_TEXT)]},
    ]
    if q_short or short_1 or short_2:
        blocks.append({"type": "actions", "elements": [_details_button(message_id)]})
    return f"Message {position + 1} of {total}: revealed", blocks


def _chunks(text: str, render: Callable[[str], str]) -> list[str]:
    """`text` rendered, in pieces that each fit a section."""
    out: list[str] = []
    rest = text
    while rest:
        cut = min(len(rest), _DETAILS_CHUNK)
        while len(render(rest[:cut])) > _DETAILS_CHUNK and cut > 1:
            cut = max(1, cut - (len(render(rest[:cut])) - _DETAILS_CHUNK))
        out.append(render(rest[:cut]))
        rest = rest[cut:]
    return out


def pair_details(
    *,
    position: int,
    total: int,
    question: str,
    reply_1: str,
    reply_2: str,
    label_1: str | None = None,
    label_2: str | None = None,
) -> Block:
    """The full texts of a pair. Labels are given once voting has closed, never before."""
    blocks: list[Block] = []
    for heading, text, render in (
        (f"Message {position + 1} of {total}", question, escape),
        ("Reply 1" + (f" ({label_1})" if label_1 else ""), reply_1, model_text),
        ("Reply 2" + (f" ({label_2})" if label_2 else ""), reply_2, model_text),
    ):
        blocks.append({"type": "header", "text": plain(heading, limits.HEADER_TEXT)})
        pieces = _chunks(text, render) or [NO_REPLY]
        blocks += [{"type": "section", "text": mrkdwn(p, limits.SECTION_TEXT)} for p in pieces]
    if len(blocks) > _DETAILS_BLOCKS:
        blocks = blocks[:_DETAILS_BLOCKS]
        blocks.append(
            {
                "type": "context",
                "elements": [
                    mrkdwn(
                        "_(cut here: a Slack view holds at most 100 blocks; `/bot export` has "
                        "every reply in full once voting has closed)_",
                        limits.SECTION_FIELD_TEXT,
                    )
                ],
            }
        )
    return {
        "type": "modal",
        "callback_id": ids.AB_DETAILS_MODAL,
        "title": plain(f"Message {position + 1} of {total}", limits.MODAL_TITLE),
        "close": plain("Close", limits.MODAL_BUTTON),
        "blocks": blocks,
    }


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.0%}"


def evidence(log_e: float) -> str:
    """An e-value for reading: a few significant figures, a power of ten when huge."""
    if log_e > math.log(1e9):
        return f"10^{log_e / math.log(10):.0f}"
    value = math.exp(log_e)
    return f"{value:,.0f}" if value >= 100 else f"{value:.2g}"


def _evidence_line(v: Verdict) -> str:
    if v.decisive == 0:
        return "No decisive votes yet: no evidence either way, and no interval or p-value."
    reached = "reached" if v.log_e_value >= LOG_THRESHOLD else "not reached"
    return (
        f"Evidence against a coin flip E = {evidence(v.log_e_value)} "
        f"(a preference is declared at E ≥ {THRESHOLD:.0f}: {reached}; valid whenever voting "
        "is closed)"
    )


def _descriptive(v: Verdict) -> str:
    if v.decisive == 0 or v.wilson_low is None or v.wilson_high is None:
        return ""
    p_value = "n/a" if v.sign_test_p is None else f"{v.sign_test_p:.3g}"
    return (
        f"\n_Descriptive only:_ B's share of decisive votes {_pct(v.b_share)} (95% Wilson "
        f"{v.wilson_low:.0%}–{v.wilson_high:.0%}) · sign test p = {p_value} · "
        f"P(B better) = {_pct(v.prob_b_better)}"
    )


def kappa_text(k: Kappa, *, what: str) -> str:
    if k.value is None:
        return f"{what} n/a ({k.items} {'message' if k.items == 1 else 'messages'})"
    warn = " ⚠️ low agreement" if k.low else ""
    return f"{what} {k.value:.2f} over {k.items} {'message' if k.items == 1 else 'messages'}{warn}"


def _side(m: SideMetrics) -> str:
    alignment = "n/a" if m.mean_alignment is None else f"{m.mean_alignment:.1f}"
    tokens = "n/a" if m.tokens is None else f"{m.tokens:,}"
    failed = f" ({m.failed} failed)" if m.failed else ""
    return (
        f"{counted(m.answers, 'answer')}{failed} · mean time {seconds(m.mean_ms)} · "
        f"alignment {alignment} · {tokens} tokens"
    )


def verdict_message(
    *, ab_id: int, label_a: str, label_b: str, v: AbVerdict, judge: JudgeAgreement | None = None
) -> tuple[str, list[Block]]:
    p, m = v.per_person, v.per_message
    human = (
        f"*People* (every vote): A {p.a_wins} · B {p.b_wins} · ties {p.ties} · "
        f"both bad {p.both_bad}\n{_evidence_line(p)}{_descriptive(p)}\n"
        f"*Per message* (majority of each message's votes): A {m.a_wins} · B {m.b_wins} · "
        f"ties {m.ties} · both bad {m.both_bad} → {escape(m.recommendation)}"
        + (f" (E = {evidence(m.log_e_value)})" if m.decisive else "")
    )
    agreement = (
        "*Agreement*: "
        + kappa_text(v.voters_kappa, what="voters with each other, Fleiss' κ")
        + " with at least two votes · "
        + kappa_text(v.judge_kappa, what="judge with the people's majority, Cohen's κ")
        + "\n_κ: 1 = full agreement, 0 = what chance gives; under 0.4 the votes are too split "
        "for the verdict to mean much on its own._"
    )
    agreed = (
        f"agreed with the people on {v.judge_agreed} of {counted(v.judge_compared, 'message')}"
        if v.judge_compared
        else "no message where both the judge and the people were decisive"
    )
    judge_text = (
        f"*Automatic judge* (asked in both orders): A {v.judge['a']} · B {v.judge['b']} · "
        f"tie {v.judge['tie']} · inconsistent {v.judge['inconsistent']} · "
        f"unavailable {v.judge['unavailable']}; {agreed}"
    )
    metrics = (
        f"*Side by side*\nA ({escape(label_a)}): {_side(v.side_a)}\n"
        f"B ({escape(label_b)}): {_side(v.side_b)}"
    )
    blocks: list[Block] = [
        {"type": "header", "text": plain(f"Verdict of A/B test #{ab_id}", limits.HEADER_TEXT)},
        {"type": "section", "text": mrkdwn(f"*{escape(v.recommendation)}*", limits.SECTION_TEXT)},
        {"type": "section", "text": mrkdwn(human, limits.SECTION_TEXT)},
        {"type": "section", "text": mrkdwn(agreement, limits.SECTION_TEXT)},
        {"type": "section", "text": mrkdwn(judge_text, limits.SECTION_TEXT)},
        *([] if (note := agreement_note(judge)) is None else [note]),
        {"type": "section", "text": mrkdwn(metrics, limits.SECTION_TEXT)},
    ]
    return f"Verdict of A/B test #{ab_id}: {v.recommendation}", blocks


LEADERBOARD_ROWS = 40
LEADERBOARD_NOTE = (
    "Bradley–Terry ratings fitted on every vote of closed tests (ties count "
    "half; tests still open count once closed), on an Elo-like scale centred at "
    "1000, with bootstrap 95% intervals; fewer than 10 votes is preliminary."
)


def leaderboard_table(ranked: list[Ranked], labels: dict[str, str]) -> tuple[str, list[Block]]:
    """The leaderboard as Slack's table block, for messages where the workspace takes it;
    `leaderboard` is the fallback (and the Home tab's layout)."""
    if not ranked:
        return leaderboard(ranked, labels)
    rows = [
        [
            str(i),
            labels.get(r.item, r.item),
            f"{r.rating:.0f}",
            f"{r.low:.0f}–{r.high:.0f}",
            f"{r.votes} (preliminary)" if r.preliminary else str(r.votes),
        ]
        for i, r in enumerate(ranked[:LEADERBOARD_ROWS], start=1)
    ]
    blocks: list[Block] = [
        {"type": "header", "text": plain("A/B leaderboard", limits.HEADER_TEXT)},
        table(
            ["#", "Version", "Rating", "95% interval", "Votes"],
            rows,
            right=frozenset({0, 2, 3, 4}),
        ),
        {"type": "context", "elements": [mrkdwn(LEADERBOARD_NOTE, 500)]},
    ]
    return "A/B leaderboard", blocks


def leaderboard(ranked: list[Ranked], labels: dict[str, str]) -> tuple[str, list[Block]]:
    if not ranked:
        text = (
            "No votes from closed A/B tests yet: votes count here once their test is closed. "
            "Start one with `/bot ab Support@1 Support@2`."
        )
        return text, [{"type": "section", "text": mrkdwn(text, limits.SECTION_TEXT)}]
    lines = []
    for i, r in enumerate(ranked[:LEADERBOARD_ROWS], start=1):
        flag = " · _preliminary_" if r.preliminary else ""
        lines.append(
            f"{i}. *{escape(labels.get(r.item, r.item))}* — {r.rating:.0f} "
            f"(95% {r.low:.0f}–{r.high:.0f}) · {counted(r.votes, 'vote')}{flag}"
        )
    blocks: list[Block] = [
        {"type": "header", "text": plain("A/B leaderboard", limits.HEADER_TEXT)},
        {"type": "section", "text": mrkdwn("\n".join(lines), limits.SECTION_TEXT)},
        {
            "type": "context",
            "elements": [mrkdwn(LEADERBOARD_NOTE, 500)],
        },
    ]
    return "A/B leaderboard", blocks

"""Block Kit for the App Home tab: profiles, recent tests, A/B tests, the leaderboard and how every
number is computed. Pure; the whole view stays within Slack's 100 blocks however much data."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from bot import ids, limits
from bot.blocks.common import Block, bar, counted, escape, mrkdwn, plain, slack_date, truncate
from bot.blocks.judges import agreement_section
from bot.blocks.stats import ms
from bot.domain.judges import JudgeAgreement
from bot.domain.profile import TRAIT_LABELS, TRAITS
from bot.domain.stats import AbSummary, HomeProfile, RecentTest
from bot.domain.verdict import LOW_KAPPA, OUTCOME_WORDS, Outcome, Ranked

RECENT_TESTS: Final = 10
AB_TESTS_SHOWN: Final = 10
LEADERS_SHOWN: Final = 5
# profiles past this are named in a note: the tab is for a glance, `/bot profiles` lists all
PROFILES_SHOWN: Final = 25
QUESTION_PREVIEW: Final = 80
BLOCKS_PER_PROFILE: Final = 2

DEFINITIONS: Final = (
    (
        "*Alignment* (0–100) = 100 − the mean absolute difference between each trait's target "
        "and the level a judge model perceives in the answer, over the four traits. The judge "
        "only reports levels; the arithmetic is ours. No judgement means no score, never a "
        "default. Stats show its mean per version, and per trait the mean of perceived − target "
        "(+ came across stronger than set).\n"
        "*Confidence* = the mean probability of the answer's tokens, from the endpoint's "
        "logprobs; n/a where the endpoint gives none.\n"
        "*Style proxies*, measured in code on every answer: exclamation marks per sentence, "
        "contractions per 100 words, mean sentence length, Flesch–Kincaid grade, emoji and "
        "questions.\n"
        "*Times*: total time and time to first token, measured by the bot around the model's "
        "stream; stats give the median and 95th percentile of answers that did not fail. "
        "*Tokens* are the endpoint's usage figures."
    ),
    (
        "*Satisfaction* = 👍 ÷ (👍 + 👎), one rating per person per answer, with the count.\n"
        "*Behaviour pass rate*: in scenario runs a judge scores each expected behaviour 0–100; "
        "it passes at 70 or more, decided in code; rate = passed ÷ judged.\n"
        "*A/B verdict*: “B is preferred” / “A is preferred” only when the evidence of the "
        "decisive votes (ties and “both bad” apart) against a coin flip, an anytime-valid "
        "e-value, reaches 20: wrong at most 5% of the time however often the test is looked at "
        "before closing. The Wilson interval, sign test and P(B better) shown with it are "
        "descriptive. A version's A/B record counts closed tests it won, lost, or that were "
        "inconclusive. *κ*: agreement of the voters (Fleiss) and of the judge with them "
        "(Cohen); 1 = full, 0 = chance, under 0.4 is flagged ⚠️.\n"
        "*Bradley–Terry*: the leaderboard's ratings, fitted on every vote of closed tests (ties "
        "count half) on "
        "an Elo-like scale centred at 1000 (+400 ≈ 10:1 odds of being preferred), with "
        "bootstrap 95% intervals; under 10 votes is preliminary."
    ),
)


def _profile_blocks(p: HomeProfile) -> list[Block]:
    tags = " · workspace default" if p.is_default else ""
    head = (
        f"{p.avatar_emoji} *{escape(p.bot_name)}* — profile *{escape(p.name)}* v{p.version}{tags}"
    )
    fields = [
        mrkdwn(f"*{TRAIT_LABELS[t]}*\n`{bar(p.traits[t])}`", limits.SECTION_FIELD_TEXT)
        for t in TRAITS
    ]
    fields.append(mrkdwn(f"*Style*\n{p.response_style}", limits.SECTION_FIELD_TEXT))
    buttons = [
        {
            "type": "button",
            "action_id": action,
            "text": plain(label, limits.BUTTON_TEXT),
            "value": str(p.profile_id),
        }
        for action, label in ((ids.CARD_EDIT, "Edit"), (ids.CARD_HISTORY, "History"))
    ]
    return [
        {"type": "section", "text": mrkdwn(head, limits.SECTION_TEXT), "fields": fields},
        {"type": "actions", "elements": buttons},
    ]


def _test_line(t: RecentTest) -> str:
    question = escape(truncate(t.question.replace("\n", " "), QUESTION_PREVIEW))
    if t.error_kind:
        outcome = f"failed ({escape(t.error_kind)})"
    else:
        alignment = "n/a" if t.alignment is None else f"{t.alignment:.0f}/100"
        outcome = f"alignment {alignment} · {ms(t.total_ms)}"
    return f"• {slack_date(t.created_at)} *{escape(t.label)}* — “{question}” · {outcome}"


def _kappa(what: str, value: float | None, items: int) -> str:
    if value is None:
        return f"{what} n/a"
    warn = " ⚠️" if value < LOW_KAPPA else ""
    return f"{what} {value:.2f} ({items}){warn}"


def _ab_line(a: AbSummary) -> str:
    pair = f"#{a.ab_id} *{escape(a.label_a)}* vs *{escape(a.label_b)}*"
    votes = f"{a.votes} vote{'s' if a.votes != 1 else ''}"
    if a.status == "closed":
        closed = slack_date(a.closed_at) if a.closed_at else "closed"
        outcome = (
            OUTCOME_WORDS[Outcome(a.verdict_code)] if a.verdict_code else "no verdict recorded"
        )
        agreement = (
            f" · κ {_kappa('voters', a.voters_kappa, a.voters_kappa_items)}, "
            f"{_kappa('judge', a.judge_kappa, a.judge_kappa_items)}"
        )
        return f"• {pair} — closed {closed}, {votes}: {escape(outcome)}{agreement}"
    if a.status == "cancelled":
        ended = slack_date(a.closed_at) if a.closed_at else ""
        return f"• {pair} — cancelled {ended}, {votes}, no verdict"
    if a.status in {"failed", "interrupted"}:
        reason = escape(truncate(a.failure_reason or "no reason recorded", 200))
        return (
            f"• {pair} — ⚠️ {a.status}: {reason} · `/bot ab cancel {a.ab_id}` ends it · "
            f"started {slack_date(a.started_at)}"
        )
    # while it runs: participation only, never a verdict or a split
    state = "answering…" if a.status == "answering" else "open for votes"
    return f"• {pair} — {state}, {votes} · started {slack_date(a.started_at)}"


def _leader_lines(ranked: Sequence[Ranked] | None, labels: dict[str, str], stale: bool) -> str:
    if ranked is None:
        return "_Working out the leaderboard… it appears here in a moment._"
    if not ranked:
        return (
            "No votes from closed A/B tests yet (votes count once their test is closed): start "
            "one with `/bot ab Support@1 Support@2`."
        )
    lines = []
    for i, r in enumerate(ranked[:LEADERS_SHOWN], start=1):
        flag = " · _preliminary_" if r.preliminary else ""
        label = escape(labels.get(r.item, f"version {r.item}"))
        lines.append(
            f"{i}. *{label}* — {r.rating:.0f} (95% {r.low:.0f}–{r.high:.0f}) · "
            f"{counted(r.votes, 'vote')}{flag}"
        )
    if stale:
        lines.append("_Updating with the latest votes…_")
    return "\n".join(lines)


def _section(text: str) -> Block:
    return {"type": "section", "text": mrkdwn(text, limits.SECTION_TEXT)}


def _header(text: str) -> Block:
    return {"type": "header", "text": plain(text, limits.HEADER_TEXT)}


def home_view(
    *,
    profiles: Sequence[HomeProfile],
    total_profiles: int,
    tests: Sequence[RecentTest],
    ab_tests: Sequence[AbSummary],
    ranked: Sequence[Ranked] | None,
    labels: dict[str, str],
    leaderboard_stale: bool = False,
    judges: Sequence[JudgeAgreement] = (),
) -> Block:
    """`ranked` None means the leaderboard is still being worked out."""
    tests_text = (
        "\n".join(_test_line(t) for t in tests[:RECENT_TESTS])
        if tests
        else "No tests yet: try `/bot test How do I cancel my subscription?` in a channel."
    )
    ab_text = (
        "\n".join(_ab_line(a) for a in ab_tests[:AB_TESTS_SHOWN])
        if ab_tests
        else "No A/B tests yet: `/bot ab Support@3 Support@4` starts one."
    )
    tail: list[Block] = [
        {"type": "divider"},
        _header(f"Last {RECENT_TESTS} tests"),
        _section(tests_text),
        {"type": "divider"},
        _header("A/B tests: running and recent"),
        _section(ab_text),
        _header("Leaderboard"),
        _section(_leader_lines(ranked, labels, leaderboard_stale)),
        *([agreement_section(judges)] if judges else []),
        {"type": "divider"},
        _header("How are these numbers computed?"),
        *(_section(d) for d in DEFINITIONS),
    ]
    head: list[Block] = [
        _header("ROMASHKA bot playground"),
        {
            "type": "context",
            "elements": [
                mrkdwn(
                    "Tune your customer-service bot together. `/bot help` lists every command; "
                    "`/bot stats` shows a profile's figures per version.",
                    limits.SECTION_FIELD_TEXT,
                )
            ],
        },
        _header(f"Bot profiles ({total_profiles})"),
    ]
    # one block is kept for the note naming the profiles left out
    room = (limits.BLOCKS_PER_VIEW - len(head) - len(tail) - 1) // BLOCKS_PER_PROFILE
    shown = list(profiles[: min(room, PROFILES_SHOWN)])
    body: list[Block] = [b for p in shown for b in _profile_blocks(p)]
    if not shown:
        body.append(_section("No profiles yet: create one with `/bot new Support`."))
    elif total_profiles > len(shown):
        body.append(
            {
                "type": "context",
                "elements": [
                    mrkdwn(
                        f"…and {total_profiles - len(shown)} more: `/bot profiles` lists them all.",
                        limits.SECTION_FIELD_TEXT,
                    )
                ],
            }
        )
    return {"type": "home", "callback_id": ids.HOME_VIEW, "blocks": [*head, *body, *tail]}

"""The closing verdict of an A/B test, from stored votes, judge verdicts and results. Pure."""

from __future__ import annotations

import statistics
from collections.abc import Sequence

from bot.ab import statistics as ab_stats
from bot.domain.ab import AbMessage, Vote
from bot.domain.results import TestResult
from bot.domain.verdict import AbVerdict, SideMetrics
from bot.metrics.agreement import cohen_kappa, fleiss_kappa

JUDGE_OUTCOMES = ("a", "b", "tie", "inconsistent", "unavailable")
# the categories voters choose from, as Fleiss' κ columns
VOTE_CHOICES = ("a", "b", "tie", "both_bad")
# where the judge and the people's majority are compared: the judge has no "both bad"
COMPARABLE = frozenset({"a", "b", "tie"})


def side_metrics(results: Sequence[TestResult]) -> SideMetrics:
    ok = [r for r in results if not r.error_kind]
    times = [r.total_ms for r in ok if r.total_ms is not None]
    alignments = [r.alignment for r in results if r.alignment is not None]
    tokens = [
        r.prompt_tokens + r.completion_tokens
        for r in ok
        if r.prompt_tokens is not None and r.completion_tokens is not None
    ]
    return SideMetrics(
        answers=len(results),
        failed=len(results) - len(ok),
        mean_ms=statistics.fmean(times) if times else None,
        mean_alignment=round(statistics.fmean(alignments), 1) if alignments else None,
        tokens=sum(tokens) if tokens else None,
    )


def compute(
    votes: Sequence[Vote], messages: Sequence[AbMessage], results: dict[int, TestResult]
) -> AbVerdict:
    a, b, tie, both_bad = ab_stats.per_vote_counts(
        [(str(v.ab_message_id), v.choice) for v in votes]
    )
    per_person = ab_stats.verdict(a_wins=a, b_wins=b, ties=tie, both_bad=both_bad)
    ma, mb, mtie, mbad = ab_stats.per_message_majority(
        [(str(v.ab_message_id), v.choice) for v in votes]
    )
    per_message = ab_stats.verdict(a_wins=ma, b_wins=mb, ties=mtie, both_bad=mbad)

    judge = {k: 0 for k in JUDGE_OUTCOMES}
    for m in messages:
        judge[m.judge_verdict or "unavailable"] += 1
    by_message: dict[int, list[str]] = {m.id: [] for m in messages}
    for v in votes:
        by_message.setdefault(v.ab_message_id, []).append(v.choice)
    agreed = compared = 0
    judged: list[tuple[str, str]] = []
    for m in messages:
        human = ab_stats.majority(by_message[m.id])
        if m.judge_verdict in {"a", "b"} and human in {"a", "b"}:
            compared += 1
            agreed += m.judge_verdict == human
        if m.judge_verdict in COMPARABLE and human in COMPARABLE:
            judged.append((m.judge_verdict, human))
    voters = fleiss_kappa(
        [[choices.count(c) for c in VOTE_CHOICES] for choices in by_message.values()]
    )
    side_a = side_metrics([results[m.result_a_id] for m in messages if m.result_a_id in results])
    side_b = side_metrics([results[m.result_b_id] for m in messages if m.result_b_id in results])
    return AbVerdict(
        per_person=per_person,
        per_message=per_message,
        judge=judge,
        judge_agreed=agreed,
        judge_compared=compared,
        side_a=side_a,
        side_b=side_b,
        voters_kappa=voters,
        judge_kappa=cohen_kappa(judged),
    )

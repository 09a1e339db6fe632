"""The A/B Block Kit builders, table-driven: what each state of the parent shows, how replies
are shortened, and the verdict's wording of evidence and agreement."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot import ids, limits
from bot.ab.statistics import verdict
from bot.blocks import ab as blocks
from bot.domain.ab import PairProgress, Participation, Tally
from bot.domain.verdict import AbVerdict, Kappa, SideMetrics

TAKING_PART = Participation(votes=5, voters=3, per_message=[3, 2, 0], unanswered=0)
REVEALED = Tally(a=1, b=3, tie=1, both_bad=0, voters=3)


def parent(status: str, **kwargs: Any) -> str:
    _, built = blocks.parent(
        ab_id=7,
        label_a="Support v1",
        label_b="Support v2",
        messages=3,
        status=status,
        participation=TAKING_PART,
        **kwargs,
    )
    return json.dumps(built, ensure_ascii=False)


@pytest.mark.parametrize(
    ("status", "shown", "hidden"),
    [
        (
            "answering",
            ["answering…", "Votes *5* from *3* voters", ids.AB_CANCEL],
            ["A wins", ids.AB_CLOSE, "Verdict"],
        ),
        (
            "open",
            ["voting open", "per message 1: *3* · 2: *2* · 3: *0*", ids.AB_CLOSE, "hidden until"],
            ["A wins", "B wins", "Verdict", ids.AB_CANCEL],
        ),
        (
            "closed",
            ["voting closed", "A wins *1* · B wins *3* · ties *1*", "*Verdict:* B is preferred"],
            [ids.AB_CLOSE, ids.AB_CANCEL],
        ),
        (
            "failed",
            ["failed", "⚠️ Slack said no", "`/bot ab cancel 7`", ids.AB_CANCEL],
            ["A wins", ids.AB_CLOSE],
        ),
        (
            "interrupted",
            ["interrupted", "⚠️ Slack said no", ids.AB_CANCEL],
            ["A wins", ids.AB_CLOSE],
        ),
        ("cancelled", ["Cancelled by <@U9>: no verdict"], ["A wins", ids.AB_CLOSE, ids.AB_CANCEL]),
    ],
)
def test_parent_by_state(status: str, shown: list[str], hidden: list[str]) -> None:
    # the revealed figures are handed over in every state: the builder shows them only closed
    text = parent(
        status,
        revealed=REVEALED,
        recommendation="B is preferred",
        reason="Slack said no",
        ended_by="U9",
    )
    for fragment in shown:
        assert fragment in text
    for fragment in hidden:
        assert fragment not in text


@pytest.mark.parametrize(
    ("text", "limit", "expected", "shortened"),
    [
        ("short & sweet", 100, "short &amp; sweet", False),
        ("", 10, "", False),
        ("a" * 200, 100, "a" * (99 - len(blocks.SHORTENED)) + "…" + blocks.SHORTENED, True),
        # entities are never cut in half: the text is cut before escaping
        (
            "<" * 200,
            100,
            "&lt;" * ((99 - len(blocks.SHORTENED)) // 4) + "…" + blocks.SHORTENED,
            True,
        ),
    ],
)
def test_fit(text: str, limit: int, expected: str, shortened: bool) -> None:
    assert blocks.fit(text, limit) == (expected, shortened)
    assert len(blocks.fit(text, limit)[0]) <= limit


@pytest.mark.parametrize("budget", [blocks.FULL, blocks.COMPACT])
def test_a_huge_pair_stays_within_slacks_limits(budget: blocks.Budget) -> None:
    _, built = blocks.blind_pair(
        message_id=1,
        position=0,
        total=1,
        question="?\n" * 5000,
        reply_1="&" * 50_000,
        reply_2="x" * 50_000,
        budget=budget,
    )
    texts = [b["text"]["text"] for b in built if "text" in b]
    assert all(len(t) <= limits.SECTION_TEXT for t in texts)
    assert sum(map(len, texts)) <= limits.BLOCKS_TEXT_TOTAL
    assert [e["action_id"] for e in built[-1]["elements"]] == [*ids.AB_VOTES, ids.AB_DETAILS]


def test_details_of_a_giant_reply_fit_a_view() -> None:
    view = blocks.pair_details(position=0, total=1, question="q", reply_1="y" * 400_000, reply_2="")
    assert len(view["blocks"]) <= limits.BLOCKS_PER_VIEW
    assert "cut here" in json.dumps(view["blocks"])
    assert len(view["title"]["text"]) <= limits.MODAL_TITLE


SIDE = SideMetrics(answers=3, failed=0, mean_ms=1200.0, mean_alignment=80.0, tokens=900)


def ab_verdict(a: int, b: int, voters: Kappa, judge: Kappa) -> AbVerdict:
    return AbVerdict(
        per_person=verdict(a_wins=a, b_wins=b, ties=1, both_bad=0),
        per_message=verdict(a_wins=min(a, 1), b_wins=min(b, 2), ties=1, both_bad=0),
        judge={"a": 0, "b": 2, "tie": 1, "inconsistent": 0, "unavailable": 0},
        judge_agreed=2,
        judge_compared=2,
        side_a=SIDE,
        side_b=SIDE,
        voters_kappa=voters,
        judge_kappa=judge,
    )


@pytest.mark.parametrize(
    ("v", "shown", "hidden"),
    [
        (
            ab_verdict(2, 20, Kappa(0.62, 3), Kappa(0.25, 3)),
            [
                "*B is preferred*",
                "E = 789 (a preference is declared at E ≥ 20: reached",
                "_Descriptive only:_ B's share of decisive votes 91%",
                "Fleiss' κ 0.62 over 3 messages with at least two votes",
                "Cohen's κ 0.25 over 3 messages ⚠️ low agreement",
            ],
            ["no decisive votes"],
        ),
        (
            ab_verdict(0, 4, Kappa(None, 0), Kappa(None, 0)),
            [
                "*Not enough votes to tell yet: about ",
                "more decisive votes to tell a 60/40 preference from a coin flip*",
                "E = 3.2 (a preference is declared at E ≥ 20: not reached",
                "Fleiss' κ n/a (0 messages)",
            ],
            ["⚠️"],
        ),
        (
            ab_verdict(0, 0, Kappa(None, 0), Kappa(None, 0)),
            ["*No decisive votes yet", "no interval or p-value"],
            ["Wilson", "sign test", "P(B better)", "E = "],
        ),
    ],
)
def test_verdict_message(v: AbVerdict, shown: list[str], hidden: list[str]) -> None:
    _, built = blocks.verdict_message(ab_id=3, label_a="Support v1", label_b="Support v2", v=v)
    text = json.dumps(built, ensure_ascii=False)
    for fragment in shown:
        assert fragment in text
    people = json.dumps(built[1:3], ensure_ascii=False)
    for fragment in hidden:
        assert fragment not in people


HOSTILE = "Ask <!channel> or <@U0EVIL>, see [docs](https://evil.example/b) " * 200


def test_model_text_is_inert_when_shortened_and_in_details() -> None:
    _, pair = blocks.blind_pair(
        message_id=1, position=0, total=1, question="<!here>?", reply_1=HOSTILE, reply_2=HOSTILE
    )
    view = blocks.pair_details(
        position=0, total=1, question="<!here>?", reply_1=HOSTILE, reply_2=HOSTILE
    )
    for built in (pair, view["blocks"]):
        text = json.dumps(built)
        for control in ("<!channel>", "<!here>", "<@U0EVIL", "](https://evil"):
            assert control not in text
        assert "docs (https://evil.example/b)" in text
    assert "(shortened; full text in Details)" in json.dumps(pair)


@pytest.mark.parametrize(
    ("progress", "line"),
    [
        (
            PairProgress(posted=0, failed=0, running=0, waiting=3, total=3),
            "Pairs posted *0/3* · 3 waiting",
        ),
        (
            PairProgress(posted=1, failed=1, running=1, waiting=0, total=3),
            "Pairs posted *1/3* · 1 being written · 1 failed",
        ),
        (PairProgress(posted=3, failed=0, running=0, waiting=0, total=3), "Pairs posted *3/3*"),
    ],
)
def test_the_parent_shows_the_pairs_progress_while_answering(
    progress: PairProgress, line: str
) -> None:
    assert blocks.progress_line(progress) == line
    assert line in parent("answering", progress=progress)
    # once voting opens (or the test ends) the parent no longer speaks of pairs being written
    for status in ("open", "failed", "cancelled"):
        assert "Pairs posted" not in parent(status, progress=progress, reason="why")

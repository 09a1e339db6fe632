"""How far each judge agrees with people: Cohen's κ with its interval on published values, the
mapping of each human signal to labels, the words shown, and the "Judge wrong" buttons."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot import ids
from bot.blocks.judges import agreement_text, flag_buttons, judge_blocks
from bot.domain.judges import KappaInterval
from bot.metrics import judges
from bot.metrics.agreement import cohen_kappa, cohen_kappa_interval
from bot.metrics.judges import MIN_LABELS, Flagged, Judge, JudgeAgreement
from tests.block_kit_rules import message_problems


def table(f00: int, f01: int, f10: int, f11: int) -> list[tuple[int, int]]:
    return [(0, 0)] * f00 + [(0, 1)] * f01 + [(1, 0)] * f10 + [(1, 1)] * f11


def test_kappa_interval_matches_statpsych_ci_kappa() -> None:
    # statpsych::ci.kappa(.05, 31, 12, 4, 58): Cohen kappa 0.6756757, SE 0.07344761,
    # 95% limits 0.5317210 and 0.8196303 (Fleiss, Levin & Paik 2003 standard error)
    k = cohen_kappa_interval(table(31, 12, 4, 58))
    assert k.labels == 105
    assert k.value == pytest.approx(0.6756757, abs=1e-7)
    assert k.low == pytest.approx(0.5317210, abs=1e-6)
    assert k.high == pytest.approx(0.8196303, abs=1e-6)


def test_kappa_matches_the_textbook_example_and_the_plain_kappa() -> None:
    # Wikipedia's "Cohen's kappa" worked example: 20 yes/yes, 5 yes/no, 10 no/yes, 15 no/no
    # gives p_o = 0.7, p_e = 0.5, κ = 0.4
    pairs = table(20, 5, 10, 15)
    k = cohen_kappa_interval(pairs)
    assert k.value == pytest.approx(0.4)
    assert k.low is not None and k.high is not None and k.low < 0.4 < k.high
    assert cohen_kappa(pairs).value == pytest.approx(k.value)


@pytest.mark.parametrize(
    ("pairs", "expected"),
    [
        ([], KappaInterval(None, None, None, 0)),
        # both raters always "a": chance agreement is 1, κ undefined
        ([("a", "a")] * 5, KappaInterval(None, None, None, 5)),
    ],
)
def test_kappa_undefined(pairs: list[tuple[str, str]], expected: KappaInterval) -> None:
    assert cohen_kappa_interval(pairs) == expected


def test_perfect_agreement_has_a_point_interval_inside_bounds() -> None:
    k = cohen_kappa_interval([("a", "a"), ("b", "b")] * 10)
    assert k.value == 1.0 and k.low == pytest.approx(1.0) and k.high == 1.0


def test_pairwise_labels_use_each_messages_majority() -> None:
    a = judges.pairwise(
        [
            ("a", ["a", "a", "b"]),  # agree
            ("b", ["a"]),  # disagree
            ("tie", ["tie", "tie"]),  # agree
            ("a", ["a", "b"]),  # split top: no majority, no label
            ("b", ["both_bad"]),  # "both bad" is no preference: no label
            (None, ["a"]),  # no judge verdict: no label
        ]
    )
    assert a.judge is Judge.PAIRWISE and a.labels == 3
    assert a.kappa == cohen_kappa_interval([("a", "a"), ("b", "a"), ("tie", "tie")])


def test_traits_labels_from_ratings_and_alignment() -> None:
    a = judges.traits(
        [
            (90.0, 2, 0),  # on target, liked: agree
            (75.0, 1, 0),  # at the threshold counts as on target
            (40.0, 0, 3),  # off target, disliked: agree
            (95.0, 0, 1),  # on target, disliked: disagree
            (50.0, 1, 1),  # people split: no label
        ]
    )
    assert a.labels == 4
    assert a.kappa == cohen_kappa_interval(
        [("good", "good"), ("good", "good"), ("bad", "bad"), ("good", "bad")]
    )


def test_behaviours_show_the_flagged_share_never_kappa() -> None:
    a = judges.behaviours(flagged=3, verdicts=120)
    assert a.kappa is None and a.flagged is not None
    assert a.flagged.share == pytest.approx(0.025)
    assert a.flagged.low is not None and a.flagged.low < 0.025 < (a.flagged.high or 0)
    assert judges.behaviours(flagged=0, verdicts=1).flagged == Flagged(0, 1, None, None)


def kappa(value: float | None, labels: int) -> JudgeAgreement:
    low = None if value is None else value - 0.1
    high = None if value is None else value + 0.1
    return JudgeAgreement(Judge.TRAITS, kappa=KappaInterval(value, low, high, labels))


@pytest.mark.parametrize(
    ("agreement", "shown", "warned"),
    [
        (kappa(0.71, 48), "judge agrees with your team κ = 0.71 (0.61–0.81) over 48 labels", False),
        (
            kappa(0.9, MIN_LABELS - 1),
            f"not enough labels to rate the judge (19 of {MIN_LABELS})",
            False,
        ),
        (JudgeAgreement(Judge.PAIRWISE), "not enough labels to rate the judge (0 of", False),
        (kappa(0.35, 30), "⚠️ judge agrees with your team κ = 0.35", True),
        (kappa(0.35, 30), "below 0.4, treat its verdicts with care", True),
        (kappa(None, 30), "κ n/a over 30 labels", False),
        (
            judges.behaviours(flagged=3, verdicts=120),
            "people flagged 3 of 120 verdicts as wrong: 2%",
            False,
        ),
        (judges.behaviours(flagged=3, verdicts=120), "a floor on its error rate", False),
        (judges.behaviours(flagged=30, verdicts=100), "⚠️ people flagged 30 of 100", True),
        (
            judges.behaviours(flagged=1, verdicts=5),
            "not enough labels to rate the judge (5 verdicts given",
            False,
        ),
    ],
)
def test_agreement_words(agreement: JudgeAgreement, shown: str, warned: bool) -> None:
    assert shown in agreement_text(agreement)
    assert agreement.warning is warned


def verdict(name: str, passed: bool | None, score: int | None) -> dict[str, Any]:
    return {"behaviour": name, "passed": passed, "score": score, "reason": "r"}


def test_flag_buttons_only_for_the_judges_verdicts() -> None:
    verdicts = [
        verdict("polite", True, 80),
        verdict("complete answer", False, None),  # checked in code
        verdict("careful", None, None),  # not judged
        verdict("x" * 200, False, 10),
    ]
    block = flag_buttons(7, verdicts)
    assert block is not None
    values = [json.loads(e["value"]) for e in block["elements"]]
    assert values == [{"r": 7, "b": 0}, {"r": 7, "b": 3}]
    action_ids = [e["action_id"] for e in block["elements"]]
    assert len(set(action_ids)) == 2 and all(ids.JUDGE_WRONG_PATTERN.match(a) for a in action_ids)
    shown = judge_blocks(7, verdicts, judges.behaviours(flagged=0, verdicts=40))
    assert message_problems({"blocks": shown, "text": "t"}) == []
    assert "people flagged 0 of 40" in json.dumps(shown)
    assert judge_blocks(7, [verdicts[1]], None) == []

"""Block Kit of the job edges (issue #16), table-driven: a run whose summary could not be
written (scenario and simulation), posts that could not be confirmed in the progress, the plan's
tasks and the summary."""

from __future__ import annotations

from typing import Any

import pytest

from bot import ids, limits
from bot.blocks import simulation as simulation_blocks
from bot.blocks.plan import POST_UNCONFIRMED, TaskStatus, task_output
from bot.blocks.scenarios import progress_text, report_failed_message, summary
from bot.jobs import gave_up
from tests.block_kit_rules import block_problems
from tests.test_blocks_scenarios import FIGURES


@pytest.mark.parametrize(
    ("build", "start", "action_id", "button"),
    [
        (
            report_failed_message,
            "Scenario run #7 on *Support v3*: A, B — all 9 messages answered, but the summary "
            "could not be written: the database did not answer.",
            ids.SCENARIO_RERUN,
            "Resume",
        ),
        (
            simulation_blocks.report_failed_message,
            "Simulation run #7 on *Support v3*: A, B — all 9 conversations played, but the "
            "summary could not be written: the database did not answer.",
            ids.SIMULATION_WRITE_SUMMARY,
            "Write summary",
        ),
    ],
)
def test_report_failed_message(build: Any, start: str, action_id: str, button: str) -> None:
    text, blocks = build(
        run_id=7, label="Support v3", names=["A", "B"], total=9, reason=gave_up.DATABASE
    )
    assert block_problems(blocks, most=limits.BLOCKS_PER_MESSAGE) == []
    assert text == start
    [act] = blocks[-1]["elements"]
    assert (act["action_id"], act["value"], act["text"]["text"]) == (action_id, "7", button)


@pytest.mark.parametrize(
    ("exc", "reason"),
    [
        (ConnectionResetError("db host 10.0.0.5"), gave_up.DATABASE),
        (TimeoutError(), gave_up.SLACK),
        (KeyError("xoxb-secret"), "an internal error (KeyError; the log has the details)"),
    ],
)
def test_failure_reason_names_the_kind_never_the_text(exc: Exception, reason: str) -> None:
    assert gave_up.failure_reason(exc) == reason


@pytest.mark.parametrize(
    ("unconfirmed", "shown"),
    [
        (0, "Scenario run #1 on *S v1*: A — 3/9 answered (1 failed)…"),
        (1, "Scenario run #1 on *S v1*: A — 3/9 answered (1 failed, 1 post not confirmed)…"),
        (2, "Scenario run #1 on *S v1*: A — 3/9 answered (1 failed, 2 posts not confirmed)…"),
    ],
)
def test_progress_counts_unconfirmed_posts(unconfirmed: int, shown: str) -> None:
    text = progress_text(
        run_id=1, label="S v1", names=["A"], done=3, total=9, failed=1, unconfirmed=unconfirmed
    )
    assert text == shown


@pytest.mark.parametrize(
    ("status", "unconfirmed", "output"),
    [
        (TaskStatus.COMPLETE, False, "passed 2 of 4 behaviours"),
        (TaskStatus.COMPLETE, True, f"passed 2 of 4 behaviours; {POST_UNCONFIRMED}"),
        (TaskStatus.ERROR, True, f"failed: timeout; {POST_UNCONFIRMED}"),
        (TaskStatus.PENDING, True, POST_UNCONFIRMED),
    ],
)
def test_task_output_marks_an_unconfirmed_post(
    status: TaskStatus, unconfirmed: bool, output: str
) -> None:
    shown = task_output(
        status=status, passed=2, judged=4, error_kind="timeout", unconfirmed=unconfirmed
    )
    assert shown == output


@pytest.mark.parametrize(("unconfirmed", "note"), [(0, None), (1, "1 answer"), (3, "3 answers")])
def test_summary_says_how_many_posts_could_not_be_confirmed(
    unconfirmed: int, note: str | None
) -> None:
    _, blocks = summary(
        run_id=12,
        label="Support v3",
        scenarios=[(1, FIGURES)],
        total=FIGURES,
        comparisons={},
        unconfirmed=unconfirmed,
    )
    assert block_problems(blocks, most=limits.BLOCKS_PER_MESSAGE) == []
    last = blocks[-1]["elements"][0]["text"]
    if note is None:
        assert "could not be confirmed" not in last
    else:
        assert last.startswith(f":warning: {note} could not be confirmed in the thread")


def test_summary_with_unconfirmed_posts_keeps_to_the_block_limit() -> None:
    many = [(i, FIGURES) for i in range(limits.BLOCKS_PER_MESSAGE + 5)]
    _, blocks = summary(
        run_id=1, label="S", scenarios=many, total=FIGURES, comparisons={}, unconfirmed=1
    )
    assert len(blocks) <= limits.BLOCKS_PER_MESSAGE
    assert "could not be confirmed" in blocks[-1]["elements"][0]["text"]

"""The chunks of a run's live plan (chat.startStream / appendStream / stopStream with
task_display_mode "plan"): a plan_update with the run's title and one task_update per planned
message (scenario runs) or per simulated conversation (simulation runs). Pure builders; the
stream itself is driven by bot.slack.live_plan."""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from bot import limits
from bot.slack.text import Dialect, neutralise

Chunk = dict[str, object]


class TaskStatus(StrEnum):
    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    COMPLETE = "complete"
    ERROR = "error"


STOPPED_OUTPUT: Final = "not run: the run was stopped"
# a lapsed thread post the app could not check (it cannot read the thread): not sent again
POST_UNCONFIRMED: Final = "post not confirmed"


def _fit(text: str, most: int = limits.STREAM_TASK_TEXT) -> str:
    return text if len(text) <= most else text[: most - 1] + "…"


def task_id(index: int) -> str:
    return f"m{index + 1}"


def task_title(*, index: int, scenario: str, message: str) -> str:
    """ "3. Refunds: I want my money back" (the scenario's text, neutralised: no @here)."""
    flat = " ".join(message.split())
    return _fit(neutralise(f"{index + 1}. {scenario}: {flat}", dialect=Dialect.MARKDOWN))


def task_output(
    *,
    status: TaskStatus,
    passed: int,
    judged: int,
    error_kind: str | None,
    unconfirmed: bool = False,
) -> str:
    """`unconfirmed`: its thread post could not be checked (the app cannot read the thread)."""
    text = _task_result(status=status, passed=passed, judged=judged, error_kind=error_kind)
    if unconfirmed:
        text = f"{text}; {POST_UNCONFIRMED}" if text else POST_UNCONFIRMED
    return _fit(text)


def _task_result(*, status: TaskStatus, passed: int, judged: int, error_kind: str | None) -> str:
    if status is TaskStatus.ERROR:
        return f"failed: {error_kind}" if error_kind else STOPPED_OUTPUT
    if status is not TaskStatus.COMPLETE:
        return ""
    if not judged:
        return "answered; no behaviour judged"
    return f"passed {passed} of {judged} behaviours"


def plan_title(
    *,
    run_id: int,
    label: str,
    done: int,
    failed: int,
    total: int,
    what: str = "Scenario run",
    unit: str = "messages",
) -> str:
    tail = f", {failed} failed" if failed else ""
    return _fit(f"{what} #{run_id} · {label}: {done} of {total} {unit}{tail}")


def plan_chunk(title: str) -> Chunk:
    return {"type": "plan_update", "title": title}


def task_chunk(*, task: str, title: str, status: TaskStatus, output: str) -> Chunk:
    chunk: Chunk = {"type": "task_update", "id": task, "title": title, "status": status.value}
    if output:
        chunk["output"] = _fit(output)
    return chunk


def text_chunk(text: str) -> Chunk:
    return {"type": "markdown_text", "text": text}


def finished_text(*, done: int, total: int, what: str = "messages answered") -> str:
    return f"Done: {done} of {total} {what}. The summary is in the run's message above."


# a run's plan stream's last line when the summary could not be written (the parent says why)
SUMMARY_NOT_WRITTEN: Final = "The summary could not be written: see the run's message."


def stopped_text(*, user_id: str, done: int, total: int, unit: str = "messages") -> str:
    return f"Stopped by <@{user_id}> after {done} of {total} {unit}."


# ---- simulation runs: one task per conversation (per sample with repeats) ---------------------

GOAL_OUTPUT: Final = {"yes": "goal met", "partly": "goal partly met", "no": "goal not met"}


def conversation_title(*, index: int, name: str, sample: int, repeat: int) -> str:
    """ "2. Charged twice (simulated) · sample 2 of 3" (the name is the workspace's text)."""
    tail = f" · sample {sample + 1} of {repeat}" if repeat > 1 else ""
    return _fit(neutralise(f"{index + 1}. {name}{tail}", dialect=Dialect.MARKDOWN))


def conversation_output(
    *,
    status: TaskStatus,
    customer_turns: int,
    turn_limit: int,
    verdict: str | None,
    fault: str | None,
) -> str:
    """in progress: "turn 3 of 8"; complete: "goal met in 5 turns" (the goal judge's verdict,
    or "not judged"); error: what broke (simulator fault, model error) or the Stop."""
    if status is TaskStatus.IN_PROGRESS:
        return f"turn {max(1, customer_turns)} of {turn_limit}" if customer_turns else "starting"
    if status is TaskStatus.PENDING:
        return ""
    turns = f"{customer_turns} turn{'' if customer_turns == 1 else 's'}"
    if status is TaskStatus.ERROR:
        why = neutralise(" ".join(fault.split()), dialect=Dialect.MARKDOWN) if fault else None
        if why:
            return f"{why} (after {turns})"
        return f"stopped after {turns}" if customer_turns else STOPPED_OUTPUT
    said = GOAL_OUTPUT.get(verdict or "", "goal not judged")
    return f"{said} in {turns}"

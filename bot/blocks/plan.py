"""The chunks of a scenario run's live plan (chat.startStream / appendStream / stopStream with
task_display_mode "plan"): a plan_update with the run's title and one task_update per planned
message. Pure builders; the stream itself is driven by bot.scenarios.plan_stream."""

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


def _fit(text: str, most: int = limits.STREAM_TASK_TEXT) -> str:
    return text if len(text) <= most else text[: most - 1] + "…"


def task_id(index: int) -> str:
    return f"m{index + 1}"


def task_title(*, index: int, scenario: str, message: str) -> str:
    """ "3. Refunds: I want my money back" (the scenario's text, neutralised: no @here)."""
    flat = " ".join(message.split())
    return _fit(neutralise(f"{index + 1}. {scenario}: {flat}", dialect=Dialect.MARKDOWN))


def task_output(*, status: TaskStatus, passed: int, judged: int, error_kind: str | None) -> str:
    if status is TaskStatus.ERROR:
        return f"failed: {error_kind}" if error_kind else STOPPED_OUTPUT
    if status is not TaskStatus.COMPLETE:
        return ""
    if not judged:
        return "answered; no behaviour judged"
    return f"passed {passed} of {judged} behaviours"


def plan_title(*, run_id: int, label: str, done: int, failed: int, total: int) -> str:
    tail = f", {failed} failed" if failed else ""
    return _fit(f"Scenario run #{run_id} · {label}: {done} of {total} messages{tail}")


def plan_chunk(title: str) -> Chunk:
    return {"type": "plan_update", "title": title}


def task_chunk(*, task: str, title: str, status: TaskStatus, output: str) -> Chunk:
    chunk: Chunk = {"type": "task_update", "id": task, "title": title, "status": status.value}
    if output:
        chunk["output"] = _fit(output)
    return chunk


def text_chunk(text: str) -> Chunk:
    return {"type": "markdown_text", "text": text}


def finished_text(*, done: int, total: int) -> str:
    return f"Done: {done} of {total} messages answered. The summary is in the run's message above."


def stopped_text(*, user_id: str, done: int, total: int) -> str:
    return f"Stopped by <@{user_id}> after {done} of {total} messages."

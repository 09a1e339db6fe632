"""What listeners need, built once at start-up and handed to `register_listeners`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import asyncpg

from bot.slack.ack_gate import AckGate
from bot.slack.stream_budget import StreamBudget
from bot.startup.settings import Settings

if TYPE_CHECKING:
    from bot.jobs.interactive import InteractiveQueue
    from bot.model.llm import LLM


@dataclass(frozen=True, slots=True)
class Deps:
    settings: Settings
    pool: asyncpg.Pool
    llm: LLM | None = None
    # chat.startStream / stopStream per workspace, shared by every answer and run of this app
    # (in PostgreSQL, so every process's too); None: built on `pool`
    streams: StreamBudget | None = None
    # /bot test answers queued for a worker (issue #16); None: built on `pool`
    answers: InteractiveQueue | None = None
    # requests waiting for their ack go before work that follows an ack (HTTP mode)
    acks: AckGate = field(default_factory=AckGate)

    def __post_init__(self) -> None:
        if self.streams is None:
            object.__setattr__(self, "streams", StreamBudget(pool=self.pool))
        if self.answers is None:
            from bot.jobs.interactive import InteractiveQueue  # its imports reach back here

            object.__setattr__(self, "answers", InteractiveQueue(self.pool))

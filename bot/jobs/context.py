"""What a job handler needs from its process: the settings every entry point has, the pool and
the model client. The app's `Deps` has them; so has the CI command's `HeadlessDeps` (no Slack
settings: its runs post nothing)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import asyncpg

from bot.slack.stream_budget import StreamBudget
from bot.startup.settings import CoreSettings

if TYPE_CHECKING:
    from bot.model.llm import LLM


class JobDeps(Protocol):
    @property
    def settings(self) -> CoreSettings: ...
    @property
    def pool(self) -> asyncpg.Pool: ...
    @property
    def llm(self) -> LLM | None: ...
    # the streams budget of the run's plan stream (bot.scenarios.plan_stream); None: no budget
    @property
    def streams(self) -> StreamBudget | None: ...


@dataclass(frozen=True, slots=True)
class HeadlessDeps:
    settings: CoreSettings
    pool: asyncpg.Pool
    llm: LLM | None
    streams: StreamBudget | None = None

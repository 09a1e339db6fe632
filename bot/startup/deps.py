"""What listeners need, built once at start-up and handed to `register_listeners`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import asyncpg

from bot.slack.stream_budget import StreamBudget
from bot.startup.settings import Settings

if TYPE_CHECKING:
    from bot.model.llm import LLM


@dataclass(frozen=True, slots=True)
class Deps:
    settings: Settings
    pool: asyncpg.Pool
    llm: LLM | None = None
    # chat.startStream / stopStream per workspace, shared by every answer of this app
    streams: StreamBudget = field(default_factory=StreamBudget)

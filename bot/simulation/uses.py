"""The simulated-customer use cases the `/bot scenario` commands call: names to recognise in
`run`, the run itself, delete, and the list section."""

from __future__ import annotations

import asyncpg

from bot import limits
from bot.blocks.common import Block
from bot.blocks.simulation import simulation_list
from bot.simulation.form import SIMULATIONS_KEYWORD
from bot.simulation.library import chosen, delete, every
from bot.simulation.run import start


async def names(pool: asyncpg.Pool, *, team_id: str) -> list[str]:
    return [s.name for s in await every(pool, team_id=team_id)] + [SIMULATIONS_KEYWORD]


async def with_simulations(pool: asyncpg.Pool, *, team_id: str, blocks: list[Block]) -> list[Block]:
    """The scenario list with the simulated customers after it, within a message's blocks."""
    extra = simulation_list(await every(pool, team_id=team_id))
    if not extra or len(blocks) + len(extra) > limits.BLOCKS_PER_MESSAGE:
        return blocks
    # before the list's last block (its Run all button)
    return [*blocks[:-1], *extra, *blocks[-1:]]


__all__ = ["chosen", "delete", "names", "start", "with_simulations"]

"""A workspace's simulated customers: the three seeds (added once, the first time a workspace
looks), found by name, saved from the form."""

from __future__ import annotations

from typing import Final

import asyncpg

from bot.blocks.common import escape
from bot.domain.simulation import TURN_LIMIT_DEFAULT, Persona, Simulation
from bot.errors import UserError
from bot.simulation.form import SIMULATIONS_KEYWORD, SimulationForm
from storage import scenarios as scenarios_repo
from storage import simulations as repo
from storage.simulations import SimulationNameTaken, SimulationNotFound

SEEDS: Final = (
    Simulation(
        id=0,
        team_id="",
        name="Charged twice (simulated)",
        persona=Persona(
            who="A customer on the monthly plan who found two identical charges on their card",
            mood="angry and impatient",
            expertise="non-technical",
            wants="a refund of the duplicate charge, confirmed with a date",
            gives_up_when="the bot asks for the same details twice or gives no refund date",
            facts="order number 48213; charged 29.00 twice on 3 March",
        ),
        goal="The duplicate charge is refunded, or a refund is confirmed with when it arrives",
        behaviours=("empathetic", "policy-aware", "offers a next step"),
        turn_limit=TURN_LIMIT_DEFAULT,
    ),
    Simulation(
        id=0,
        team_id="",
        name="Cannot log in (simulated)",
        persona=Persona(
            who="A first-time user who signed up yesterday and cannot log in",
            mood="confused and a little anxious",
            expertise="beginner; unsure what a password reset link is",
            wants="to get into their account",
            gives_up_when="the bot uses jargon they do not understand twice in a row",
            facts="signed up with anna@example.com",
        ),
        goal="The customer knows the exact steps to log in and can follow them",
        behaviours=("patient", "plain language", "step by step"),
        turn_limit=TURN_LIMIT_DEFAULT,
    ),
    Simulation(
        id=0,
        team_id="",
        name="API error codes (simulated)",
        persona=Persona(
            who="A backend engineer integrating the REST API into their billing system",
            mood="focused and terse",
            expertise="expert; reads HTTP status codes and JSON bodies",
            wants="the exact error codes the API returns and when to retry",
            gives_up_when="the bot answers vaguely twice instead of naming codes",
            facts="gets HTTP 429 and 409 from POST /v1/invoices",
        ),
        goal="The engineer gets the exact error codes with their meaning and retry advice",
        behaviours=("technical", "precise", "does not invent facts"),
        turn_limit=TURN_LIMIT_DEFAULT,
    ),
)


async def seeded(pool: asyncpg.Pool, *, team_id: str) -> None:
    await repo.ensure_seeded(pool, team_id=team_id, seeds=SEEDS)


async def every(pool: asyncpg.Pool, *, team_id: str) -> list[Simulation]:
    await seeded(pool, team_id=team_id)
    return await repo.list_simulations(pool, team_id=team_id)


async def chosen(pool: asyncpg.Pool, *, team_id: str, name: str) -> list[Simulation] | None:
    """The simulations a name picks (`simulations`: all of them); None when no simulation has
    that name, so the caller can look for a scripted scenario instead."""
    simulations = await every(pool, team_id=team_id)
    if name.strip().lower() == SIMULATIONS_KEYWORD:
        return simulations
    wanted = name.strip().lower()
    found = [s for s in simulations if s.name.lower() == wanted]
    return found or None


async def save(
    pool: asyncpg.Pool, *, team_id: str, form: SimulationForm, user_id: str
) -> Simulation:
    """Raises SimulationNameTaken (also when a scripted scenario has the name: a name picks
    one scenario)."""
    await seeded(pool, team_id=team_id)
    try:
        await scenarios_repo.find_scenario(pool, team_id=team_id, name=form.name)
    except scenarios_repo.ScenarioNotFound:
        pass
    else:
        raise SimulationNameTaken(form.name)
    return await repo.create_simulation(
        pool,
        team_id=team_id,
        name=form.name,
        persona=form.persona,
        goal=form.goal,
        behaviours=form.behaviours,
        turn_limit=form.turn_limit,
        user_id=user_id,
    )


async def delete(pool: asyncpg.Pool, *, team_id: str, name: str) -> str | None:
    """None when no simulation has that name."""
    try:
        found = await repo.find_simulation(pool, team_id=team_id, name=name)
    except SimulationNotFound:
        return None
    await repo.delete_simulation(pool, team_id=team_id, simulation_id=found.id)
    return f"Deleted simulated customer *{escape(found.name)}*. Past runs keep what they ran."


__all__ = ["SEEDS", "SimulationNameTaken", "UserError", "chosen", "every", "save", "seeded"]

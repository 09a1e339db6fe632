"""A workspace's scenarios: listed with their last runs, found by name, saved from the form,
deleted. The seed scenarios are added the first time a workspace looks."""

from __future__ import annotations

import asyncpg

from bot.blocks.common import Block, escape
from bot.blocks.scenarios import scenario_list
from bot.domain.scenarios import Scenario
from bot.errors import UserError
from bot.scenarios.form import ScenarioForm
from storage import scenarios as repo
from storage.scenarios import ScenarioNameTaken as ScenarioNameTaken
from storage.scenarios import ScenarioNotFound as ScenarioNotFound

NO_SUCH_SCENARIO = "That scenario no longer exists in this workspace."


async def listing(pool: asyncpg.Pool, *, team_id: str) -> tuple[str, list[Block]]:
    await repo.ensure_seeded(pool, team_id=team_id)
    await repo.mark_stale_runs_interrupted(pool)
    scenarios = await repo.list_scenarios(pool, team_id=team_id)
    last = await repo.last_runs(pool, team_id=team_id)
    return scenario_list(scenarios, last)


async def every(pool: asyncpg.Pool, *, team_id: str) -> list[Scenario]:
    await repo.ensure_seeded(pool, team_id=team_id)
    return await repo.list_scenarios(pool, team_id=team_id)


async def seeded(pool: asyncpg.Pool, *, team_id: str) -> None:
    await repo.ensure_seeded(pool, team_id=team_id)


async def by_name(pool: asyncpg.Pool, *, team_id: str, name: str, usage: str) -> Scenario:
    await repo.ensure_seeded(pool, team_id=team_id)
    if not name:
        raise UserError(usage)
    try:
        return await repo.find_scenario(pool, team_id=team_id, name=name)
    except ScenarioNotFound:
        raise UserError(
            f"There is no scenario named *{escape(name)}*. `/bot scenarios` lists them."
        ) from None


async def chosen_by_button(pool: asyncpg.Pool, *, team_id: str, value: str) -> list[Scenario]:
    """A Run button's scenario, or every scenario for Run all."""
    if value == "all":
        return await repo.list_scenarios(pool, team_id=team_id)
    try:
        return [await repo.get_scenario(pool, team_id=team_id, scenario_id=int(value))]
    except (ValueError, ScenarioNotFound):
        raise UserError(NO_SUCH_SCENARIO) from None


async def delete(pool: asyncpg.Pool, *, team_id: str, scenario: Scenario) -> str:
    await repo.delete_scenario(pool, team_id=team_id, scenario_id=scenario.id)
    return f"Deleted scenario *{escape(scenario.name)}*. Past runs keep what they ran."


async def save(
    pool: asyncpg.Pool,
    *,
    team_id: str,
    scenario_id: int | None,
    form: ScenarioForm,
    user_id: str,
) -> Scenario:
    """Create the scenario (`scenario_id` None) or update it. Raises ScenarioNameTaken or
    ScenarioNotFound for the form to show."""
    if scenario_id is None:
        return await repo.create_scenario(
            pool,
            team_id=team_id,
            name=form.name,
            description=form.description,
            messages=form.messages,
            behaviours=form.behaviours,
            user_id=user_id,
        )
    return await repo.update_scenario(
        pool,
        team_id=team_id,
        scenario_id=scenario_id,
        name=form.name,
        description=form.description,
        messages=form.messages,
        behaviours=form.behaviours,
        user_id=user_id,
    )

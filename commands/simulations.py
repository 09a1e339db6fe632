"""Simulated customers in `/bot scenario new`: the kind choice on top of the form swaps the
form; the simulated customer's form is validated and saved here."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient

from bot import ids
from bot.blocks.common import counted, escape
from bot.blocks.scenarios import FormContext, read_form, scenario_form
from bot.blocks.simulation import simulation_form, with_kind_choice
from bot.simulation import library, report_retry
from bot.simulation import run as simulation_run
from bot.simulation.form import validate
from bot.startup.deps import Deps
from commands import payload
from commands.deadlines import SAVE_TOO_SLOW, AckBudget
from commands.listen import Click, stop_click
from commands.replies import confirm_text, said
from commands.request import Reply
from storage.simulations import SimulationNameTaken

log = logging.getLogger(__name__)


def new_form(context: FormContext, kind: str) -> dict[str, Any]:
    if kind == ids.SCENARIO_KIND_SIMULATED:
        return with_kind_choice(simulation_form(context), chosen=kind)
    return with_kind_choice(scenario_form(None, context=context), chosen=ids.SCENARIO_KIND_SINGLE)


async def kind_changed(deps: Deps, click: Click) -> Reply | None:
    """The kind radio on a new scenario's form: the form of that kind replaces it."""
    view: dict[str, Any] = click.body.get("view") or {}
    actions = click.body.get("actions") or [{}]
    kind = str((actions[0].get("selected_option") or {}).get("value", ""))
    try:
        context = FormContext.load(str(view.get("private_metadata", "")))
    except (ValueError, KeyError, TypeError):
        return None
    await click.client.views_update(
        view_id=str(view.get("id", "")), hash=view.get("hash"), view=new_form(context, kind)
    )
    return None


async def handle_submit(
    deps: Deps, *, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, team_id: str
) -> None:
    budget = AckBudget()
    view: dict[str, Any] = body["view"]
    user_id = str(body["user"]["id"])
    nul = payload.nul_errors(view)
    if nul:
        await ack(response_action="errors", errors=nul)
        return
    try:
        context = FormContext.load(view.get("private_metadata", ""))
    except (ValueError, KeyError, TypeError):
        await ack(
            response_action="errors", errors={ids.SIMULATION_NAME: "This form is out of date."}
        )
        return
    form, errors = validate(read_form(view))
    if form is None:
        await ack(response_action="errors", errors=errors)
        return
    try:
        saved = await budget.run(
            library.save(deps.pool, team_id=team_id, form=form, user_id=user_id)
        )
    except SimulationNameTaken:
        await ack(
            response_action="errors",
            errors={ids.SIMULATION_NAME: "A scenario with this name already exists."},
        )
        return
    except TimeoutError:
        log.warning("saving a simulated customer took too long")
        await ack(response_action="errors", errors={ids.SIMULATION_NAME: SAVE_TOO_SLOW})
        return
    except Exception:
        log.exception("saving a simulated customer failed")
        await ack(
            response_action="errors",
            errors={ids.SIMULATION_NAME: "Saving failed; nothing was changed. Press Save again."},
        )
        return
    await ack()
    await confirm_text(
        client,
        response_url=context.response_url,
        channel_id=context.channel_id,
        user_id=user_id,
        text=(
            f"Created simulated customer *{escape(saved.name)}*: up to "
            f"{counted(saved.turn_limit, 'turn')}, "
            f"{counted(len(saved.behaviours), 'expected behaviour')}. Run it with "
            f"`/bot scenario run {saved.name}`."
        ),
    )


stop_button = stop_click(simulation_run.stop)


async def write_summary_button(deps: Deps, click: Click) -> Reply | None:
    """Write summary, on a simulation run whose summary could not be written."""
    return said(
        await report_retry.write_summary(deps, team_id=click.team_id, run_id=click.id_value())
    )

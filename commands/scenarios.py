"""`/bot scenarios` and `/bot scenario new|edit|delete|run`, the scenario form and Run buttons."""

from __future__ import annotations

import logging
from typing import Any, Final

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient

from bot import ids, messages
from bot.blocks.common import counted, escape
from bot.blocks.confirm import confirm_prompt
from bot.blocks.scenarios import FormContext, read_form, scenario_form
from bot.domain.scenarios import REPEAT_MAX, Scenario
from bot.errors import UserError
from bot.persona.versions import resolve_version
from bot.scenarios import library
from bot.scenarios import run as scenario_run
from bot.scenarios.form import validate
from bot.scenarios.library import ScenarioNameTaken, ScenarioNotFound
from bot.simulation import uses as simulated
from bot.slack.roles import NOT_AN_EDITOR, is_editor
from bot.startup.deps import Deps
from commands import payload
from commands.deadlines import ROLE_CHECK_S, ROLE_CHECK_TOO_SLOW, SAVE_TOO_SLOW, AckBudget
from commands.listen import Click, stop_click
from commands.parse import Parsed
from commands.replies import answering, confirm_text, open_view, said
from commands.request import Reply, SlashRequest
from commands.simulations import new_form

log = logging.getLogger(__name__)

USAGE: Final = (
    "Usage: `/bot scenarios` to list them; `/bot scenario new`; `/bot scenario edit <name>`; "
    "`/bot scenario delete <name>`; `/bot scenario run <name|all> [profile[@version]] "
    "[repeat N] [confirm]`, e.g. `/bot scenario run Billing questions Support@3 repeat 5`; "
    "`/bot scenario rerun <run id>` answers what an interrupted run is missing."
)


async def list_all(deps: Deps, req: SlashRequest, parsed: Parsed) -> Reply:
    if parsed.rest or parsed.profile:
        raise UserError(USAGE)
    text, blocks = await library.listing(deps.pool, team_id=req.team_id)
    return Reply(
        text, await simulated.with_simulations(deps.pool, team_id=req.team_id, blocks=blocks)
    )


async def _by_name(deps: Deps, team_id: str, name: str) -> Scenario:
    return await library.by_name(deps.pool, team_id=team_id, name=name, usage=USAGE)


def split_confirm(words: list[str]) -> tuple[list[str], bool]:
    """A trailing `confirm`: run even above the team's limit of model calls."""
    if words and words[-1].lower() == "confirm":
        return words[:-1], True
    return words, False


def split_repeat(words: list[str]) -> tuple[list[str], int]:
    """A trailing `repeat N` (1 to REPEAT_MAX samples of each message); 1 without it."""
    if len(words) >= 2 and words[-2].lower() == "repeat":
        count = words[-1]
        if not count.isdigit() or not 1 <= int(count) <= REPEAT_MAX:
            raise UserError(
                f"`repeat` takes a number of samples from 1 to {REPEAT_MAX}, "
                "e.g. `/bot scenario run all repeat 5`."
            )
        return words[:-2], int(count)
    return words, 1


def split_run_args(words: list[str], names: list[str]) -> tuple[str, str | None]:
    """`<scenario name (may have spaces) | all> [profile[@version]]`: the longest known name."""
    known = {n.lower() for n in names} | {"all"}
    for k in range(len(words), 0, -1):
        candidate = " ".join(words[:k])
        rest = words[k:]
        if candidate.lower() in known and len(rest) <= 1:
            return candidate, rest[0] if rest else None
    if len(words) >= 2:
        return " ".join(words[:-1]), words[-1]
    return " ".join(words), None


async def handle(
    deps: Deps, client: AsyncWebClient, req: SlashRequest, parsed: Parsed
) -> Reply | None:
    action, _, rest = parsed.rest.partition(" ")
    rest = rest.strip()
    action = action.lower()
    if action == "new":
        if rest:
            raise UserError("`/bot scenario new` opens a form; it takes no arguments.")
        await library.seeded(deps.pool, team_id=req.team_id)
        return await _open_form(client, req, None)
    if action == "edit":
        return await _open_form(client, req, await _by_name(deps, req.team_id, rest))
    if action == "delete":
        deleted = await simulated.delete(deps.pool, team_id=req.team_id, name=rest)
        if deleted is not None:
            return Reply(deleted)
        scenario = await _by_name(deps, req.team_id, rest)
        return Reply(await library.delete(deps.pool, team_id=req.team_id, scenario=scenario))
    if action in {"rerun", "resume"}:
        words, confirmed = split_confirm(rest.split())
        number = " ".join(words).lstrip("#")
        if not number.isdigit() or len(number) > payload.MAX_ID_DIGITS:
            raise UserError("Usage: `/bot scenario rerun <run id>`, e.g. `/bot scenario rerun 12`.")
        limit = deps.settings.confirm_model_calls
        calls = (
            None
            if confirmed
            else await scenario_run.resume_calls_above(
                deps.pool, team_id=req.team_id, run_id=int(number), limit=limit
            )
        )
        if calls is not None:
            return Reply(messages.run_needs_confirming(calls, limit, by_command=True))
        stopped = await scenario_run.resume(
            answering(deps),
            client,
            team_id=req.team_id,
            run_id=int(number),
            channel_id=req.channel_id,
        )
        return said(stopped)
    if action == "run":
        scenarios = await library.every(deps.pool, team_id=req.team_id)
        words, confirmed = split_confirm(rest.split())
        words, repeat = split_repeat(words)
        names = [s.name for s in scenarios]
        names += await simulated.names(deps.pool, team_id=req.team_id)
        name, spec = split_run_args(words, names)
        if not name:
            raise UserError(USAGE)
        simulations = await simulated.chosen(deps.pool, team_id=req.team_id, name=name)
        if simulations is not None:
            version = await resolve_version(
                deps.pool, team_id=req.team_id, channel_id=req.channel_id, spec=spec
            )
            return said(
                await simulated.start(
                    deps.pool,
                    client,
                    team_id=req.team_id,
                    channel_id=req.channel_id,
                    user_id=req.user_id,
                    version=version,
                    simulations=simulations,
                    repeat=repeat,
                    confirm_above=deps.settings.confirm_model_calls,
                    confirmed=confirmed,
                )
            )
        chosen = scenarios if name.lower() == "all" else [await _by_name(deps, req.team_id, name)]
        version = await resolve_version(
            deps.pool, team_id=req.team_id, channel_id=req.channel_id, spec=spec
        )
        return said(
            await scenario_run.start(
                answering(deps),
                client,
                concurrency=deps.settings.scenario_concurrency,
                team_id=req.team_id,
                channel_id=req.channel_id,
                user_id=req.user_id,
                version=version,
                scenarios=chosen,
                repeat=repeat,
                confirm_above=deps.settings.confirm_model_calls,
                confirmed=confirmed,
            )
        )
    raise UserError(USAGE)


async def _open_form(
    client: AsyncWebClient, req: SlashRequest, scenario: Scenario | None
) -> Reply | None:
    context = FormContext(scenario.id if scenario else None, req.channel_id, req.response_url)
    # a new scenario's form starts with the kind choice (single messages / simulated customer)
    view = (
        scenario_form(scenario, context=context)
        if scenario
        else new_form(context, ids.SCENARIO_KIND_SINGLE)
    )
    return await open_view(client, trigger_id=req.trigger_id, view=view)


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
        await ack(response_action="errors", errors={ids.SCENARIO_NAME: "This form is out of date."})
        return
    form, errors = validate(read_form(view))
    if form is None:
        await ack(response_action="errors", errors=errors)
        return
    if context.scenario_id is not None:
        try:
            allowed = await budget.run(
                is_editor(deps, client, team_id=team_id, user_id=user_id),
                at_most=ROLE_CHECK_S,
            )
        except TimeoutError:
            log.warning("role check took too long; the scenario form stays open")
            await ack(response_action="errors", errors={ids.SCENARIO_NAME: ROLE_CHECK_TOO_SLOW})
            return
        if not allowed:
            await ack(response_action="errors", errors={ids.SCENARIO_NAME: NOT_AN_EDITOR})
            return
    try:
        saved = await budget.run(
            library.save(
                deps.pool,
                team_id=team_id,
                scenario_id=context.scenario_id,
                form=form,
                user_id=user_id,
            )
        )
    except ScenarioNameTaken:
        await ack(
            response_action="errors",
            errors={ids.SCENARIO_NAME: "A scenario with this name already exists."},
        )
        return
    except ScenarioNotFound:
        await ack(
            response_action="errors",
            errors={ids.SCENARIO_NAME: "This scenario no longer exists in this workspace."},
        )
        return
    except TimeoutError:
        log.warning("saving a scenario took too long")
        await ack(response_action="errors", errors={ids.SCENARIO_NAME: SAVE_TOO_SLOW})
        return
    except Exception:
        log.exception("saving a scenario failed")
        await ack(
            response_action="errors",
            errors={ids.SCENARIO_NAME: "Saving failed; nothing was changed. Press Save again."},
        )
        return
    await ack()
    verb = "Created" if context.scenario_id is None else "Saved"
    await confirm_text(
        client,
        response_url=context.response_url,
        channel_id=context.channel_id,
        user_id=user_id,
        text=(
            f"{verb} scenario *{escape(saved.name)}*: {counted(len(saved.messages), 'message')}, "
            f"{counted(len(saved.behaviours), 'expected behaviour')}. Run it with "
            f"`/bot scenario run {saved.name}`."
        ),
    )


async def rerun_button(deps: Deps, click: Click, *, confirmed: bool = False) -> Reply | None:
    channel_id = click.channel_id
    limit = deps.settings.confirm_model_calls
    if not confirmed:
        calls = await scenario_run.resume_calls_above(
            deps.pool, team_id=click.team_id, run_id=click.id_value(), limit=limit
        )
        if calls is not None:
            return Reply(
                *confirm_prompt(
                    messages.run_needs_confirming(calls, limit),
                    action_id=ids.SCENARIO_RERUN_CONFIRMED,
                    value=click.value,
                )
            )
    stopped = await scenario_run.resume(
        answering(deps),
        click.client,
        team_id=click.team_id,
        run_id=click.id_value(),
        channel_id=channel_id,
    )
    return said(stopped)


stop_button = stop_click(scenario_run.stop)


async def run_button(deps: Deps, click: Click, *, confirmed: bool = False) -> Reply | None:
    value = click.value
    channel_id = click.channel_id
    user_id = click.user_id
    chosen = await library.chosen_by_button(deps.pool, team_id=click.team_id, value=value)
    limit = deps.settings.confirm_model_calls
    calls = None if confirmed else scenario_run.calls_above(chosen, limit=limit)
    if calls is not None:
        return Reply(
            *confirm_prompt(
                messages.run_needs_confirming(calls, limit),
                action_id=ids.SCENARIO_RUN_CONFIRMED,
                value=value,
            )
        )
    version = await resolve_version(
        deps.pool, team_id=click.team_id, channel_id=channel_id, spec=None
    )
    stopped = await scenario_run.start(
        answering(deps),
        click.client,
        concurrency=deps.settings.scenario_concurrency,
        team_id=click.team_id,
        channel_id=channel_id,
        user_id=user_id,
        version=version,
        scenarios=chosen,
    )
    return said(stopped)


async def run_confirmed(deps: Deps, click: Click) -> Reply | None:
    return await run_button(deps, click, confirmed=True)


async def rerun_confirmed(deps: Deps, click: Click) -> Reply | None:
    return await rerun_button(deps, click, confirmed=True)

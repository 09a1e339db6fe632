"""All listener wiring in one place: which Slack payload goes to which handler."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot import ids
from bot.home_tab import HomeTab
from bot.slack import workspace
from bot.startup.deps import Deps
from commands import (
    ab,
    ab_voting,
    actions,
    answers,
    calibrate,
    config,
    dm,
    judges,
    knowledge,
    purge,
    router,
    scenario_shortcut,
    scenarios,
    simulations,
    threads,
)
from commands import stats as stats_command
from commands.activity import WorkspaceActivity
from commands.listen import ClickHandler, button, submission, team_of


def register_listeners(
    app: AsyncApp, deps: Deps, *, forget_authorization: Callable[[str], None] | None = None
) -> None:
    """`forget_authorization`: drops a workspace's cached authorisation when it uninstalls."""
    activity = WorkspaceActivity(deps.pool)
    home_tab = HomeTab(deps.pool)
    app.middleware(activity.middleware)

    @app.command(ids.SLASH_COMMAND)
    async def bot_command(
        ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        await router.handle(deps, ack=ack, body=body, respond=respond, client=client)

    for view_id, on_submit in (
        (ids.CONFIG_MODAL, config.handle_submit),
        (ids.KNOWLEDGE_MODAL, knowledge.handle_submit),
        (ids.PURGE_MODAL, purge.handle_submit),
        (ids.SCENARIO_MODAL, scenarios.handle_submit),
        (ids.SIMULATION_MODAL, simulations.handle_submit),
    ):
        app.view(view_id)(submission(deps, on_submit))

    # buttons answered ephemerally where they were clicked
    buttons: list[tuple[str, ClickHandler]] = [
        (ids.HISTORY_MORE, actions.history_more),
        (ids.ANSWER_DETAILS, answers.details),
        (ids.ANSWER_UP, answers.thumbs_up),
        (ids.ANSWER_DOWN, answers.thumbs_down),
        (ids.ANSWER_FEEDBACK, answers.native_feedback),
        (ids.SCENARIO_RERUN, scenarios.rerun_button),
        (ids.SCENARIO_STOP, scenarios.stop_button),
        (ids.SCENARIO_RUN, scenarios.run_button),
        (ids.SCENARIO_RUN_ALL, scenarios.run_button),
        *((vote_id, ab_voting.vote) for vote_id in ids.AB_VOTES),
        (ids.AB_DETAILS, ab_voting.details),
        *((vote_id, ab_voting.simulation_vote) for vote_id in ids.AB_SIM_VOTES),
        (ids.AB_TRANSCRIPT, ab_voting.transcript),
        (ids.AB_CLOSE, ab.close_button),
        (ids.AB_CANCEL, ab.cancel_button),
        (ids.STATS_CHART, stats_command.chart_button),
        (ids.DM_PROFILE_PICK, dm.pick_profile),
        (ids.ANSWER_SAVE_SCENARIO, scenario_shortcut.from_answer),
        (ids.SCENARIO_KIND, simulations.kind_changed),
    ]
    for action_id, on_click in buttons:
        app.action(action_id)(button(deps, on_click))
    # the profile card's buttons are also on the App Home tab, which has no response_url
    for action_id, on_click in (
        (ids.CARD_HISTORY, actions.card_history),
        (ids.CARD_EDIT, actions.card_edit),
    ):
        app.action(action_id)(button(deps, on_click, direct_message=True))
    # ---- issue #17: checking the judges, confirming runs from buttons ----
    app.action(ids.JUDGE_WRONG_PATTERN)(button(deps, judges.judge_wrong))
    app.action(ids.SCENARIO_RUN_CONFIRMED)(button(deps, scenarios.run_confirmed))
    app.action(ids.SCENARIO_RERUN_CONFIRMED)(button(deps, scenarios.rerun_confirmed))
    # ---- issue #19: Stop on a simulation run ----
    app.action(ids.SIMULATION_STOP)(button(deps, simulations.stop_button))
    # ---- issue #16: Write summary on a simulation run whose report failed ----
    app.action(ids.SIMULATION_WRITE_SUMMARY)(button(deps, simulations.write_summary_button))
    # ---- issue #16: Stop on a calibration sweep ----
    app.action(ids.CALIBRATION_STOP)(button(deps, calibrate.stop_button))

    # a message shortcut acks and replies as a button does: its payload has a response_url
    app.shortcut(ids.SCENARIO_FROM_THREAD)(button(deps, scenario_shortcut.from_message))
    # ---- issue #18: the Save-as-scenario modal's kind choice drafts the other kind ----
    app.action(ids.SCENARIO_DRAFT_KIND)(button(deps, scenario_shortcut.kind_changed))

    @app.event("message")
    async def thread_message(
        event: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        on_message = dm.on_message if dm.is_dm(event) else threads.on_message
        await on_message(
            deps, client, event=event, team_id=team_of(context), bot_user_id=context.bot_user_id
        )

    @app.event("app_mention")
    async def mention(
        event: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        await threads.on_mention(
            deps, client, event=event, team_id=team_of(context), bot_user_id=context.bot_user_id
        )

    @app.event("app_uninstalled")
    async def app_uninstalled(context: AsyncBoltContext) -> None:
        await workspace.uninstalled(
            deps.pool,
            store=app.installation_store,
            team_id=context.team_id or "",
            enterprise_id=context.enterprise_id,
        )
        activity.forget(team_of(context))
        if forget_authorization is not None:
            forget_authorization(team_of(context))

    @app.event("app_home_opened")
    async def home_opened(
        event: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        await home_tab.opened(client, event=event, team_id=team_of(context))
        await dm.on_tab_opened(deps, client, event=event, team_id=team_of(context))

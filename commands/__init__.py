"""All listener wiring in one place: which Slack payload goes to which handler."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot import ids
from bot.deps import Deps
from commands import (
    ab_closing,
    ab_voting,
    actions,
    answers,
    config,
    home,
    knowledge,
    lifecycle,
    purge,
    router,
    scenarios,
    threads,
)
from commands import stats as stats_command
from commands.activity import WorkspaceActivity


def _team(context: AsyncBoltContext) -> str:
    # Bolt derives the team from the signed payload; handlers never trust ids from button values
    return context.team_id or context.enterprise_id or ""


def register_listeners(app: AsyncApp, deps: Deps) -> None:
    activity = WorkspaceActivity(deps.pool)
    app.middleware(activity.middleware)

    @app.command(ids.SLASH_COMMAND)
    async def bot_command(
        ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        await router.handle(deps, ack=ack, body=body, respond=respond, client=client)

    @app.view(ids.CONFIG_MODAL)
    async def config_submitted(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        await config.handle_submit(deps, ack=ack, body=body, client=client, team_id=_team(context))

    @app.action(ids.HISTORY_MORE)
    async def history_more(
        ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond, context: AsyncBoltContext
    ) -> None:
        await actions.history_more(
            deps, ack=ack, body=body, respond=respond, team_id=_team(context)
        )

    @app.action(ids.CARD_HISTORY)
    async def card_history(
        ack: AsyncAck,
        body: dict[str, Any],
        respond: AsyncRespond,
        client: AsyncWebClient,
        context: AsyncBoltContext,
    ) -> None:
        await actions.card_history(
            deps, ack=ack, body=body, respond=respond, client=client, team_id=_team(context)
        )

    @app.action(ids.CARD_EDIT)
    async def card_edit(
        ack: AsyncAck,
        body: dict[str, Any],
        respond: AsyncRespond,
        client: AsyncWebClient,
        context: AsyncBoltContext,
    ) -> None:
        await actions.card_edit(
            deps, ack=ack, body=body, respond=respond, client=client, team_id=_team(context)
        )

    @app.action(ids.ANSWER_DETAILS)
    async def answer_details(
        ack: AsyncAck,
        body: dict[str, Any],
        respond: AsyncRespond,
        client: AsyncWebClient,
        context: AsyncBoltContext,
    ) -> None:
        await answers.details(
            deps, ack=ack, body=body, respond=respond, client=client, team_id=_team(context)
        )

    @app.action(ids.ANSWER_UP)
    async def answer_up(
        ack: AsyncAck,
        body: dict[str, Any],
        respond: AsyncRespond,
        client: AsyncWebClient,
        context: AsyncBoltContext,
    ) -> None:
        await answers.feedback(
            deps,
            ack=ack,
            body=body,
            respond=respond,
            client=client,
            team_id=_team(context),
            rating=1,
        )

    @app.action(ids.ANSWER_DOWN)
    async def answer_down(
        ack: AsyncAck,
        body: dict[str, Any],
        respond: AsyncRespond,
        client: AsyncWebClient,
        context: AsyncBoltContext,
    ) -> None:
        await answers.feedback(
            deps,
            ack=ack,
            body=body,
            respond=respond,
            client=client,
            team_id=_team(context),
            rating=-1,
        )

    @app.event("message")
    async def thread_message(
        event: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        await threads.on_message(
            deps, client, event=event, team_id=_team(context), bot_user_id=context.bot_user_id
        )

    @app.event("app_mention")
    async def mention(
        event: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        await threads.on_mention(
            deps, client, event=event, team_id=_team(context), bot_user_id=context.bot_user_id
        )

    @app.view(ids.KNOWLEDGE_MODAL)
    async def knowledge_submitted(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        await knowledge.handle_submit(
            deps, ack=ack, body=body, client=client, team_id=_team(context)
        )

    @app.event("app_uninstalled")
    async def app_uninstalled(context: AsyncBoltContext) -> None:
        await lifecycle.uninstalled(deps, store=app.installation_store, context=context)
        activity.forget(_team(context))

    @app.view(ids.PURGE_MODAL)
    async def purge_confirmed(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        await purge.handle_submit(deps, ack=ack, body=body, client=client, team_id=_team(context))

    @app.view(ids.SCENARIO_MODAL)
    async def scenario_submitted(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        await scenarios.handle_submit(
            deps, ack=ack, body=body, client=client, team_id=_team(context)
        )

    @app.action(ids.SCENARIO_RERUN)
    async def scenario_rerun_button(
        ack: AsyncAck,
        body: dict[str, Any],
        respond: AsyncRespond,
        client: AsyncWebClient,
        context: AsyncBoltContext,
    ) -> None:
        await scenarios.rerun_button(
            deps, ack=ack, body=body, respond=respond, client=client, team_id=_team(context)
        )

    @app.action(ids.SCENARIO_RUN)
    @app.action(ids.SCENARIO_RUN_ALL)
    async def scenario_run_button(
        ack: AsyncAck,
        body: dict[str, Any],
        respond: AsyncRespond,
        client: AsyncWebClient,
        context: AsyncBoltContext,
    ) -> None:
        await scenarios.run_button(
            deps, ack=ack, body=body, respond=respond, client=client, team_id=_team(context)
        )

    async def ab_vote(
        ack: AsyncAck,
        body: dict[str, Any],
        respond: AsyncRespond,
        client: AsyncWebClient,
        context: AsyncBoltContext,
    ) -> None:
        await ab_voting.vote(
            deps, ack=ack, body=body, respond=respond, client=client, team_id=_team(context)
        )

    for action_id in ids.AB_VOTES:
        app.action(action_id)(ab_vote)

    @app.action(ids.AB_DETAILS)
    async def ab_details(
        ack: AsyncAck,
        body: dict[str, Any],
        respond: AsyncRespond,
        client: AsyncWebClient,
        context: AsyncBoltContext,
    ) -> None:
        await ab_voting.details(
            deps, ack=ack, body=body, respond=respond, client=client, team_id=_team(context)
        )

    @app.action(ids.AB_CLOSE)
    async def ab_close(
        ack: AsyncAck,
        body: dict[str, Any],
        respond: AsyncRespond,
        client: AsyncWebClient,
        context: AsyncBoltContext,
    ) -> None:
        await ab_closing.close_button(
            deps, ack=ack, body=body, respond=respond, client=client, team_id=_team(context)
        )

    @app.action(ids.AB_CANCEL)
    async def ab_cancel(
        ack: AsyncAck,
        body: dict[str, Any],
        respond: AsyncRespond,
        client: AsyncWebClient,
        context: AsyncBoltContext,
    ) -> None:
        await ab_closing.cancel_button(
            deps, ack=ack, body=body, respond=respond, client=client, team_id=_team(context)
        )

    @app.event("app_home_opened")
    async def home_opened(
        event: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        await home.opened(deps, client, event=event, team_id=_team(context))

    @app.action(ids.STATS_CHART)
    async def stats_chart(
        ack: AsyncAck,
        body: dict[str, Any],
        respond: AsyncRespond,
        client: AsyncWebClient,
        context: AsyncBoltContext,
    ) -> None:
        await stats_command.chart_button(
            deps, ack=ack, body=body, respond=respond, client=client, team_id=_team(context)
        )

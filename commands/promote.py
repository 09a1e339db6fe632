"""`/bot promote Support@7 production`, `/bot labels [profile]`, `/bot gate <label> …` and
`/bot promotions here|off`: parse, check, call, reply."""

from __future__ import annotations

from typing import Final

from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.common import escape
from bot.blocks.labels import gate_text, labels_list, promoted_text
from bot.errors import UserError
from bot.messages import usage
from bot.release import labels, notices
from bot.startup.deps import Deps
from commands.parse import Parsed, split_words
from commands.profiles import resolve
from commands.request import Reply, SlashRequest

PROMOTE_USAGE: Final = usage("promote <profile>@<version> <label>", "promote Support@7 production")
LABELS_USAGE: Final = usage("labels [profile]", "labels Support")
GATE_USAGE: Final = usage(
    "gate <label> [scenario <name> | ab on|off | off]", "gate production scenario Billing questions"
)
PROMOTIONS_USAGE: Final = usage("promotions here|off", "promotions here")
OVERRIDE: Final = "override"


def _override_reason(parsed: Parsed) -> str | None:
    """The text after `override` (the rest of the line, as typed), or None without one."""
    words = parsed.rest.split(maxsplit=3)
    if len(words) < 3 or words[2].lower() != OVERRIDE:
        return None
    reason = words[3].strip() if len(words) > 3 else ""
    if not reason:
        raise UserError(
            "An override needs a reason, recorded with the move: "
            "`/bot promote Support@7 production override hotfix for the refund bug`."
        )
    if len(reason) > labels.OVERRIDE_MAX:
        raise UserError(f"An override reason is at most {labels.OVERRIDE_MAX} characters.")
    return reason


async def promote(
    deps: Deps, client: AsyncWebClient, req: SlashRequest, parsed: Parsed
) -> Reply | None:
    words = split_words(parsed.rest)
    if parsed.profile is not None:
        # `@Support 7 production` reads naturally too
        words = [f"{parsed.profile}@{words[0]}", *words[1:]] if words else []
    if len(words) < 2:
        raise UserError(PROMOTE_USAGE)
    reason = _override_reason(parsed) if parsed.profile is None else None
    if len(words) > 2 and reason is None:
        raise UserError(f"{labels.LABEL_NAMES}\n{PROMOTE_USAGE}")
    ref = labels.parse_ref(words[0], usage=PROMOTE_USAGE)
    label = labels.label_name(words[1])
    done = await labels.promote(
        deps,
        team_id=req.team_id,
        user_id=req.user_id,
        ref=ref,
        label=label,
        override_reason=reason,
    )
    text = promoted_text(profile_name=done.profile_name, move=done.move)
    if reason is not None and done.move.override_reason is None:
        text += "\nNo gate failed, so the override was not needed and was not recorded."
    refused_in = await notices.announce(
        deps.pool, client, team_id=req.team_id, profile_name=done.profile_name, move=done.move
    )
    if refused_in is not None:
        text += (
            f"\nThe notice could not be posted in <#{refused_in}>: invite me there with "
            "`/invite @ROMASHKA`."
        )
    return Reply(text)


async def list_labels(deps: Deps, req: SlashRequest, parsed: Parsed) -> Reply:
    words = split_words(parsed.rest)
    if len(words) > 1 or (parsed.profile and words):
        raise UserError(LABELS_USAGE)
    name = parsed.profile or (words[0] if words else None)
    profile = await resolve(deps, req, name) if name is not None else None
    text, blocks = labels_list(await labels.labels_of(deps, team_id=req.team_id, profile=profile))
    return Reply(text, blocks)


async def gate(deps: Deps, req: SlashRequest, parsed: Parsed) -> Reply:
    words = split_words(parsed.rest)
    if not words or parsed.profile is not None:
        raise UserError(GATE_USAGE)
    label = labels.label_name(words[0])
    action = words[1].lower() if len(words) > 1 else ""
    if not action:
        current = await notices.gate_of(deps.pool, team_id=req.team_id, label=label)
        return Reply(gate_text(label=label, gate=current))
    if action == "off" and len(words) == 2:
        change = notices.GateChange(drop_scenario=True, require_ab=False)
    elif action == "ab" and len(words) == 3 and words[2].lower() in {"on", "off"}:
        change = notices.GateChange(require_ab=words[2].lower() == "on")
    elif action == "scenario" and len(words) > 2:
        name = " ".join(words[2:])
        off = name.lower() == "off"
        change = notices.GateChange(scenario=None if off else name, drop_scenario=off)
    else:
        raise UserError(GATE_USAGE)
    updated = await notices.change_gate(
        deps.pool, team_id=req.team_id, user_id=req.user_id, label=label, change=change
    )
    return Reply(gate_text(label=label, gate=updated))


async def promotions(deps: Deps, req: SlashRequest, parsed: Parsed) -> Reply:
    words = [w.lower() for w in split_words(parsed.rest)]
    if parsed.profile is not None or len(words) > 1:
        raise UserError(PROMOTIONS_USAGE)
    if not words:
        channel = await notices.notice_channel(deps.pool, team_id=req.team_id)
        if channel is None:
            return Reply(
                "Promotion notices are off. `/bot promotions here` sends them to this channel."
            )
        return Reply(f"Promotion notices go to <#{escape(channel)}>.")
    if words[0] not in {"here", "off"}:
        raise UserError(PROMOTIONS_USAGE)
    channel_id = req.channel_id if words[0] == "here" else None
    await notices.set_notice_channel(
        deps.pool, team_id=req.team_id, user_id=req.user_id, channel_id=channel_id
    )
    if channel_id is None:
        return Reply("Promotion notices are off.")
    return Reply(
        "Promotion notices now go to this channel: who promoted which version to which label, "
        "from which, and the gates it passed."
    )

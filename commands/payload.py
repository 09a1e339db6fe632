"""Reading what a button click carries. Values come back from Slack as we sent them, but a
payload can be stale or forged, so every read that can fail ends in one clear message."""

from __future__ import annotations

import json
from typing import Any, Final

from bot.errors import UserError
from bot.messages import NUL_IN_TEXT

OUT_OF_DATE: Final = "This button is out of date."
# ids are bigint: a longer number cannot name anything
MAX_ID_DIGITS: Final = 18


def value(body: dict[str, Any]) -> str:
    return str((body.get("actions") or [{}])[0].get("value", ""))


def user_id(body: dict[str, Any]) -> str:
    return str((body.get("user") or {}).get("id", ""))


def channel_id(body: dict[str, Any]) -> str:
    """The clicked message's channel; from the Home tab there is none."""
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get(
        "channel_id", ""
    )
    return str(channel)


def id_value(body: dict[str, Any]) -> int:
    return parse_id(value(body))


def parse_id(raw: str) -> int:
    if not raw.isdigit() or len(raw) > MAX_ID_DIGITS:
        raise UserError(OUT_OF_DATE)
    return int(raw)


def nul_errors(view: dict[str, Any]) -> dict[str, str]:
    """A form's fields holding a NUL byte, as `response_action: errors` wants them: nothing
    can store such text, so the form says where the problem is before anything happens."""
    values: dict[str, Any] = (view.get("state") or {}).get("values") or {}
    return {
        block_id: NUL_IN_TEXT
        for block_id, actions in values.items()
        if any("\x00" in str((a or {}).get("value") or "") for a in (actions or {}).values())
    }


def json_value(body: dict[str, Any]) -> dict[str, Any]:
    try:
        parsed = json.loads(value(body))
    except ValueError:
        raise UserError(OUT_OF_DATE) from None
    if not isinstance(parsed, dict):
        raise UserError(OUT_OF_DATE)
    return parsed

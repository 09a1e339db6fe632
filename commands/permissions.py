"""Which `/bot` commands change shared things and so need the editor role. Pure."""

from __future__ import annotations

from typing import Final

from commands.parse import Parsed

# subcommand -> what the refusal says the person tried to do
EDITING: Final = {
    "new": "create profiles",
    "use": "change the channel's profile",
    "default": "change the workspace default",
    "set": "edit profiles",
    "config": "edit profiles",
    "rollback": "roll profiles back",
    "promote": "promote versions to a label",
}
SCENARIO_EDITING: Final = {"edit": "edit scenarios", "delete": "delete scenarios"}
KNOWLEDGE_READING: Final = frozenset({"show"})
API_TOKEN_EDITING: Final = {"create": "create API tokens", "revoke": "revoke API tokens"}


def editing(parsed: Parsed) -> str | None:
    """What the command would change, or None when anyone may run it."""
    if parsed.sub in EDITING:
        return EDITING[parsed.sub]
    action = parsed.rest.split(" ", 1)[0].lower()
    if parsed.sub == "scenario":
        return SCENARIO_EDITING.get(action)
    if parsed.sub == "api-token":
        return API_TOKEN_EDITING.get(action)
    if parsed.sub == "gate" and len(parsed.rest.split()) > 1:
        return "change promotion gates"
    if parsed.sub == "promotions" and action:
        return "choose where promotion notices go"
    if parsed.sub == "knowledge" and action not in KNOWLEDGE_READING:
        return "edit the company knowledge"
    return None

"""Pure validation of everything a person can type into a profile. One rule per field, one place."""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from collections.abc import Mapping
from typing import Any, Final

from bot.domain.profile import (
    BOT_NAME_MAX,
    INSTRUCTIONS_MAX,
    MODEL_MAX,
    TRAITS,
    ProfileFields,
    ResponseStyle,
)
from bot.errors import UserError

PROFILE_NAME_MAX: Final = 40

_EMOJI_RE: Final = re.compile(r"^:[a-z0-9_+'-]{1,98}:$")
_PROFILE_NAME_RE: Final = re.compile(r"^[\w.-]+$")
_MODEL_RE: Final = re.compile(r"^[A-Za-z0-9._:/@-]+$")

# what `/bot set` accepts, mapped to the ProfileFields attribute it changes
SETTABLE: Final = {
    "formality": "formality",
    "enthusiasm": "enthusiasm",
    "technical_depth": "technical_depth",
    "technical-depth": "technical_depth",
    "depth": "technical_depth",
    "empathy": "empathy",
    "style": "response_style",
    "name": "bot_name",
    "avatar": "avatar_emoji",
    "instructions": "custom_instructions",
    "model": "model",
}
FREE_TEXT_FIELDS: Final = frozenset({"bot_name", "custom_instructions"})


def profile_name(raw: str) -> str:
    name = raw.strip()
    if not name:
        raise UserError("A profile needs a name, e.g. `/bot new Support`.")
    if len(name) > PROFILE_NAME_MAX:
        raise UserError(f"Profile names are at most {PROFILE_NAME_MAX} characters.")
    if not _PROFILE_NAME_RE.match(name):
        raise UserError(
            "Profile names are one word of letters, digits, `-`, `_` or `.` "
            "(e.g. `Support`, `sales-v2`). The bot's display name can be anything: "
            "set it with `/bot set name …`."
        )
    return name


def _visible(char: str) -> bool:
    # letters, marks, numbers, punctuation and symbols; not separators, controls or formats
    return unicodedata.category(char)[0] in "LMNPS"


def bot_name(raw: str) -> str:
    name = raw.strip()
    if not name:
        raise UserError("The bot name cannot be empty.")
    if not any(_visible(c) for c in name):
        # Format characters (right-to-left overrides, zero-width spaces) draw nothing: a bot
        # posting under such a name would look nameless in Slack.
        raise UserError("The bot name needs at least one visible character.")
    if len(name) > BOT_NAME_MAX:
        raise UserError(f"The bot name is at most {BOT_NAME_MAX} characters (got {len(name)}).")
    return name


def avatar(raw: str) -> str:
    value = raw.strip().lower()
    if value and not value.startswith(":"):
        value = f":{value}:"
    if not _EMOJI_RE.match(value):
        raise UserError(
            "The avatar must be an emoji shortcode like `:sparkles:` "
            "(lowercase letters, digits, `_`, `-`, `+`)."
        )
    return value


def trait(label: str, raw: str) -> int:
    text = raw.strip()
    try:
        value = int(text)
    except ValueError:
        raise UserError(f"{label} must be a whole number from 0 to 100 (got `{text}`).") from None
    if not 0 <= value <= 100:
        raise UserError(f"{label} must be from 0 to 100 (got {value}).")
    return value


def style(raw: str) -> ResponseStyle:
    try:
        return ResponseStyle(raw.strip().lower())
    except ValueError:
        options = ", ".join(s.value for s in ResponseStyle)
        raise UserError(f"The response style must be one of: {options}.") from None


def instructions(raw: str) -> str:
    text = raw.strip()
    if len(text) > INSTRUCTIONS_MAX:
        raise UserError(
            f"Custom instructions are at most {INSTRUCTIONS_MAX:,} characters (got {len(text):,})."
        )
    return text


def model(raw: str | None) -> str | None:
    text = (raw or "").strip()
    if not text or text.lower() in {"default", "none"}:
        return None
    if len(text) > MODEL_MAX or not _MODEL_RE.match(text):
        raise UserError(
            f"The model must be a model id like `gpt-4o-mini` (at most {MODEL_MAX} characters), "
            "or blank for the server default."
        )
    return text


def apply_field(fields: ProfileFields, key: str, raw: str) -> ProfileFields:
    """The result of `/bot set <key> <raw>`; raises UserError naming the rule that failed."""
    attr = SETTABLE.get(key.lower())
    if attr is None:
        options = ", ".join(sorted({k for k in SETTABLE if "-" not in k and k != "depth"}))
        raise UserError(f"Unknown field `{key}`. Fields you can set: {options}.")
    value: Any
    if attr in TRAITS:
        value = trait(attr.replace("_", " ").capitalize(), raw)
    elif attr == "response_style":
        value = style(raw)
    elif attr == "bot_name":
        value = bot_name(raw)
    elif attr == "avatar_emoji":
        value = avatar(raw)
    elif attr == "custom_instructions":
        value = instructions(raw)
    else:
        value = model(raw)
    return dataclasses.replace(fields, **{attr: value})


def fields_from_form(form: Mapping[str, str | None]) -> tuple[ProfileFields | None, dict[str, str]]:
    """Validate the config modal's values (keyed by ProfileFields attribute).

    Returns the fields or, when anything is wrong, None and one message per bad input.
    """
    errors: dict[str, str] = {}
    values: dict[str, object] = {}

    def check(key: str, fn: object) -> None:
        try:
            values[key] = fn() if callable(fn) else fn
        except UserError as exc:
            errors[key] = str(exc)

    check("bot_name", lambda: bot_name(form.get("bot_name") or ""))
    check("avatar_emoji", lambda: avatar(form.get("avatar_emoji") or ""))
    for name in TRAITS:
        label = name.replace("_", " ").capitalize()
        check(name, lambda name=name, label=label: trait(label, form.get(name) or ""))
    check("response_style", lambda: style(form.get("response_style") or ""))
    check("custom_instructions", lambda: instructions(form.get("custom_instructions") or ""))
    check("model", lambda: model(form.get("model")))
    if errors:
        return None, errors
    return ProfileFields(**values), {}  # type: ignore[arg-type]

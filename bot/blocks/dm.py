"""What the app's DM shows around a conversation: suggested prompts, a title, the replies to
`use`. Pure functions; Slack's shapes are those of assistant.threads.setSuggestedPrompts
(up to four prompts, each a `title` and the `message` it sends) and setTitle."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from bot import ids, limits
from bot.blocks.common import Block, escape, mrkdwn, plain
from bot.domain.profile import Profile
from bot.domain.scenarios import Scenario

MAX_PROMPTS: Final = 4  # assistant.threads.setSuggestedPrompts takes up to four
PROMPT_TITLE: Final = 75  # kept to a button's width
THREAD_TITLE: Final = 80  # a conversation's title in the Messages tab history
PROMPTS_HEADING: Final = "Try a customer's message"
PICK_PROFILE: Final = "Pick a profile"
USE_WORD: Final = "use"


def _cut(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def suggested_prompts(scenarios: Sequence[Scenario]) -> list[dict[str, str]]:
    """ "Pick a profile" first (it sends `use`, which lists them), then the first message of the
    workspace's scenarios: what a customer would open with."""
    prompts = [{"title": PICK_PROFILE, "message": USE_WORD}]
    for scenario in scenarios:
        if len(prompts) == MAX_PROMPTS:
            break
        if scenario.messages:
            prompts.append(
                {
                    "title": _cut(scenario.name, PROMPT_TITLE),
                    "message": scenario.messages[0],
                }
            )
    return prompts


def conversation_title(*, label: str, first_message: str) -> str:
    return _cut(f"{label}: {first_message}", THREAD_TITLE)


def profiles_list(names: Sequence[str], *, current: str | None) -> str:
    """The reply to a bare `use`: who can answer, and how to switch."""
    if not names:
        return "This workspace has no bot profile yet. Create one with `/bot new <name>`."
    listed = ", ".join(f"*{escape(n)}*" for n in names)
    now = f"You are talking to *{escape(current)}*. " if current else ""
    return (
        f"{now}Profiles: {listed}.\n"
        "Write `use <profile>` (its current version) or `use <profile>@3` (version 3); "
        "the rest of this conversation is answered by it. "
        "`save as scenario <name>` keeps this conversation's messages as a scenario."
    )


# static_select: at most 100 options in all, an option's text 75 characters, its value 150
SELECT_OPTIONS: Final = 100
OPTION_TEXT: Final = 75
OPTION_VALUE: Final = 150
VERSIONS_OFFERED: Final = 5  # each profile's newest versions in the select
PICK_PLACEHOLDER: Final = "Pick a profile and version"


def profile_picker(profiles: Sequence[Profile], *, current: str | None) -> list[Block]:
    """The reply to a bare `use`: the list, and a select of each profile's newest versions (a
    group per profile). Its value is what `use` takes ("Support@3"), so both switch the same."""
    text = profiles_list([p.name for p in profiles], current=current)
    section: Block = {"type": "section", "text": mrkdwn(text, limits.SECTION_TEXT)}
    groups: list[Block] = []
    room = SELECT_OPTIONS
    for profile in profiles:
        options = []
        low = max(1, profile.current_version - VERSIONS_OFFERED + 1)
        for version in range(profile.current_version, low - 1, -1):
            value = f"{profile.name}@{version}"
            if len(value) > OPTION_VALUE or room == 0:
                break
            label = f"{profile.name} v{version}" + (
                " · current" if version == profile.current_version else ""
            )
            options.append({"text": plain(label, OPTION_TEXT), "value": value})
            room -= 1
        if options:
            groups.append({"label": plain(profile.name, OPTION_TEXT), "options": options})
    if groups:
        section["accessory"] = {
            "type": "static_select",
            "action_id": ids.DM_PROFILE_PICK,
            "placeholder": plain(PICK_PLACEHOLDER, 150),
            "option_groups": groups,
        }
    return [section]


def switched(label: str) -> str:
    return f"You are now talking to *{escape(label)}*. Write your message as a customer would."


NOTHING_TO_SAVE: Final = "There is nothing to save yet: write a customer's message first."
SAVED_DESCRIPTION: Final = "Saved from a conversation in the app's messages."


def name_taken(name: str) -> str:
    return f"A scenario named *{escape(name)}* already exists. Pick another name."


def saved(name: str, messages: int) -> str:
    noun = "message" if messages == 1 else "messages"
    return (
        f"Saved *{escape(name)}* as a scenario with {messages} {noun}. "
        f"Run it with `/bot scenario run {escape(name)}`; add expected behaviours with "
        f"`/bot scenario edit {escape(name)}`."
    )

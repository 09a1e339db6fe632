"""Block Kit for profiles: the card, the list, the history page and change summaries. Pure."""

from __future__ import annotations

import json

from bot import ids, limits
from bot.blocks.common import Block, bar, counted, escape, mrkdwn, plain, slack_date, truncate
from bot.domain.profile import TRAIT_LABELS, TRAITS, Change, Profile, ProfileVersion

INSTRUCTIONS_PREVIEW = 2800
DIFF_VALUE_PREVIEW = 120


def _value(value: str | int | None) -> str:
    if value is None or value == "":
        return "_(none)_"
    return f"`{escape(truncate(str(value), DIFF_VALUE_PREVIEW)).replace('`', 'ˋ')}`"


def change_lines(changes: list[Change]) -> str:
    if not changes:
        return "_no changes_"
    return "\n".join(f"• {c.label}: {_value(c.old)} → {_value(c.new)}" for c in changes)


def applied_on_top(*, profile_name: str, version: int, replaced: list[Change]) -> str:
    """Said whenever an edit was based on an older version than the one it was saved on."""
    text = (
        f"*{escape(profile_name)}* changed to v{version} while you edited: your change was "
        "applied on top of it."
    )
    if replaced:
        text += f"\nValues of v{version} you replaced:\n" + "\n".join(
            f"• {c.label}: {_value(c.old)} → {_value(c.new)}" for c in replaced
        )
    return text


def profile_card(
    version: ProfileVersion, *, is_default: bool, pinned_here: bool
) -> tuple[str, list[Block]]:
    f = version.fields
    traits = [
        mrkdwn(f"*{TRAIT_LABELS[t]}*\n`{bar(f.trait(t))}`", limits.SECTION_FIELD_TEXT)
        for t in TRAITS
    ]
    traits.append(mrkdwn(f"*Style*\n{f.response_style.value}", limits.SECTION_FIELD_TEXT))
    traits.append(mrkdwn(f"*Model*\n{escape(f.model) if f.model else 'server default'}", 200))
    instructions = (
        escape(truncate(f.custom_instructions, INSTRUCTIONS_PREVIEW))
        if f.custom_instructions
        else "_No custom instructions._"
    )
    tags = [f"Profile *{escape(version.profile_name)}*", f"v{version.version}"]
    if is_default:
        tags.append("workspace default")
    if pinned_here:
        tags.append("pinned in this channel")
    saved = f"saved by <@{version.created_by}> {slack_date(version.created_at)}"
    blocks: list[Block] = [
        {"type": "header", "text": plain(f"{f.avatar_emoji} {f.bot_name}", limits.HEADER_TEXT)},
        {"type": "section", "fields": traits},
        {
            "type": "section",
            "text": mrkdwn(f"*Custom instructions*\n{instructions}", limits.SECTION_TEXT),
        },
        {"type": "context", "elements": [mrkdwn(" · ".join([*tags, saved]), 2000)]},
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "action_id": ids.CARD_EDIT,
                    "text": plain("Edit", limits.BUTTON_TEXT),
                    "value": str(version.profile_id),
                },
                {
                    "type": "button",
                    "action_id": ids.CARD_HISTORY,
                    "text": plain("History", limits.BUTTON_TEXT),
                    "value": str(version.profile_id),
                },
            ],
        },
    ]
    text = f"{f.bot_name} ({version.label})"
    return text, blocks


def profiles_list(profiles: list[Profile], *, pinned_id: int | None) -> tuple[str, list[Block]]:
    if not profiles:
        text = "This workspace has no bot profiles yet. Create one with `/bot new <name>`."
        return text, [{"type": "section", "text": mrkdwn(text, limits.SECTION_TEXT)}]
    lines = []
    for p in profiles:
        tags = []
        if p.is_default:
            tags.append("default")
        if p.id == pinned_id:
            tags.append("pinned here")
        suffix = f" · _{', '.join(tags)}_" if tags else ""
        lines.append(f"• *{escape(p.name)}* v{p.current_version}{suffix}")
    blocks: list[Block] = [
        {"type": "header", "text": plain(f"Bot profiles ({len(profiles)})", limits.HEADER_TEXT)}
    ]
    chunk: list[str] = []
    # pack lines into sections so even hundreds of profiles stay under the block limit
    room = limits.BLOCKS_PER_MESSAGE - 2
    for line in lines:
        if sum(len(x) + 1 for x in chunk) + len(line) > limits.SECTION_TEXT - 10:
            blocks.append(
                {"type": "section", "text": mrkdwn("\n".join(chunk), limits.SECTION_TEXT)}
            )
            chunk = []
            if len(blocks) > room:
                break
        chunk.append(line)
    if chunk and len(blocks) <= room:
        blocks.append({"type": "section", "text": mrkdwn("\n".join(chunk), limits.SECTION_TEXT)})
    blocks.append(
        {
            "type": "context",
            "elements": [mrkdwn("`/bot show <name>` for details · `/bot use <name>` to pin", 200)],
        }
    )
    return counted(len(profiles), "bot profile"), blocks


def history_page(
    entries: list[tuple[ProfileVersion, list[Change] | None]],
    *,
    profile_name: str,
    profile_id: int,
    next_before: int | None,
) -> tuple[str, list[Block]]:
    """`entries` are newest first; None as changes marks the first version (nothing to diff)."""
    blocks: list[Block] = [
        {"type": "header", "text": plain(f"History of {profile_name}", limits.HEADER_TEXT)}
    ]
    for version, changes in entries:
        head = f"*v{version.version}* · <@{version.created_by}> · {slack_date(version.created_at)}"
        if version.note:
            head += f" · _{escape(version.note)}_"
        body = "_first version_" if changes is None else change_lines(changes)
        blocks.append({"type": "section", "text": mrkdwn(f"{head}\n{body}", limits.SECTION_TEXT)})
    if next_before is not None:
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "action_id": ids.HISTORY_MORE,
                        "text": plain("More", limits.BUTTON_TEXT),
                        "value": json.dumps({"p": profile_id, "before": next_before}),
                    }
                ],
            }
        )
    return f"History of {profile_name}", blocks

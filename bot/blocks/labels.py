"""Block Kit and texts for labels: `/bot labels`, promotion replies, label moves in history."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from bot import limits
from bot.blocks.common import Block, escape, mrkdwn, plain, slack_date
from bot.domain.release import STANDARD_LABELS, Gate, Label, LabelMove, ProfileLabels

# a message holds at most 50 blocks: a header, then one section a profile
MAX_PROFILES_SHOWN: Final = 45
NO_PROFILES: Final = "No profiles yet. Create one with `/bot new Support`."


def _label_line(name: str, found: Label | None) -> str:
    if found is None:
        return f"• `{escape(name)}`: not set"
    return (
        f"• `{escape(name)}` → *v{found.version}* · <@{found.moved_by}> · "
        f"{slack_date(found.moved_at)}"
    )


def profile_labels_text(entry: ProfileLabels) -> str:
    by_name = {x.label: x for x in entry.labels}
    names = [*STANDARD_LABELS, *sorted(n for n in by_name if n not in STANDARD_LABELS)]
    lines = [_label_line(n, by_name.get(n)) for n in names]
    head = f"*{escape(entry.profile.name)}* (current v{entry.profile.current_version})"
    return head + "\n" + "\n".join(lines)


def labels_list(entries: Sequence[ProfileLabels]) -> tuple[str, list[Block]]:
    if not entries:
        return NO_PROFILES, []
    title = "Labels" if len(entries) > 1 else f"Labels of {entries[0].profile.name}"
    blocks: list[Block] = [{"type": "header", "text": plain(title, limits.HEADER_TEXT)}]
    for entry in entries[:MAX_PROFILES_SHOWN]:
        blocks.append(
            {"type": "section", "text": mrkdwn(profile_labels_text(entry), limits.SECTION_TEXT)}
        )
    if len(entries) > MAX_PROFILES_SHOWN:
        more = len(entries) - MAX_PROFILES_SHOWN
        blocks.append(
            {
                "type": "context",
                "elements": [mrkdwn(f"{more} more: name one with `/bot labels <profile>`", 300)],
            }
        )
    return title, blocks


def move_line(move: LabelMove) -> str:
    was = f"v{move.from_version}" if move.from_version is not None else "not set"
    line = (
        f"`{escape(move.label)}` → *v{move.to_version}* (was {was}) · <@{move.moved_by}> · "
        f"{slack_date(move.moved_at)}"
    )
    if move.gates:
        line += f" · gates: {escape(move.gates)}"
    if move.override_reason is not None:
        line += f" · _overridden: {escape(move.override_reason)}_"
    return line


def moves_section(moves: Sequence[LabelMove]) -> Block | None:
    """The latest label moves, for the top of `/bot history`; None when there were none."""
    if not moves:
        return None
    text = "*Label moves*\n" + "\n".join(move_line(m) for m in moves)
    return {"type": "section", "text": mrkdwn(text, limits.SECTION_TEXT)}


def promoted_text(*, profile_name: str, move: LabelMove) -> str:
    was = f"was v{move.from_version}" if move.from_version is not None else "was not set"
    text = f"*{escape(profile_name)}* v{move.to_version} is now `{escape(move.label)}` ({was})."
    if move.gates:
        text += f"\nGates: {escape(move.gates)}"
    if move.override_reason is not None:
        text += f"\nOverride recorded: _{escape(move.override_reason)}_"
    if move.from_version is not None:
        text += f"\nTo roll back: `/bot promote {profile_name}@{move.from_version} {move.label}`."
    return text


def notice_text(*, profile_name: str, move: LabelMove) -> str:
    """The channel notice: "Support v7 is now production (was v5), by @ana; gates: …"."""
    was = f" (was v{move.from_version})" if move.from_version is not None else ""
    text = (
        f"*{escape(profile_name)}* v{move.to_version} is now `{escape(move.label)}`{was}, "
        f"by <@{move.moved_by}>"
    )
    if move.gates:
        text += f"; gates: {escape(move.gates)}"
    if move.override_reason is not None:
        text += f"; overridden: _{escape(move.override_reason)}_"
    return text


def gate_text(*, label: str, gate: Gate | None) -> str:
    """What promoting to `label` requires, and how to change it."""
    head = f"Promoting to `{escape(label)}`"
    if gate is None or (gate.scenario_id is None and not gate.require_ab):
        return (
            f"{head} has no gates. Add one with `/bot gate {escape(label)} scenario <name>` "
            f"or `/bot gate {escape(label)} ab on`."
        )
    needs = []
    if gate.scenario_id is not None:
        name = gate.scenario_name or "(a deleted scenario)"
        needs.append(f"• the scenario *{escape(name)}* passed on that version (every behaviour)")
    if gate.require_ab:
        needs.append(
            f"• not lost a closed A/B test against the version `{escape(label)}` points at"
        )
    return (
        f"{head} requires:\n" + "\n".join(needs) + "\nEditors may override with a reason: "
        f"`/bot promote Support@7 {escape(label)} override <reason>`. "
        f"`/bot gate {escape(label)} off` removes the gates."
    )

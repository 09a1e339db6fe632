"""The parent message of a calibration sweep started in Slack: while it runs (where it is, and
its Stop), once it ended (no buttons), and once someone stopped it."""

from __future__ import annotations

from collections.abc import Sequence

from bot import ids, limits
from bot.blocks.common import Block, escape, mrkdwn, stop_button, stopped_parent

# why a stopped sweep posts no figures, said on its parent
STOPPED_NO_FIGURES = "no figures are posted for a stopped sweep"


def running_parent(*, run_id: int, text: str) -> list[Block]:
    """`text`: the sweep's progress as said to people (escaped here)."""
    return [
        {"type": "section", "text": mrkdwn(escape(text), limits.SECTION_TEXT)},
        {"type": "actions", "elements": [stop_button(ids.CALIBRATION_STOP, run_id)]},
    ]


def ended_parent(text: str) -> list[Block]:
    """Done or failed: the text alone. chat.update keeps a message's blocks unless it is given
    others, so the final edit must replace the Stop, not only the text."""
    return [{"type": "section", "text": mrkdwn(escape(text), limits.SECTION_TEXT)}]


def stopped_message(
    *, run_id: int, label: str, traits: Sequence[str], user_id: str, done: int, total: int
) -> tuple[str, list[Block]]:
    """The parent of a sweep someone stopped: how many samples were measured of how many, and
    that no figures follow (they would miss settings)."""
    return stopped_parent(
        what="Calibration",
        run_id=run_id,
        label=label,
        names=[t.replace("_", " ") for t in traits],
        user_id=user_id,
        after=f"{done} of {total} samples; {STOPPED_NO_FIGURES}",
    )

"""Small pure helpers shared by the Block Kit builders."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bot import limits

Block = dict[str, Any]


def escape(text: str) -> str:
    """Slack mrkdwn treats &, < and > as control characters; user text must not inject links."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """`1 bot profile`, `2 bot profiles`: a count with its noun in the right number."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


def _entity_safe_cut(text: str, cut: int) -> int:
    """`cut`, moved back before an `&amp;`/`&lt;`/`&gt;` it would split: half an entity would
    show as stray characters."""
    amp = text.rfind("&", max(0, cut - 4), cut)
    if amp != -1 and ";" not in text[amp:cut] and text.startswith(("&amp;", "&lt;", "&gt;"), amp):
        return amp
    return cut


def truncate(text: str, limit: int, *, marker: str = "…") -> str:
    if len(text) <= limit:
        return text
    return text[: _entity_safe_cut(text, max(0, limit - len(marker)))] + marker


def split_text(text: str, size: int) -> list[str]:
    """`text` in pieces of at most `size` characters, cut at a line break or space where one is
    near, never inside an entity. At least one piece, possibly empty."""
    pieces: list[str] = []
    while len(text) > size:
        cut = _entity_safe_cut(text, size)
        soft = max(text.rfind("\n", 0, cut), text.rfind(" ", 0, cut))
        if soft > cut - 200 and soft > 0:
            cut = soft + 1
        pieces.append(text[:cut])
        text = text[cut:]
    pieces.append(text)
    return pieces


def plain(text: str, limit: int) -> Block:
    return {"type": "plain_text", "text": truncate(text, limit), "emoji": True}


def mrkdwn(text: str, limit: int) -> Block:
    return {"type": "mrkdwn", "text": truncate(text, limit)}


def slack_date(when: datetime) -> str:
    """Rendered in each reader's own time zone; the fallback is UTC."""
    epoch = int(when.timestamp())
    fallback = when.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{epoch}^{{date_short_pretty}} at {{time}}|{fallback}>"


def bar(level: int, *, width: int = 10) -> str:
    filled = round(level * width / 100)
    return "█" * filled + "░" * (width - filled) + f" {level}"


# ids are PostgreSQL bigints
BIGINT_MAX = 2**63 - 1


def metadata_id(value: Any) -> int:
    """An id read back from private_metadata. A forged or mangled one raises ValueError, as a
    malformed one does, instead of reaching the database as a number no row can have."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= BIGINT_MAX:
        raise ValueError("not an id")
    return value


# version numbers are PostgreSQL integers
INT_MAX = 2**31 - 1


def metadata_version(value: Any) -> int:
    """A version number read back from private_metadata; 0 for a form that carried none. A
    forged one raises ValueError, like a malformed id."""
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= INT_MAX:
        raise ValueError("not a version")
    return value


def metadata(data: dict[str, Any]) -> str:
    """A modal's private_metadata. The response_url ("r") is only a nicety for confirming; if
    the whole does not fit Slack's limit it goes, and what identifies the work survives."""
    raw = json.dumps(data)
    if len(raw) > limits.PRIVATE_METADATA:
        raw = json.dumps({k: v for k, v in data.items() if k != "r"})
    return raw


# Slack's table block: at most 100 rows of at most 20 cells (docs.slack.dev, Table block)
TABLE_ROWS = 100
TABLE_CELLS = 20


def table(
    header: list[str], rows: list[list[str]], *, right: frozenset[int] = frozenset()
) -> Block:
    """A table block of plain cells, `header` as its first row; columns in `right` align right
    (numbers). Rows past Slack's limit are left out: the caller says how many there were."""
    width = min(len(header), TABLE_CELLS)
    cells = [
        [{"type": "raw_text", "text": str(cell)} for cell in row[:width]]
        for row in [header, *rows][:TABLE_ROWS]
    ]
    settings = [{"align": "right" if i in right else "left"} for i in range(width)]
    return {"type": "table", "column_settings": settings, "rows": cells}


def stop_button(action_id: str, run_id: int) -> Block:
    """A run's Stop on its progress message (scenario and simulation runs); value: the run."""
    return {
        "type": "button",
        "action_id": action_id,
        "text": plain("Stop", limits.BUTTON_TEXT),
        "value": str(run_id),
        "style": "danger",
    }


def stopped_parent(
    *, what: str, run_id: int, label: str, names: Sequence[str], user_id: str, after: str
) -> tuple[str, list[Block]]:
    """The parent of a run someone stopped: its last state ("after 3 of 9 messages"), and no
    buttons (it is neither resumed nor summarised)."""
    text = (
        f"{what} #{run_id} on *{escape(label)}*: {escape(', '.join(names))} — "
        f"stopped by <@{user_id}> after {after}."
    )
    return text, [{"type": "section", "text": mrkdwn(text, limits.SECTION_TEXT)}]


def report_failed_parent(
    *,
    what: str,
    run_id: int,
    label: str,
    names: Sequence[str],
    finished: str,
    reason: str,
    action_id: str,
    button: str,
    hint: str,
) -> tuple[str, list[Block]]:
    """The parent of a run whose work all finished ("all 9 messages answered") but whose
    summary could not be written (its job failed on every try): why, and the button that
    writes it. `reason` is ours (bot.jobs.gave_up), never an exception's text."""
    text = (
        f"{what} #{run_id} on *{escape(label)}*: {escape(', '.join(names))} — {finished}, "
        f"but the summary could not be written: {escape(reason)}."
    )
    return text, [
        {"type": "section", "text": mrkdwn(text, limits.SECTION_TEXT)},
        {"type": "context", "elements": [mrkdwn(hint, 200)]},
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "action_id": action_id,
                    "text": plain(button, limits.BUTTON_TEXT),
                    "value": str(run_id),
                    "style": "primary",
                }
            ],
        },
    ]

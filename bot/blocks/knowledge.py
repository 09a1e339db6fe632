"""Block Kit for company knowledge: the edit form and the list with ids. Pure."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot import ids, limits
from bot.blocks.common import (
    Block,
    counted,
    escape,
    metadata,
    metadata_id,
    metadata_version,
    mrkdwn,
    plain,
    truncate,
)
from bot.domain.knowledge import COMPANY_MAX, Knowledge, KnowledgeItem, describe, faq_lines


@dataclass(frozen=True, slots=True)
class FormContext:
    profile_id: int
    channel_id: str
    response_url: str | None
    # the version the form was opened on; 0 for forms opened before it was carried
    base_version: int = 0

    def dump(self) -> str:
        return metadata(
            {
                "p": self.profile_id,
                "v": self.base_version,
                "c": self.channel_id,
                "r": self.response_url,
            }
        )

    @classmethod
    def load(cls, raw: str) -> FormContext:
        data = json.loads(raw)
        return cls(
            metadata_id(data["p"]), str(data["c"]), data.get("r"), metadata_version(data.get("v"))
        )


def _input(
    block_id: str, label: str, initial: str, *, multiline: bool, max_length: int, hint: str
) -> Block:
    element: Block = {
        "type": "plain_text_input",
        "action_id": block_id + ids.INPUT_SUFFIX,
        "multiline": multiline,
        "max_length": max_length,
    }
    if initial:
        element["initial_value"] = initial
    return {
        "type": "input",
        "block_id": block_id,
        "optional": True,
        "label": plain(label, limits.INPUT_LABEL),
        "element": element,
        "hint": plain(hint, limits.INPUT_LABEL),
    }


def form(knowledge: Knowledge, *, profile_name: str, context: FormContext) -> dict[str, Any]:
    """Fields whose current text is longer than a Slack input holds are left out and shown as a
    note; saving keeps them as they are, so nothing is lost by opening the form."""
    blocks: list[Block] = [
        _input(
            ids.KNOWLEDGE_COMPANY,
            "Company name",
            knowledge.company,
            multiline=False,
            max_length=COMPANY_MAX,
            hint="e.g. ROMASHKA",
        ),
        _input(
            ids.KNOWLEDGE_INDUSTRY,
            "Industry",
            knowledge.industry,
            multiline=False,
            max_length=COMPANY_MAX,
            hint="e.g. Customer service technology",
        ),
    ]
    big = []
    for block_id, label, text, hint in (
        (
            ids.KNOWLEDGE_PRODUCTS,
            "Products and services",
            "\n".join(knowledge.products),
            "One per line.",
        ),
        (ids.KNOWLEDGE_POLICIES, "Policies", "\n".join(knowledge.policies), "One per line."),
        (
            ids.KNOWLEDGE_FAQ,
            "FAQ",
            faq_lines(knowledge.faqs),
            "One per line: Q: question / A: answer",
        ),
    ):
        if len(text) > limits.PLAIN_TEXT_INPUT_MAX:
            big.append(label)
            continue
        blocks.append(
            _input(
                block_id,
                label,
                text,
                multiline=True,
                max_length=limits.PLAIN_TEXT_INPUT_MAX,
                hint=hint,
            )
        )
    if big:
        blocks.append(
            {
                "type": "context",
                "elements": [
                    mrkdwn(
                        f"{', '.join(big)}: too long to edit in a form, kept as they are. "
                        "Use `/bot knowledge add …` and `/bot knowledge remove <id>`.",
                        500,
                    )
                ],
            }
        )
    return {
        "type": "modal",
        "callback_id": ids.KNOWLEDGE_MODAL,
        "title": plain(f"Knowledge: {profile_name}", limits.MODAL_TITLE),
        "submit": plain("Save", limits.MODAL_BUTTON),
        "close": plain("Cancel", limits.MODAL_BUTTON),
        "private_metadata": context.dump(),
        "blocks": blocks,
    }


def read_form(view: dict[str, Any]) -> dict[str, str | None]:
    values: dict[str, Any] = view.get("state", {}).get("values", {})
    return {
        block_id: (actions.get(block_id + ids.INPUT_SUFFIX) or {}).get("value")
        for block_id, actions in values.items()
    }


def listing(items: Sequence[KnowledgeItem], *, label: str) -> tuple[str, list[Block]]:
    if not items:
        text = (
            f"*{escape(label)}* has no company knowledge. Add some with `/bot knowledge` or "
            '`/bot knowledge add faq "question" "answer"`.'
        )
        return text, [{"type": "section", "text": mrkdwn(text, limits.SECTION_TEXT)}]
    blocks: list[Block] = [
        {
            "type": "header",
            "text": plain(f"Knowledge of {label} ({counted(len(items), 'item')})", 150),
        }
    ]
    if any(i.is_example for i in items):
        blocks.append(
            {
                "type": "context",
                "elements": [
                    mrkdwn(
                        ":information_source: This is *example* knowledge for ROMASHKA: "
                        "replace it with your own company's facts (`/bot knowledge`).",
                        300,
                    )
                ],
            }
        )
    chunk: list[str] = []
    room = limits.BLOCKS_PER_MESSAGE - 1
    shown = 0
    for item in items:
        line = f"`{item.ref}` {escape(truncate(describe(item), 300))}"
        if sum(len(x) + 1 for x in chunk) + len(line) > limits.SECTION_TEXT - 50:
            if len(blocks) >= room - 1:
                break
            blocks.append({"type": "section", "text": mrkdwn("\n".join(chunk), 3000)})
            chunk = []
        chunk.append(line)
        shown += 1
    if chunk:
        blocks.append({"type": "section", "text": mrkdwn("\n".join(chunk), 3000)})
    if shown < len(items):
        blocks.append(
            {"type": "context", "elements": [mrkdwn(f"…and {len(items) - shown} more", 100)]}
        )
    return f"Knowledge of {label}: {counted(len(items), 'item')}", blocks

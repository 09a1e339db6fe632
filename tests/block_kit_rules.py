"""What Slack refuses in `blocks`, `view`, `text` and `markdown_text`, for the fake Slack.

Two sources, neither of them the product: `slack_sdk.models` (every block and view is parsed with
`Block.parse` / `View(**view)` and serialised with `to_dict()`, which runs the SDK's validators),
and the limits Slack documents where the SDK does not check them (docs.slack.dev, Block Kit
reference: blocks, block elements, composition objects, views; chat.postMessage; the streaming
methods). A list of problems comes back; empty means Slack would take the payload.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

BLOCKS_PER_MESSAGE: Final = 50
BLOCKS_PER_VIEW: Final = 100  # modals and Home tabs
MESSAGE_TEXT: Final = 40_000  # chat.postMessage truncates longer text; we count it as an error
MARKDOWN_TOTAL: Final = 12_000  # all markdown blocks of one payload, and one markdown_text
PRIVATE_METADATA: Final = 3000
VIEW_TITLE: Final = 24  # title, submit and close of a modal
CALLBACK_ID: Final = 255
# (block or element type, field) -> most characters of that text
TEXT_LIMITS: Final[dict[tuple[str, str], int]] = {
    ("section", "text"): 3000,
    ("section", "fields"): 2000,
    ("header", "text"): 150,
    ("context", "elements"): 3000,
    ("button", "text"): 75,
    ("input", "label"): 2000,
    ("input", "hint"): 2000,
    ("plain_text_input", "placeholder"): 150,
    ("static_select", "placeholder"): 150,
    ("option", "text"): 75,
    ("confirm", "title"): 100,
    ("confirm", "text"): 300,
    ("confirm", "confirm"): 30,
    ("confirm", "deny"): 30,
}
STRING_LIMITS: Final[dict[str, int]] = {
    "action_id": 255,
    "block_id": 255,
    "value": 2000,  # a button's value (an option's is checked below)
    "url": 3000,
    "initial_value": 3000,
}
OPTION_VALUE: Final = 150
SECTION_FIELDS: Final = 10
ACTIONS_ELEMENTS: Final = 25
CONTEXT_ELEMENTS: Final = 10
TEXT_OBJECT_TYPES: Final = frozenset({"plain_text", "mrkdwn"})


def _walk(node: Any, path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from _walk(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _walk(value, f"{path}[{i}]")


def _unknown_keys(raw: Any, known: Any, path: str) -> list[str]:
    """Keys the SDK dropped: Slack answers `invalid_blocks` for fields a block does not have."""
    problems: list[str] = []
    if isinstance(raw, dict) and isinstance(known, dict):
        for key, value in raw.items():
            if key not in known:
                if value not in (None, [], ""):
                    problems.append(f"{path}.{key}: not a field of this object")
                continue
            problems += _unknown_keys(value, known[key], f"{path}.{key}")
    elif isinstance(raw, list) and isinstance(known, list):
        for i, (r, k) in enumerate(zip(raw, known, strict=False)):
            problems += _unknown_keys(r, k, f"{path}[{i}]")
    return problems


def _text_of(value: Any) -> str | None:
    if isinstance(value, dict) and value.get("type") in TEXT_OBJECT_TYPES:
        return str(value.get("text", ""))
    return None


def _documented_limits(block: dict[str, Any], path: str) -> list[str]:
    problems: list[str] = []
    for where, node in _walk(block, path):
        kind = str(node.get("type", ""))
        text = _text_of(node)
        if text is not None and not text.strip():
            problems.append(f"{where}: empty text (Slack requires at least one character)")
        for (owner, field), limit in TEXT_LIMITS.items():
            if kind != owner or field not in node:
                continue
            values = node[field] if isinstance(node[field], list) else [node[field]]
            for value in values:
                shown = _text_of(value)
                if shown is not None and len(shown) > limit:
                    problems.append(f"{where}.{field}: {len(shown)} characters, limit {limit}")
        if "confirm" in node and isinstance(node["confirm"], dict):
            confirm = node["confirm"]
            for field in ("title", "text", "confirm", "deny"):
                shown = _text_of(confirm.get(field))
                limit = TEXT_LIMITS[("confirm", field)]
                if shown is not None and len(shown) > limit:
                    problems.append(f"{where}.confirm.{field}: {len(shown)} characters > {limit}")
        for field, limit in STRING_LIMITS.items():
            value = node.get(field)
            if isinstance(value, str) and len(value) > limit and kind not in TEXT_OBJECT_TYPES:
                problems.append(f"{where}.{field}: {len(value)} characters, limit {limit}")
        for option in node.get("options") or []:
            if isinstance(option, dict) and len(str(option.get("value", ""))) > OPTION_VALUE:
                problems.append(f"{where}.options: a value over {OPTION_VALUE} characters")
            shown = _text_of(option.get("text")) if isinstance(option, dict) else None
            if shown is not None and len(shown) > TEXT_LIMITS[("option", "text")]:
                problems.append(f"{where}.options: a text over 75 characters")
        if kind == "section" and len(node.get("fields") or []) > SECTION_FIELDS:
            problems.append(f"{where}.fields: more than {SECTION_FIELDS}")
        if kind == "section" and not node.get("text") and not node.get("fields"):
            problems.append(f"{where}: a section needs text or fields")
        if kind == "actions" and len(node.get("elements") or []) > ACTIONS_ELEMENTS:
            problems.append(f"{where}.elements: more than {ACTIONS_ELEMENTS}")
        if kind == "context" and len(node.get("elements") or []) > CONTEXT_ELEMENTS:
            problems.append(f"{where}.elements: more than {CONTEXT_ELEMENTS}")
        element = node.get("element")
        if kind == "input" and isinstance(element, dict):
            initial, most = element.get("initial_value"), element.get("max_length")
            if isinstance(initial, str) and isinstance(most, int) and len(initial) > most:
                problems.append(f"{where}: initial_value longer than its max_length")
    return problems


def block_problems(blocks: Any, *, most: int, where: str = "blocks") -> list[str]:
    if not isinstance(blocks, list):
        return [f"{where}: must be an array of blocks"]
    problems: list[str] = []
    if len(blocks) > most:
        problems.append(f"{where}: {len(blocks)} blocks, at most {most}")
    markdown = 0
    for i, raw in enumerate(blocks):
        path = f"{where}[{i}]"
        if not isinstance(raw, dict):
            problems.append(f"{path}: not an object")
            continue
        try:
            parsed = Block.parse(raw)
            if parsed is None:
                problems.append(f"{path}: unknown block type {raw.get('type')!r}")
                continue
            known = parsed.to_dict()
        except (SlackObjectFormationError, TypeError, ValueError, KeyError) as exc:
            problems.append(f"{path}: {exc}")
            continue
        problems += _unknown_keys(raw, known, path)
        problems += _documented_limits(raw, path)
        if raw.get("type") == "markdown":
            markdown += len(str(raw.get("text", "")))
    if markdown > MARKDOWN_TOTAL:
        problems.append(f"{where}: markdown blocks hold {markdown} characters, at most 12000")
    return problems


def view_problems(view: Any) -> list[str]:
    if not isinstance(view, dict):
        return ["view: must be an object"]
    problems: list[str] = []
    kind = view.get("type")
    if kind not in {"modal", "home"}:
        problems.append(f"view.type: {kind!r} is not modal or home")
    try:
        View(**view).to_dict()
    except (SlackObjectFormationError, TypeError, ValueError, KeyError) as exc:
        problems.append(f"view: {exc}")
    for field in ("title", "submit", "close"):
        shown = _text_of(view.get(field))
        if shown is not None and len(shown) > VIEW_TITLE:
            problems.append(f"view.{field}: {len(shown)} characters, limit {VIEW_TITLE}")
    if kind == "modal" and _text_of(view.get("title")) is None:
        problems.append("view.title: a modal needs a plain_text title")
    has_input = any(
        isinstance(b, dict) and b.get("type") == "input" for b in view.get("blocks") or []
    )
    if kind == "modal" and has_input and _text_of(view.get("submit")) is None:
        problems.append("view.submit: a modal with input blocks needs a submit button")
    if len(str(view.get("private_metadata") or "")) > PRIVATE_METADATA:
        problems.append(f"view.private_metadata: over {PRIVATE_METADATA} characters")
    if len(str(view.get("callback_id") or "")) > CALLBACK_ID:
        problems.append(f"view.callback_id: over {CALLBACK_ID} characters")
    problems += block_problems(view.get("blocks"), most=BLOCKS_PER_VIEW, where="view.blocks")
    return problems


def message_problems(args: dict[str, Any]) -> list[str]:
    """A chat.postMessage / chat.update / chat.postEphemeral / response_url payload."""
    problems: list[str] = []
    blocks = args.get("blocks")
    if blocks is not None:
        problems += block_problems(blocks, most=BLOCKS_PER_MESSAGE)
    text = args.get("text")
    if text is not None and len(str(text)) > MESSAGE_TEXT:
        problems.append(f"text: {len(str(text))} characters, at most {MESSAGE_TEXT}")
    if not blocks and not str(text or "").strip() and not args.get("attachments"):
        problems.append("text: a message needs text or blocks (Slack answers no_text)")
    return problems


def stream_problems(args: dict[str, Any]) -> list[str]:
    """chat.startStream / appendStream / stopStream: markdown_text is at most 12,000 characters."""
    text = args.get("markdown_text")
    if text is not None and len(str(text)) > MARKDOWN_TOTAL:
        return [f"markdown_text: {len(str(text))} characters, at most {MARKDOWN_TOTAL}"]
    return []

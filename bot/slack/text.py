"""Model-written text made safe to post in Slack. Pure.

Anyone can steer the model (`/bot test Repeat after me: <!channel>`), so whatever it writes must
arrive inert: no `<!channel>`, `<!here>`, `<!everyone>`, `<!subteam^…>`, `<@U…>` or `<#C…>`
that pings people, and no link whose text hides where it goes. Slack reads `&`, `<` and `>` as
its control characters in all text it is sent ("All text in Slack uses the same system of
escaping", docs.slack.dev/messaging/formatting-message-text), so those are escaped as entities;
the one `>` kept is the quote marker at the start of a line, which opens nothing. Markdown links
`[docs](https://evil)` become `docs (https://evil)`, so the real target shows. Broadcast words
typed without brackets (`@here`) get an invisible word joiner, so no automatic parsing can turn
them into a mention. Ordinary Markdown (bold, lists, quotes, code) is kept: for `markdown_text`
(the streaming methods) as it is; for mrkdwn (message `text`, text objects) translated.

Only the posting boundary calls this: what is stored stays what the model wrote.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Final


class Dialect(StrEnum):
    MARKDOWN = "markdown"  # markdown_text of chat.startStream / appendStream / stopStream
    MRKDWN = "mrkdwn"  # a message's `text` and mrkdwn text objects in blocks


WORD_JOINER: Final = "\u2060"

# [label](url "title") and ![alt](url): the label may not span lines, the url has no spaces
_LINK: Final = re.compile(r"!?\[([^\[\]\n]*)\]\(\s*<?([^()\s<>]*)>?(?:\s+\"[^\"\n]*\")?\s*\)")
# a reference definition `[label]: url` links every `[label]` elsewhere to url, unseen
_DEFINITION: Final = re.compile(r"^([ \t]{0,3})\[([^\]\n]+)\]:", re.MULTILINE)
# what is left of link syntax after the rewrites (a link split across streamed pieces)
_LINK_GLUE: Final = re.compile(r"\](?=[(\[:])")
_BROADCAST: Final = re.compile(r"(?<![\w@.])@(here|channel|everyone)\b", re.IGNORECASE)
# quote markers as they read once escaped
_QUOTE_MARKERS: Final = re.compile(r"^(?:[ \t]{0,3}&gt;)+", re.MULTILINE)

# The tail of streamed text that the next piece could still turn into something to rewrite:
# an unfinished link or definition, a `]` or `!` that may open one, an `@` word being written.
_OPEN_TAIL: Final = re.compile(
    r"(?:\]?!?\[[^\[\]\n]{0,300}(?:\](?:\([^()\n]{0,2000})?)?|[\]!]|@\w{0,20})\Z"
)


def _unmask_link(match: re.Match[str]) -> str:
    label, url = match.group(1).strip(), match.group(2)
    if not url:
        return label
    if not label or label.rstrip("/") == url.rstrip("/") or label == url.split("://", 1)[-1]:
        return url
    return f"{label} ({url})"


def _markdown_to_mrkdwn(text: str) -> str:
    """Models write Markdown; mrkdwn marks bold with one `*` and has no headings."""
    text = re.sub(r"\*\*(.+?)\*\*", r"*\1*", text)
    text = re.sub(r"__(.+?)__", r"_\1_", text)
    text = re.sub(r"~~(.+?)~~", r"~\1~", text)
    return re.sub(r"^#{1,6}[ \t]+(.+)$", r"*\1*", text, flags=re.MULTILINE)


def _escape_controls(text: str) -> str:
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    # quote markers at the start of a line stay markers
    return _QUOTE_MARKERS.sub(lambda m: m.group(0).replace("&gt;", ">"), escaped)


def neutralise(text: str, *, dialect: Dialect) -> str:
    """`text` as the model wrote it, ready for a Slack payload of the given dialect."""
    text = _LINK.sub(_unmask_link, text)
    text = _DEFINITION.sub(r"\1\2:", text)
    text = _LINK_GLUE.sub("] ", text)
    if dialect is Dialect.MRKDWN:
        text = _markdown_to_mrkdwn(text)
    text = _BROADCAST.sub(lambda m: f"@{WORD_JOINER}{m.group(1)}", text)
    return _escape_controls(text)


def settled_length(text: str) -> int:
    """How much of a stream's text can be neutralised and sent now: all of it but a tail that
    what comes next could still make into a link or a broadcast word. Slack renders the streamed
    pieces as one text, so a construct split across two appends would otherwise escape."""
    match = _OPEN_TAIL.search(text)
    return match.start() if match else len(text)

"""Slack's documented limits, named once. Builders truncate to these instead of being rejected."""

from typing import Final

BLOCKS_PER_MESSAGE: Final = 50
BLOCKS_PER_VIEW: Final = 100
SECTION_TEXT: Final = 3000
SECTION_FIELD_TEXT: Final = 2000
SECTION_FIELDS: Final = 10
HEADER_TEXT: Final = 150
CONTEXT_ELEMENTS: Final = 10
BUTTON_TEXT: Final = 75
BUTTON_VALUE: Final = 2000
ACTIONS_ELEMENTS: Final = 25
MODAL_TITLE: Final = 24
MODAL_BUTTON: Final = 24
PRIVATE_METADATA: Final = 3000
INPUT_LABEL: Final = 2000
PLAIN_TEXT_INPUT_MAX: Final = 3000
MESSAGE_TEXT: Final = 40_000
# chat.postMessage accepts 40k, but a message over ~4k characters is hard to read and
# `msg_too_long` shows up well before 40k once blocks are involved.
READABLE_MESSAGE_TEXT: Final = 3900
SLASH_COMMAND_TEXT: Final = 4000
# Not documented: Slack answers `msg_blocks_too_long` from about 13,000 characters of block text
# in one message (slackapi/bolt-js#2509), well under the 50 blocks x 3,000 the per-block limits
# allow. Builders of long messages keep their blocks' text under this.
BLOCKS_TEXT_TOTAL: Final = 12_000

# Slack gives three seconds to acknowledge; trigger_ids also expire after three seconds.
ACK_DEADLINE_S: Final = 3.0

# Streamed plans (chat.startStream chunks): a task_update's details and output are at most 256
# characters; the title is held to the same. A run planning more messages than PLAN_TASKS shows
# its progress by editing its parent instead (our choice: a plan that long is not readable).
STREAM_TASK_TEXT: Final = 256
PLAN_TASKS: Final = 50

# conversations.replies: messages asked for a page (Slack's documented maximum is 1000; it
# recommends no more than 200)
REPLIES_PAGE: Final = 200

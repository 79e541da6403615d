"""The history API's HTTP server inside the service process, on HISTORY_API_PORT (0: off).

A second uvicorn server beside the one serving health and metrics, started and stopped by the
app's hooks. Its socket is bound before serving, so a taken port fails start-up with an error
instead of uvicorn's `sys.exit`; it installs no signal handlers (the main server owns them).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator

import structlog
import uvicorn

from service.crypto import DataKeys
from service.history.api import HistoryApi
from service.history.tokens import parse_tokens
from service.settings import Settings
from service.store.database import Database

log = structlog.get_logger(__name__)

STOP_TIMEOUT_S = 5.0  # a history request is a few reads: well within the shutdown budget


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = asyncio.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        self.ready.set()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # The main server handles SIGTERM/SIGINT and the app's shutdown stops this one.
        yield


class HistoryServer:
    """Serves `HistoryApi` on one host and port while the service runs."""

    def __init__(self, app: HistoryApi, *, host: str, port: int) -> None:
        self._app = app
        self._host = host
        self._port = port
        self._server: _Server | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def port(self) -> int:
        """The port listened on (the one asked for, or the one the system chose for 0)."""
        return self._port

    async def start(self) -> None:
        """Bind the port and serve in the background until `stop`."""
        family = socket.AF_INET6 if ":" in self._host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self._host, self._port))
        self._port = int(sock.getsockname()[1])
        config = uvicorn.Config(
            self._app,
            lifespan="off",
            log_config=None,
            access_log=False,
            server_header=False,
        )
        self._server = _Server(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]), name="history-api")
        ready = asyncio.create_task(self._server.ready.wait())
        await asyncio.wait({ready, self._task}, return_when=asyncio.FIRST_COMPLETED)
        ready.cancel()
        if self._task.done():
            self._task.result()  # raises what stopped it
        log.info("history API listening", port=self._port)

    async def stop(self) -> None:
        """Stop serving (in-flight requests get STOP_TIMEOUT_S to finish)."""
        if self._server is None or self._task is None:
            return
        self._server.should_exit = True
        try:
            await asyncio.wait_for(asyncio.shield(self._task), STOP_TIMEOUT_S)
        except TimeoutError:
            self._server.force_exit = True
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._task, 1.0)


def history_server(
    settings: Settings, database: Database, data_keys: DataKeys
) -> HistoryServer | None:
    """The history API server, or None when HISTORY_API_PORT is 0 (the default: off)."""
    if not settings.history_api_port:
        return None
    app = HistoryApi(
        database=database, data_keys=data_keys, tokens=parse_tokens(settings.history_api_tokens)
    )
    return HistoryServer(app, host=settings.http_host, port=settings.history_api_port)

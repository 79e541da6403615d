"""Fixtures of the operability tests: the pipeline fixtures, the CLI as a subprocess, the
service served over real HTTP by uvicorn, and a TCP proxy that can make PostgreSQL vanish."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import httpx
import uvicorn
from prometheus_client.parser import text_string_to_metric_families

from service.app import Service, build_service
from service.settings import Settings
from tests.integration.pipeline.conftest import (  # noqa: F401 - fixtures shared with the pipeline tests
    emulator,
    make_settings,
    producer,
    read_topic,
    topics,
)

ROOT = Path(__file__).resolve().parents[3]


@dataclass
class CliResult:
    """What a CLI run returned."""

    code: int
    out: str
    err: str


async def run_cli(*args: str, env: dict[str, str], stdin: bytes = b"") -> CliResult:
    """Run `python -m service ARGS` as a subprocess (real exit codes), bounded in time."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "service",
        *args,
        cwd=ROOT,
        env={**os.environ, **env},
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(180):
        out, err = await process.communicate(stdin)
    return CliResult(int(process.returncode or 0), out.decode(), err.decode())


@dataclass
class Served:
    """A service under uvicorn and an HTTP client on its port."""

    service: Service
    http: httpx.AsyncClient


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[Served]:
    """The whole service, with its HTTP endpoints actually served on a free loopback port."""
    service = build_service(settings)
    config = uvicorn.Config(
        service.app, host="127.0.0.1", port=0, lifespan="on", log_config=None, access_log=False
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(90):
        while not server.started:
            if task.done():
                await task
                raise RuntimeError("uvicorn stopped during start-up")
            await asyncio.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=15) as http:
            yield Served(service, http)
    finally:
        server.should_exit = True
        async with asyncio.timeout(90):
            await task


async def until_status(
    http: httpx.AsyncClient, path: str, status: int, *, timeout: float = 60.0
) -> httpx.Response:
    """GET `path` until it answers `status`; fail after `timeout` seconds."""
    async with asyncio.timeout(timeout):
        while True:
            response = await http.get(path)
            if response.status_code == status:
                return response
            await asyncio.sleep(0.2)


def metric_total(text: str, name: str) -> float:
    """The sum of a counter's samples in a Prometheus text exposition (0 when absent)."""
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                total += sample.value
    return total


class TcpProxy:
    """Forwards a loopback port to a target; `close` cuts every connection and refuses new ones."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self._target = (target_host, target_port)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = 0

    async def start(self) -> None:
        """Listen (again, on the same port once one was chosen)."""
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _accept(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            target_r, target_w = await asyncio.open_connection(*self._target)
        except OSError:
            client_w.close()
            return
        self._writers |= {client_w, target_w}
        await asyncio.gather(self._pipe(client_r, target_w), self._pipe(target_r, client_w))

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except OSError:
            pass
        finally:
            writer.close()
            self._writers.discard(writer)

    async def close(self) -> None:
        """Stop listening and abort every forwarded connection (the database is 'gone')."""
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()
        if self._server is not None:
            with suppress(Exception):
                await self._server.wait_closed()
            self._server = None

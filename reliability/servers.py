"""Servers a scenario may break: a dedicated Kafka broker, a dedicated PostgreSQL cluster, and a
TCP proxy in front of a server (cut it, or slow it down).

Scenarios that stop or cut a server never touch the shared stack: they start their own, on free
loopback ports, under a temporary STACK_DIR, with the project's own scripts (`deploy/local`).
Everything is stopped by the PID that was recorded when it started, also on failure; the
scripts' watchdogs stop the servers if this process dies (STACK_OWNER_PID).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from bench import procs

ROOT = Path(__file__).resolve().parents[1]
LIFETIME_S = "3600"


async def _script(name: str, command: str, env: dict[str, str]) -> str:
    process = await asyncio.create_subprocess_exec(
        str(ROOT / "deploy/local" / name),
        command,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(300):
        out, err = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"{name} {command} failed: {err.decode()[-2000:]}")
    return out.decode()


def _stack_dir(prefix: str) -> Path:
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)  # the PostgreSQL cluster runs as `postgres` when we are root
    return path


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


async def _wait_gone(pid: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while _pid_alive(pid) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    if _pid_alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


class DedicatedKafka:
    """A one-node KRaft broker of our own; `stop` and `start` keep its data (a real restart)."""

    def __init__(self) -> None:
        self.dir = _stack_dir("rel-kafka-")
        self.port = procs.free_port()
        self._env = {k: v for k, v in os.environ.items() if k != "KAFKA_BOOTSTRAP_SERVERS"}
        self._env |= {
            "KAFKA_PORT": str(self.port),
            "KAFKA_CONTROLLER_PORT": str(procs.free_port()),
            "STACK_DIR": str(self.dir),
            "STACK_OWNER_PID": str(os.getpid()),
            "STACK_MAX_LIFETIME_S": LIFETIME_S,
        }
        self._argv: list[bytes] = []
        self._pid = 0
        self._restarted: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        """Its bootstrap address."""
        return f"127.0.0.1:{self.port}"

    async def open(self) -> None:
        """Format and start it with deploy/local/kafka.sh (waits until clients get metadata)."""
        await _script("kafka.sh", "start", self._env)
        self._pid = int((self.dir / "kafka.pid").read_text())
        # The exact command line, to start the same broker again on the same data after `stop`
        # (the script's own `start` formats a fresh log directory).
        cmdline = await asyncio.to_thread(Path(f"/proc/{self._pid}/cmdline").read_bytes)
        self._argv = cmdline.rstrip(b"\0").split(b"\0")

    async def stop(self) -> None:
        """SIGTERM the broker by PID (a controlled shutdown) and wait until it is gone."""
        if self._restarted is not None:
            await procs.stop_async(self._restarted, timeout_s=60)
        elif self._pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._pid, signal.SIGTERM)
            await _wait_gone(self._pid, 60)

    async def start(self) -> None:
        """Start the same broker again on its data; return when a client gets metadata."""
        argv = [part.decode() for part in self._argv]
        self._restarted = procs.start(argv, log_path=self.dir / "restart.log")
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self._restarted.poll() is not None:
                raise RuntimeError(f"the restarted broker exited: see {self.dir}/restart.log")
            if await _kafka_ready(self.bootstrap):
                return
            await asyncio.sleep(0.5)
        raise RuntimeError("the restarted broker was not ready within 120 s")

    async def close(self) -> None:
        """Stop it for good and remove its files."""
        await self.stop()
        with contextlib.suppress(Exception):
            await _script("kafka.sh", "stop", self._env)
        shutil.rmtree(self.dir, ignore_errors=True)


async def _kafka_ready(bootstrap: str) -> bool:
    process = await asyncio.create_subprocess_exec(
        str(ROOT / ".venv/bin/python"),
        str(ROOT / "deploy/local/kafka_ready.py"),
        bootstrap,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    async with asyncio.timeout(60):
        return await process.wait() == 0


class DedicatedPostgres:
    """A PostgreSQL cluster of our own (deploy/local/postgres.sh); stop/start keep its data."""

    def __init__(self) -> None:
        self.dir = _stack_dir("rel-pg-")
        self.port = procs.free_port()
        self._env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
        self._env |= {
            "PG_PORT": str(self.port),
            "STACK_DIR": str(self.dir),
            "STACK_OWNER_PID": str(os.getpid()),
            "STACK_MAX_LIFETIME_S": LIFETIME_S,
            "PG_KEEP_DATA": "1",  # stop/start is a restart on the same data
        }
        self.url = ""

    async def start(self) -> None:
        """Start it (initialised on first use); sets `url` to the project database on it."""
        out = await _script("postgres.sh", "start", self._env)
        self.url = out.strip().splitlines()[-1].removeprefix("export DATABASE_URL=")

    async def stop(self) -> None:
        """A fast shutdown by PID (open transactions roll back, clients are disconnected)."""
        await _script("postgres.sh", "stop", self._env)

    async def close(self) -> None:
        """Stop it and remove its files (its cluster too)."""
        with contextlib.suppress(Exception):
            await _script("postgres.sh", "stop", self._env | {"PG_KEEP_DATA": "0"})
        shutil.rmtree(self.dir, ignore_errors=True)


class TcpProxy:
    """Forwards a loopback port to a server; can cut every connection, or delay every reply.

    The same idea as tests/integration/operability's proxy, plus `delay_s` (a slow server).
    """

    def __init__(self, host: str, port: int) -> None:
        self._target = (host, port)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = 0
        self.delay_s = 0.0

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
        await asyncio.gather(
            self._pipe(client_r, target_w, slow=False), self._pipe(target_r, client_w, slow=True)
        )

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, slow: bool
    ) -> None:
        try:
            while data := await reader.read(65536):
                if slow and self.delay_s:
                    await asyncio.sleep(self.delay_s)
                writer.write(data)
                await writer.drain()
        except OSError:
            pass
        finally:
            writer.close()
            self._writers.discard(writer)

    async def cut(self) -> None:
        """Stop listening and abort every forwarded connection (the server is 'gone')."""
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None

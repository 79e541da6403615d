"""Child processes of the benchmark: start them so that they die with us, stop them by PID.

Children run in their own session (a Ctrl-C in the terminal reaches only the benchmark, which
then stops each child itself, by its PID) and get SIGTERM from the kernel if the benchmark dies
without cleaning up (PR_SET_PDEATHSIG). `Sampler` follows one process's CPU and peak RSS.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

import psutil

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    stdout: int | IO[bytes] | None = subprocess.DEVNULL,
    log_path: Path | None = None,
) -> subprocess.Popen[bytes]:
    """Start a child in its own session; its stderr goes to `log_path` (or is dropped)."""
    stderr: int | IO[bytes] = subprocess.DEVNULL
    if log_path is not None:
        stderr = log_path.open("wb")
    return subprocess.Popen(
        list(argv),
        env=dict(env) if env is not None else None,
        stdout=stdout,
        stderr=stderr,
        start_new_session=True,
        preexec_fn=_die_with_parent,  # noqa: PLW1509 - no threads exist yet in the children
    )


def stop(
    process: subprocess.Popen[bytes],
    *,
    timeout_s: float = 25.0,
    signum: signal.Signals = signal.SIGTERM,
) -> int | None:
    """Signal the child by its PID, wait (bounded), SIGKILL if it lingers; its exit code."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signum)
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
    return process.returncode


async def stop_async(
    process: subprocess.Popen[bytes],
    *,
    timeout_s: float = 25.0,
    signum: signal.Signals = signal.SIGTERM,
) -> int | None:
    """`stop` without blocking the event loop."""
    return await asyncio.to_thread(stop, process, timeout_s=timeout_s, signum=signum)


def cpu_seconds(process: psutil.Process) -> float:
    """User + system CPU seconds of a process so far."""
    times = process.cpu_times()
    return float(times.user + times.system)


class Sampler:
    """Polls a process's RSS every 100 ms in the background and keeps the peak."""

    def __init__(self, pid: int, *, interval_s: float = 0.1) -> None:
        self.process = psutil.Process(pid)
        self.peak_rss = 0
        self._interval_s = interval_s
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Begin polling."""
        self._task = asyncio.create_task(self._run(), name="rss-sampler")

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(psutil.Error):
                self.peak_rss = max(self.peak_rss, self.process.memory_info().rss)
            await asyncio.sleep(self._interval_s)

    def cpu(self) -> float:
        """The process's CPU seconds now (0 when it is gone)."""
        try:
            return cpu_seconds(self.process)
        except psutil.Error:
            return 0.0

    async def aclose(self) -> None:
        """Stop polling."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


def monotonic_ms() -> float:
    """Milliseconds on the monotonic clock."""
    return time.monotonic() * 1000

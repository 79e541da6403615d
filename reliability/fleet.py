"""The service under test as OS processes (`python -m service run`), and the emulator's admin API.

Each instance gets its own HTTP port and log files; instances are stopped by PID (SIGTERM,
SIGKILL after a bound), also when a scenario fails. `Fleet.exits` records every exit that the
scenario did not cause, which the targets count as a failure.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench import procs


@dataclass
class Instance:
    """One running service process."""

    name: str
    process: subprocess.Popen[bytes]
    port: int
    expected_exit: bool = False


@dataclass
class Fleet:
    """Service instances sharing one environment (topics, database, Alice)."""

    env: dict[str, str]
    log_dir: Path
    instances: list[Instance] = field(default_factory=list)
    unexpected_exits: list[str] = field(default_factory=list)
    _count: int = 0

    async def start(self, *, wait_ready: bool = True, **overrides: str) -> Instance:
        """Start one more instance; wait until /health/ready answers 200 (bounded)."""
        self._count += 1
        name = f"service-{self._count}"
        port = procs.free_port()
        env = {**os.environ, **self.env, **overrides, "HTTP_PORT": str(port)}
        with (self.log_dir / f"{name}.log").open("wb") as stdout:
            process = procs.start(
                [sys.executable, "-m", "service", "run"],
                env=env,
                stdout=stdout,
                log_path=self.log_dir / f"{name}.err",
            )
        instance = Instance(name, process, port)
        self.instances.append(instance)
        if wait_ready:
            await self.wait_ready(instance)
        return instance

    async def wait_ready(self, instance: Instance, timeout_s: float = 120.0) -> None:
        """Poll /health/ready until 200; raise if the process exits or the bound passes."""
        deadline = time.monotonic() + timeout_s
        async with httpx.AsyncClient(timeout=5) as http:
            while time.monotonic() < deadline:
                if instance.process.poll() is not None:
                    raise RuntimeError(f"{instance.name} exited with {instance.process.returncode}")
                try:
                    response = await http.get(f"http://127.0.0.1:{instance.port}/health/ready")
                    if response.status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.2)
        raise RuntimeError(f"{instance.name} was not ready within {timeout_s:g} s")

    def kill(self, instance: Instance) -> None:
        """SIGKILL by PID (a crash): no shutdown code runs."""
        instance.expected_exit = True
        procs.stop(instance.process, signum=signal.SIGKILL, timeout_s=10)

    async def terminate(self, instance: Instance, *, timeout_s: float = 60.0) -> float:
        """SIGTERM by PID; the seconds until it exited (SIGKILL after `timeout_s`)."""
        instance.expected_exit = True
        started = time.monotonic()
        await procs.stop_async(instance.process, timeout_s=timeout_s)
        return time.monotonic() - started

    def check_alive(self) -> None:
        """Record instances that exited without the scenario asking them to."""
        for instance in self.instances:
            code = instance.process.poll()
            if code is not None and not instance.expected_exit:
                entry = f"{instance.name} exited with {code}"
                if entry not in self.unexpected_exits:
                    self.unexpected_exits.append(entry)

    async def close(self) -> None:
        """Stop every instance still running, by PID."""
        self.check_alive()
        for instance in self.instances:
            if instance.process.poll() is None:
                instance.expected_exit = True
                await procs.stop_async(instance.process, timeout_s=30)


class EmulatorAdmin:
    """The emulator's `/_emulator/` admin API (faults, users) from another process."""

    def __init__(self, base_url: str) -> None:
        self._http = httpx.AsyncClient(base_url=f"{base_url}/_emulator", timeout=30)

    async def _call(self, method: str, path: str, body: Any = None) -> Any:
        response = await self._http.request(method, path, json=body)
        response.raise_for_status()
        return response.json()

    async def faults(self, **settings: Any) -> None:
        """Change the standing faults (only the given fields)."""
        await self._call("PUT", "/faults", settings)

    async def clear_faults(self) -> None:
        """A healthy API again."""
        await self._call("DELETE", "/faults")

    async def fault_next(self, count: int, kind: str, **options: Any) -> None:
        """Schedule a fault for the next `count` report calls."""
        await self._call("POST", "/faults/next", {"count": count, "kind": kind, **options})

    async def create_users(self, user_ids: list[str], state: str = "TO_REVIEW") -> None:
        """Create (or re-create) users and render their reports now."""
        for start in range(0, len(user_ids), 500):
            chunk = user_ids[start : start + 500]
            await self._call("POST", "/users", {"user_ids": chunk, "state": state})

    async def delete_user(self, user_id: str) -> None:
        """The user becomes unknown: its report answers 404."""
        await self._call("DELETE", f"/users/{user_id}")

    async def set_state(self, user_id: str, state: str) -> int:
        """Change the user's state; the new report version."""
        return int(
            (await self._call("PUT", f"/users/{user_id}/state", {"state": state}))["version"]
        )

    async def report_calls(self) -> int:
        """Report requests served so far (any status)."""
        counts = await self._call("GET", "/counts")
        return int(counts.get("by_endpoint", {}).get("user_report", 0))

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._http.aclose()

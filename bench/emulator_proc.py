"""The Alice emulator as a subprocess: one for the whole run, its latency switched per phase."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import urllib.request
from pathlib import Path

from bench import procs

API_KEY = "bench-api-key"


class EmulatorProcess:
    """`python -m emulator` on a free loopback port with the users' reports pre-generated."""

    def __init__(self, *, work_dir: Path, user_ids: list[str], max_lifetime_s: float) -> None:
        self._work_dir = work_dir
        self._user_ids = user_ids
        self._max_lifetime_s = max_lifetime_s
        self.process: subprocess.Popen[bytes] | None = None
        self.base_url = ""

    async def start(self, *, latency_ms: float) -> str:
        """Start it and wait for its base URL (after pre-generation); return the URL."""
        users_file = self._work_dir / "users.txt"
        users_file.write_text("\n".join(self._user_ids) + "\n")
        port = procs.free_port()
        self.process = procs.start(
            [
                sys.executable,
                "-m",
                "emulator",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--api-key",
                API_KEY,
                "--latency-ms",
                str(latency_ms),
                "--pregenerate-file",
                str(users_file),
                "--max-lifetime-s",
                str(self._max_lifetime_s),
            ],
            stdout=subprocess.PIPE,
            log_path=self._work_dir / "emulator.log",
        )
        stdout = self.process.stdout
        assert stdout is not None  # noqa: S101 - we asked for a pipe
        line = await asyncio.wait_for(asyncio.to_thread(stdout.readline), timeout=120)
        if not line.startswith(b"http"):
            raise RuntimeError(f"emulator did not start: see {self._work_dir / 'emulator.log'}")
        self.base_url = line.decode().strip()
        return self.base_url

    async def set_latency(self, latency_ms: float) -> None:
        """Change the standing latency of every API call (admin endpoint)."""
        await asyncio.to_thread(self._put_faults, {"latency_ms": latency_ms})

    def _put_faults(self, body: dict[str, float]) -> None:
        request = urllib.request.Request(  # noqa: S310 - our own loopback emulator
            f"{self.base_url}/_emulator/faults",
            data=json.dumps(body).encode(),
            method="PUT",
            headers={"content-type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            response.read()

    async def api_calls(self) -> int:
        """How many API requests (any endpoint) the emulator has served so far."""
        return await asyncio.to_thread(self._api_calls)

    def _api_calls(self) -> int:
        url = f"{self.base_url}/_emulator/counts"
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback
            counts = json.loads(response.read())
        return int(sum(counts.get("by_endpoint", {}).values()))

    async def stop(self) -> None:
        """SIGTERM by PID (it also stops by itself after its maximum lifetime)."""
        if self.process is not None:
            await procs.stop_async(self.process, timeout_s=10)

"""`python -m emulator` runs standalone, prints its URL, and stops on SIGTERM or its lifetime."""

from __future__ import annotations

import signal
import subprocess
import sys

import httpx


def _start(*args: str) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(  # noqa: S603 - our own module with fixed arguments
        [sys.executable, "-m", "emulator", "--port", "0", "--api-key", "cli-key", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    return process, process.stdout.readline().strip()


def test_serves_and_stops_on_sigterm() -> None:
    """The printed URL serves the API with the given key, and SIGTERM stops the process cleanly."""
    process, url = _start("--latency-ms", "1")
    try:
        assert url.startswith("http://127.0.0.1:")
        assert httpx.get(f"{url}/healthcheck").status_code == 200
        assert httpx.get(f"{url}/login_token", headers={"apikey": "cli-key"}).status_code == 200
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=10)
    assert process.returncode == 0


def test_stops_after_max_lifetime() -> None:
    """With `--max-lifetime-s` the emulator exits by itself."""
    process, url = _start("--max-lifetime-s", "0.5")
    assert url
    process.communicate(timeout=10)
    assert process.returncode == 0

"""The stack scripts work from any checkout: one under a private (mode 700) folder, and two
checkouts at once, each running `make demo` while the other's stack holds its ports.

Each test clones this repository's HEAD (committed work only) into a fresh `mkdtemp` folder, which
is mode 700 like a home directory, and runs the real Make targets there with the outer stack's
settings taken out of the environment, so that the clone starts and stops a stack of its own. The
Kafka jars and uv's downloads are cached per machine, so a clone downloads nothing new. Whatever
happens, each clone's stack is stopped by its PIDs (`stack.sh down`) and its folder removed.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STEP_TIMEOUT_S = 240
# What the outer run sets for its own stack, Make and venv: a clone must choose for itself.
OUTER = frozenset(
    {
        "DATABASE_URL",
        "KAFKA_BOOTSTRAP_SERVERS",
        "PG_PORT",
        "KAFKA_PORT",
        "KAFKA_CONTROLLER_PORT",
        "STACK_DIR",
        "STACK_OWNER",
        "STACK_OWNER_PID",
        "VIRTUAL_ENV",
        "PYTHON",
        "MAKEFLAGS",
        "MFLAGS",
        "MAKELEVEL",
        "MAKEOVERRIDES",
        "PYTEST_ARGS",
        "PYTEST_ADDOPTS",
    }
)
PG_PORT = re.compile(r"DATABASE_URL=postgresql\+asyncpg://\S+@127\.0\.0\.1:(\d+)/")
KAFKA_PORT = re.compile(r"KAFKA_BOOTSTRAP_SERVERS=127\.0\.0\.1:(\d+)")
PG_DATA = re.compile(r"postgres running .*, data in (\S+)")
PG_INIT = re.compile(r"initialising a PostgreSQL cluster in (\S+)/data")
DEFAULT_PORTS = (55432, 19092, 19093)


@dataclass
class Run:
    """A Make run in a checkout, in its own process group, its output in files."""

    process: subprocess.Popen[bytes]
    out: Path
    err: Path

    def finish(self) -> tuple[int, str, str]:
        """Wait (bounded) for the run; its exit code, stdout and stderr."""
        try:
            code = self.process.wait(timeout=STEP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.stop()
            code = -1
        return code, self.out.read_text(), self.err.read_text()

    def stop(self) -> None:
        """End the run's process group if it still runs (TERM: with-stack.sh stops its stack)."""
        if self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


@dataclass
class Checkout:
    """A clone of this repository's HEAD and the environment its commands run with."""

    path: Path
    env: dict[str, str]
    runs: list[Run] = field(default_factory=list)

    def start(self, *args: str) -> Run:
        """Start `make -s ARGS` in the checkout."""
        n = len(self.runs)
        out = self.path.parent / f"{self.path.name}.{n}.out"
        err = self.path.parent / f"{self.path.name}.{n}.err"
        with out.open("wb") as stdout, err.open("wb") as stderr:
            process = subprocess.Popen(  # noqa: S603 - our own Make targets
                ["make", "-s", *args],  # noqa: S607 - make from PATH, as a developer runs it
                cwd=self.path,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
                start_new_session=True,
            )
        run = Run(process, out, err)
        self.runs.append(run)
        return run

    def make(self, *args: str) -> tuple[int, str, str]:
        """Run `make -s ARGS` to its end: exit code, stdout, stderr."""
        return self.start(*args).finish()

    def clean_up(self) -> None:
        """Stop every run and this checkout's whole stack, by the PIDs its scripts recorded."""
        for run in self.runs:
            run.stop()
        subprocess.run(  # noqa: S603 - our own script
            [str(self.path / "deploy/local/stack.sh"), "down"],
            env=self.env,
            capture_output=True,
            timeout=120,
            check=False,
        )


def _git(*args: str) -> str:
    """Run git on this repository or a clone of it; its stdout."""
    return subprocess.run(  # noqa: S603 - git on our own repositories
        ["git", "-c", "advice.detachedHead=false", *args],  # noqa: S607 - git from PATH
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def _clone_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in OUTER}
    # A clone's servers stop by themselves if this test process dies before it cleans up.
    env["STACK_OWNER_PID"] = str(os.getpid())
    return env


@pytest.fixture
def private_folder() -> Iterator[Path]:
    """A fresh folder made by mkdtemp: mode 700, like a home directory; removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="ari-checkout-"))
    yield folder
    shutil.rmtree(folder)


CloneFactory = Callable[[str], Checkout]


@pytest.fixture
def clone(private_folder: Path) -> Iterator[CloneFactory]:
    """A factory of clones of HEAD below the private folder, each stopped after the test."""
    head = _git("-C", str(ROOT), "rev-parse", "HEAD")
    made: list[Checkout] = []

    def make_clone(name: str) -> Checkout:
        path = private_folder / name
        _git("clone", "-q", "--no-checkout", str(ROOT), str(path))
        _git("-C", str(path), "checkout", "-q", head)
        checkout = Checkout(path, _clone_env())
        made.append(checkout)
        return checkout

    try:
        yield make_clone
    finally:
        for checkout in made:
            checkout.clean_up()


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _find(pattern: re.Pattern[str], text: str) -> str:
    found = pattern.search(text)
    assert found, f"no {pattern.pattern} in:\n{text}"
    return found[1]


@pytest.mark.timeout(600)
def test_checkout_under_a_private_folder(private_folder: Path, clone: CloneFactory) -> None:
    """Below a mode-700 folder, stack-up keeps PostgreSQL's data outside the checkout (mode 700,
    owned by the server's user) on ports nothing else held, make demo passes on that stack, and
    stack-down stops it and deletes the data, with no folder's mode changed."""
    checkout = clone("x")
    modes = {path: stat.S_IMODE(path.stat().st_mode) for path in (private_folder, checkout.path)}
    assert modes[private_folder] == 0o700
    held_before = {port for port in DEFAULT_PORTS if _listening(port)}
    code, out, err = checkout.make("stack-up")
    assert code == 0, err
    pg_port, kafka_port = int(_find(PG_PORT, out)), int(_find(KAFKA_PORT, out))
    assert {pg_port, kafka_port}.isdisjoint(held_before)
    code, status, err = checkout.make("stack-status")
    assert code == 0, err
    data = Path(_find(PG_DATA, status))
    assert not data.is_relative_to(private_folder)
    server_user = pwd.getpwnam("postgres").pw_uid if os.getuid() == 0 else os.getuid()
    assert data.stat().st_uid == server_user
    assert stat.S_IMODE(data.stat().st_mode) == 0o700

    code, out, err = checkout.make("demo")
    assert code == 0, out[-2000:] + err[-4000:]
    assert "demo: OK" in out
    assert "PostgreSQL already running" in err
    assert "Kafka already running" in err

    code, _, err = checkout.make("stack-down")
    assert code == 0, err
    assert not data.exists()
    assert not _listening(pg_port)
    assert not _listening(kafka_port)
    assert {path: stat.S_IMODE(path.stat().st_mode) for path in modes} == modes


@pytest.mark.timeout(600)
def test_two_checkouts_run_make_demo_at_once(clone: CloneFactory) -> None:
    """Two checkouts started together each run make demo on a stack of their own (distinct
    ports), pass, and stop their servers and delete their data when done."""
    first, second = clone("a"), clone("b")
    runs = [first.start("demo"), second.start("demo")]
    results = [run.finish() for run in runs]
    for code, out, err in results:
        assert code == 0, out[-2000:] + err[-4000:]
        assert "demo: OK" in out
    pg_ports = {int(_find(PG_PORT, err)) for _, _, err in results}
    kafka_ports = {int(_find(KAFKA_PORT, err)) for _, _, err in results}
    assert len(pg_ports) == 2
    assert len(kafka_ports) == 2
    assert not any(_listening(port) for port in pg_ports | kafka_ports)
    data = [Path(_find(PG_INIT, err)) for _, _, err in results]
    assert data[0] != data[1]
    assert not any(folder.exists() for folder in data)

"""Profilers for `--profile`: py-spy attached over the measured window, or pyinstrument.

py-spy (`uv run --with py-spy python -m bench --profile`) samples only while the window runs and
only non-idle stacks (CPU, not waiting), without slowing the service much; its collapsed stacks
are summarised into `bench/profile.txt`: CPU share by library (the leaf frame's package) and the
top functions by self and by inclusive samples. pyinstrument wraps the whole process (start-up
included) and writes its own text report when the service exits on SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

from bench import procs

BENCH_DIR = Path(__file__).resolve().parent


class Profiler:
    """Attaches to (or wraps) the service of one phase."""

    def __init__(self, kind: str, *, work_dir: Path) -> None:
        self.kind = kind
        self._work_dir = work_dir
        self._spy: subprocess.Popen[bytes] | None = None
        self.folded = BENCH_DIR / "profile.folded"
        self.text = BENCH_DIR / ("profile.txt" if kind == "py-spy" else "profile-pyinstrument.txt")
        if kind == "py-spy" and shutil.which("py-spy") is None:
            raise SystemExit(
                "bench: py-spy is not installed: `uv run --with py-spy python -m bench --profile`"
            )

    @property
    def stop_signal(self) -> signal.Signals:
        """The signal that stops the service so that the profiler still writes its output."""
        # uvicorn re-raises SIGTERM after its graceful shutdown, which kills the process before
        # pyinstrument writes; SIGINT ends as KeyboardInterrupt, which pyinstrument catches.
        return signal.SIGINT if self.kind == "pyinstrument" else signal.SIGTERM

    def wrap(self, argv: list[str]) -> list[str]:
        """The service's command line, under pyinstrument when that is the profiler."""
        if self.kind != "pyinstrument":
            return argv
        return [sys.executable, "-m", "pyinstrument", "-r", "text", "-o", str(self.text), *argv[1:]]

    async def attach(self, pid: int) -> None:
        """Start sampling the service (py-spy; pyinstrument runs from the start)."""
        if self.kind != "py-spy":
            return
        spy = shutil.which("py-spy") or "py-spy"
        argv = [spy, "record", "--pid", str(pid), "--rate", "200", "--nonblocking"]
        argv += ["--format", "raw", "-o", str(self.folded)]
        self._spy = procs.start(argv, log_path=self._work_dir / "py-spy.log")
        await asyncio.sleep(0.5)  # py-spy needs a moment to attach

    async def detach(self) -> None:
        """Stop sampling: py-spy writes its output on SIGINT."""
        spy, self._spy = self._spy, None
        if spy is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(spy.pid, signal.SIGINT)
        try:
            await asyncio.to_thread(spy.wait, 30)
        except subprocess.TimeoutExpired:
            await procs.stop_async(spy, timeout_s=5)

    def summarise(self, *, top: int = 25) -> str:
        """The text summary of the collapsed stacks (also written to bench/profile.txt)."""
        if self.kind != "py-spy":
            return self.text.read_text() if self.text.exists() else "(no profile written)"
        if not self.folded.exists():
            return "(py-spy wrote no profile: see bench/work/<run>/py-spy.log)"
        summary = summarise_folded(self.folded.read_text(), top=top)
        self.text.write_text(summary)
        return summary


def _package(frame: str) -> str:
    """The package of a py-spy frame `function (path/to/file.py:123)`."""
    _, _, location = frame.rpartition(" (")
    path = location.rsplit(":", 1)[0]
    parts = [p for p in path.split("/") if p]
    if "site-packages" in parts:
        parts = parts[parts.index("site-packages") + 1 :]
    elif "lib" in parts and any(p.startswith("python3") for p in parts):
        return "stdlib:" + parts[-1].removesuffix(".py")
    return parts[0].removesuffix(".py") if parts else "?"


def summarise_folded(text: str, *, top: int) -> str:
    """CPU share by package of the leaf frame, and the top functions (self and inclusive)."""
    self_samples: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    total = 0
    for line in text.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [f for f in stack.split(";") if " (" in f]
        if not frames:
            continue
        total += count
        self_samples[frames[-1]] += count
        packages[_package(frames[-1])] += count
        for frame in set(frames):
            inclusive[frame] += count
    if not total:
        return "(empty profile)"

    def table(counter: Counter[str]) -> list[str]:
        return [f"{100 * n / total:6.1f} %  {name}" for name, n in counter.most_common(top)]

    return "\n".join(
        [
            f"py-spy, {total} CPU samples of the service over the measured window",
            "",
            "CPU by package (leaf frame):",
            *table(packages),
            "",
            "Top functions, self:",
            *table(self_samples),
            "",
            "Top functions, inclusive:",
            *table(inclusive),
            "",
        ]
    )

"""Rate limiting as an API gateway does it: at most N requests per one-second window, then 429.

`Throttle` counts the API requests of each whole second (POSIX time, fixed windows). With a
limit set, a request beyond N in its second is answered 429 with `Retry-After` set to the
seconds left in the window (at least 1, HTTP's unit). Throttled requests are counted but do not
use up the window. The per-second timeline of what was received (always on, the last hour kept)
is what tests read to check that a client stays within a budget, measured where it matters:
at the server. `/healthcheck` carries no API key and is neither limited nor counted.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

KEPT_SECONDS = 3600


@dataclass(slots=True)
class Window:
    """One second of API requests."""

    received: int = 0
    admitted: int = 0
    throttled: int = 0


class Throttle:
    """The rate limit (None: off) and the per-second timeline of requests."""

    def __init__(self, *, limit_per_s: int | None = None, clock: Callable[[], float] = time.time):
        self.limit_per_s = limit_per_s
        self._clock = clock
        self._windows: OrderedDict[int, Window] = OrderedDict()

    def set_limit(self, limit_per_s: int | None) -> None:
        """At most `limit_per_s` API requests a second (None or 0: no limit)."""
        if limit_per_s is not None and limit_per_s < 0:
            raise ValueError("the rate limit is not negative")
        self.limit_per_s = limit_per_s or None

    def admit(self) -> int | None:
        """Count one API request; None if it may go on, else the Retry-After seconds of a 429."""
        now = self._clock()
        second = math.floor(now)
        window = self._windows.get(second)
        if window is None:
            window = self._windows[second] = Window()
            while len(self._windows) > KEPT_SECONDS:
                self._windows.popitem(last=False)
        window.received += 1
        if self.limit_per_s is not None and window.admitted >= self.limit_per_s:
            window.throttled += 1
            return max(1, math.ceil(second + 1 - now))
        window.admitted += 1
        return None

    def timeline(self) -> list[dict[str, int]]:
        """Each second that saw requests: `{"second", "received", "admitted", "throttled"}`."""
        return [
            {
                "second": second,
                "received": w.received,
                "admitted": w.admitted,
                "throttled": w.throttled,
            }
            for second, w in self._windows.items()
        ]

    def reset(self) -> None:
        """Forget the timeline (the limit stays)."""
        self._windows.clear()

    def to_json(self) -> dict[str, Any]:
        """The admin API's shape: the limit and the timeline."""
        return {"limit_per_s": self.limit_per_s, "windows": self.timeline()}

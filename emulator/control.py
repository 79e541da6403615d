"""`AliceEmulator`: one object that owns the users, tokens, faults and counters, and the server.

Tests hold it and call its methods; the admin endpoints call the same methods for other
processes. All methods are synchronous and meant to be called from the event loop the server
runs on (or before `start()`).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any, Self

from aiohttp import web

from emulator.counters import RequestCounters, RequestCounts
from emulator.faults import Fault, FaultInjector, FaultKind, Faults
from emulator.reports import UNSET, Score, Unset
from emulator.server import create_app
from emulator.state import INITIAL_STATE, UserRegistry
from emulator.throttle import Throttle
from emulator.tokens import TokenAuthority

DEFAULT_API_KEY = "emulator-api-key"


def _check_loopback(host: str) -> None:
    if host == "localhost":
        return
    if not ipaddress.ip_address(host).is_loopback:
        raise ValueError(f"the emulator binds loopback addresses only, not {host!r}")


class AliceEmulator:
    """An in-process Alice Onboarding API; see the package docstring for a tour."""

    def __init__(
        self,
        *,
        api_key: str = DEFAULT_API_KEY,
        token_ttl_s: float = 3600.0,
        seed: int = 0,
        auto_create_users: bool = True,
        faults: Faults | None = None,
        token_secret: str | None = None,
        variety: float = 0.0,
        rate_limit_per_s: int | None = None,
    ) -> None:
        self.api_key = api_key
        self.tokens = TokenAuthority(ttl_s=token_ttl_s, secret=token_secret)
        self.users = UserRegistry(seed=seed, auto_create=auto_create_users)
        self.variety = variety
        self.injector = FaultInjector(seed=seed)
        self.injector.faults = faults or Faults()
        self.counters = RequestCounters()
        self.throttle = Throttle(limit_per_s=rate_limit_per_s)
        self._runner: web.AppRunner | None = None
        self._base_url: str | None = None

    # -- lifecycle -------------------------------------------------------------------------
    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on `host:port` (port 0: any free port); returns the base URL."""
        _check_loopback(host)
        if self._runner is not None:
            raise RuntimeError("the emulator is already running")
        runner = web.AppRunner(create_app(self), access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        self._runner = runner
        bound_host, bound_port = runner.addresses[0][:2]
        host_part = f"[{bound_host}]" if ":" in bound_host else bound_host
        self._base_url = f"http://{host_part}:{bound_port}"
        return self._base_url

    async def stop(self) -> None:
        """Stop serving (idempotent)."""
        if self._runner is not None:
            await self._runner.cleanup()
        self._runner = None
        self._base_url = None

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:<port>`: ALICE_API_URL (with ALLOW_INSECURE_ALICE_URL=true)."""
        if self._base_url is None:
            raise RuntimeError("the emulator is not running")
        return self._base_url

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # -- users and reports -----------------------------------------------------------------
    @property
    def auto_create_users(self) -> bool:
        """Whether an unknown user id is created on first reference."""
        return self.users.auto_create

    @auto_create_users.setter
    def auto_create_users(self, value: bool) -> None:
        self.users.auto_create = value

    def create_user(
        self, user_id: str, state: str = INITIAL_STATE, *, features: Iterable[str] | None = None
    ) -> None:
        """Create `user_id` (again, if it was deleted) with its default onboarding.

        `features` (names from `emulator.variety.FEATURES`) shape the report; None leaves
        them to the `variety` share drawn by seed.
        """
        self.users.create(user_id, state, features)

    def add_features(self, user_id: str, *features: str) -> int:
        """Turn report features on for `user_id`, e.g. `"nfc", "under_age"`; new version."""
        return self.users.add_features(user_id, features)

    @property
    def variety(self) -> float:
        """Share (0-1) of new users given one to three SDK features, chosen by seed."""
        return self.users.variety

    @variety.setter
    def variety(self, value: float) -> None:
        if not 0 <= value <= 1:
            raise ValueError("variety is a share between 0 and 1")
        self.users.variety = value

    def delete_user(self, user_id: str) -> None:
        """Make `user_id` unknown: its report and state get 404 until `create_user`."""
        self.users.delete(user_id)

    def pregenerate(self, user_ids: Iterable[str]) -> int:
        """Create users and render their reports now, so the first fetch is as fast as the rest."""
        return self.users.pregenerate(user_ids)

    def set_user_state(self, user_id: str, state: str) -> int:
        """Set `summary.state.value`; returns the new report version."""
        return self.users.set_state(user_id, state)

    def add_document(
        self,
        user_id: str,
        doc_type: str,
        *,
        issuing_country: str | None = None,
        expired: bool = False,
    ) -> int:
        """Add a document (`idcard`, `passport`, `driverlicense`, ... or any new type);
        `expired`: one whose expiry date has passed (its unexpired checks fail)."""
        return self.users.add_document(user_id, doc_type, issuing_country, expired=expired)

    def set_scores(
        self,
        user_id: str,
        *,
        liveness: Score | Unset = UNSET,
        face_matching: Score | Unset = UNSET,
    ) -> int:
        """Override liveness and/or the face matching of every document (None = null score)."""
        return self.users.set_scores(user_id, liveness, face_matching)

    def add_event(
        self, user_id: str, event_type: str, attributes: Mapping[str, Any] | None = None
    ) -> int:
        """Append an event to the report's `events`."""
        return self.users.add_event(user_id, event_type, attributes or {})

    def report_bytes(self, user_id: str) -> bytes:
        """Exactly the body `GET /user/report` serves for `user_id` now."""
        return self.users.report_bytes(user_id)

    def report(self, user_id: str) -> dict[str, Any]:
        """The report object (inside the envelope) `GET /user/report` serves now."""
        report: dict[str, Any] = json.loads(self.report_bytes(user_id))["report"]
        return report

    def report_version(self, user_id: str) -> int:
        """Starts at 1, bumped by every change to the user."""
        return self.users.get(user_id).version

    def describe_user(self, user_id: str) -> dict[str, Any]:
        """State, report version and documents of `user_id` (the admin API's user view)."""
        record = self.users.get(user_id)
        inputs = record.inputs
        return {
            "user_id": user_id,
            "state": inputs.state,
            "version": record.version,
            "documents": [spec.doc_type for spec in inputs.documents],
            "events": [spec.event_type for spec in inputs.events],
            "features": sorted(inputs.features),
        }

    # -- tokens ------------------------------------------------------------------------------
    @property
    def token_ttl_s(self) -> float:
        """Lifetime of tokens issued from now on."""
        return self.tokens.ttl_s

    @token_ttl_s.setter
    def token_ttl_s(self, value: float) -> None:
        self.tokens.ttl_s = value

    def revoke_tokens(self) -> None:
        """Every token issued so far gets 401 from now on (new ones work)."""
        self.tokens.revoke_all()

    def advance_clock(self, seconds: float) -> None:
        """Move the emulator's token clock forward (expire tokens without sleeping)."""
        self.tokens.advance_clock(seconds)

    # -- faults ------------------------------------------------------------------------------
    @property
    def faults(self) -> Faults:
        """The standing fault settings."""
        return self.injector.faults

    def set_faults(self, faults: Faults | None = None, **changes: Any) -> Faults:
        """Replace the standing faults, or change some fields: `set_faults(latency_ms=50)`."""
        self.injector.faults = dataclasses.replace(faults or self.injector.faults, **changes)
        return self.injector.faults

    def fail_next(
        self,
        count: int,
        status: int = 503,
        *,
        endpoint: str | None = "user_report",
        retry_after_s: int | None = None,
    ) -> None:
        """Answer the next `count` calls to `endpoint` (None: any API endpoint) with `status`."""
        self.injector.schedule(count, Fault("status", status, retry_after_s), endpoint)

    def fault_next(
        self,
        count: int,
        kind: FaultKind,
        *,
        endpoint: str | None = "user_report",
        delay_ms: float = 0.0,
    ) -> None:
        """Spoil the next `count` calls: "reset", "invalid_json", "oversized", "slow"."""
        self.injector.schedule(count, Fault(kind, delay_ms=delay_ms), endpoint)

    def clear_faults(self) -> None:
        """A healthy API again: no standing faults, nothing scheduled."""
        self.injector.clear()

    def set_rate_limit(self, per_s: int | None) -> None:
        """Answer 429 (`Retry-After`: the rest of the second) above `per_s` API requests in a
        one-second window; None or 0: no limit. See emulator/throttle.py."""
        self.throttle.set_limit(per_s)

    # -- counters ----------------------------------------------------------------------------
    def counts(self) -> RequestCounts:
        """Requests so far, by endpoint and by outcome."""
        return self.counters.snapshot()

    def reset_counts(self) -> None:
        """Counters back to zero (and the per-second timeline emptied)."""
        self.counters.reset()
        self.throttle.reset()

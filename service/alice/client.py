"""The async Alice client: auth chain, token cache, bounded retries, typed errors.

    GET {base}/login_token                 apikey: <API key>           -> {"token": login}
    GET {base}/backend_token/{user_id}     Bearer <login>              -> {"token": backend}
    GET {base}/user/report                 Bearer <backend>, version 1 -> {"report": {...}}

Error policy (see service/errors.py for the tree):
- every HTTP attempt (but the health check, which carries no key) passes the process's one
  `AliceBudget` (service/budget/): the rate cap, the adaptive concurrency, the 429 hold and
  the circuit breaker, with the caller's priority (`Priority.BACKGROUND` for the reconciler).
  An attempt the budget does not grant within the call's time budget raises `AliceThrottled`.
- timeouts, connection errors, 408, 429 (waiting `Retry-After`) and 5xx are retried by
  stamina, bounded in attempts and total time, then raise `AliceUnavailable` with the last
  status (`outage=True` when the breaker opened meanwhile), or `AliceThrottled` for a 429.
  A `Retry-After` longer than what is left of the time budget ends the retries at once, and
  the error carries it (`retry_after`): the processor waits it out, never counting it.
- 401 means the token is no longer accepted: drop it, fetch a new one, retry once; a second
  401 raises `AliceAuthError` (a freshly issued token refused points at the credentials, and
  an auth fault must never flush messages to the dead-letter topic).
- Any non-retryable failure of `login_token` raises `AliceAuthError`: that request carries
  nothing from the message, so no message can be at fault (401/403 = the key is refused;
  404/405 = a wrong base URL or plan, equally a configuration fault).
- Elsewhere 404 raises `AliceUserNotFound`, any other 4xx `AliceRejected`, both at once.

Logs (structlog, debug/warning) carry the endpoint, status, attempt and duration: never a
token, the API key or any body (and not the user id either: it is the caller's to bind).
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import NoReturn

import httpx
import stamina
import structlog
from pydantic import SecretStr

from service.alice.responses import Outcome, error_reason, outcome_for, parse_retry_after
from service.alice.responses import permanent_error as _permanent_error
from service.alice.tokens import AccessToken, TokenCache
from service.alice.transport import TransportKind, build_http_client, http_timeout
from service.alice.userid import canonical_user_id
from service.alice.wire import Answer, Retryable, SecretHeaders, exchange
from service.budget import AliceBudget, BudgetObserver, Held, Permit, Priority
from service.errors import (
    AliceAuthError,
    AliceRejected,
    AliceResponseTooLarge,
    AliceThrottled,
    AliceUnavailable,
    InvalidReport,
)
from service.settings import Settings

logger = structlog.get_logger(__name__)

OnCall = Callable[[str, int | None, float], None]
"""Observer of every HTTP attempt: (endpoint, status or None on a transport error, seconds)."""
OnRetry = Callable[[str], None]
"""Observer of every retry (the second and later attempts) of an endpoint."""

_LOGIN = "login"
_MAX_TOKEN_CHARS = 8192


class _Unauthorized(Exception):
    """A 401: the token sent is no longer accepted."""


@dataclass(slots=True)
class _Budgeted:
    """How one logical call asks the budget: its priority, its user (None: no user), and the
    deadline (monotonic) after which waiting for a grant makes no sense."""

    priority: Priority
    key: str | None
    deadline: float = float("inf")


class AliceClient:
    """Fetches Alice reports and user states; raises only `service.errors` exceptions."""

    def __init__(
        self,
        *,
        base_url: str,
        api_key: SecretStr,
        http: httpx.AsyncClient,
        max_response_bytes: int,
        max_concurrency: int,
        retry_attempts: int,
        retry_timeout_s: float,
        token_refresh_margin_s: float,
        token_cache_size: int,
        clock: Callable[[], float] = time.time,
        timeout: httpx.Timeout | None = None,
        retry_wait_initial_s: float = 0.1,
        retry_wait_max_s: float = 5.0,
        retry_wait_jitter_s: float = 1.0,
        on_call: OnCall | None = None,
        on_retry: OnRetry | None = None,
        close_http: bool = False,
        budget: AliceBudget | None = None,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._http = http
        self._close_http = close_http
        self._max_response_bytes = max_response_bytes
        # Without a budget from settings: a plain concurrency cap, no rate, no breaker.
        self.budget = budget or AliceBudget(
            max_requests_per_s=0, min_concurrency=max_concurrency, max_concurrency=max_concurrency
        )
        # Every request carries its own timeouts, whatever client the composition root passed.
        self._timeout = timeout or http_timeout(connect_s=3.0, read_s=10.0)
        # One slow-drip bound per attempt: a connect, a read for the headers, one for the body.
        self._deadline_s = (self._timeout.connect or 3.0) + 2 * (self._timeout.read or 10.0)
        self._retry_attempts = retry_attempts
        self._retry_timeout_s = retry_timeout_s
        self._wait_initial_s = retry_wait_initial_s
        self._wait_max_s = retry_wait_max_s
        self._wait_jitter_s = retry_wait_jitter_s
        self._clock = clock
        self._on_call = on_call
        self._on_retry = on_retry
        # The login token lives in its own one-entry cache, so user churn never evicts it.
        self._login_tokens = TokenCache(
            max_entries=1, refresh_margin_s=token_refresh_margin_s, clock=clock
        )
        self._backend_tokens = TokenCache(
            max_entries=token_cache_size, refresh_margin_s=token_refresh_margin_s, clock=clock
        )

    def __repr__(self) -> str:
        return f"<AliceClient {self._base_url}>"

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        http: httpx.AsyncClient | None = None,
        transport: TransportKind = "aiohttp",
        on_call: OnCall | None = None,
        on_retry: OnRetry | None = None,
        budget_observer: BudgetObserver | None = None,
    ) -> AliceClient:
        """A client configured from settings; builds (and then owns) its pool if none is given.

        It builds the process's `AliceBudget` too: one client per process (the pipeline, the
        reconciler and the tools share it) means one budget for every Alice call.
        """
        return cls(
            base_url=settings.alice_base_url,
            api_key=settings.alice_api_key,
            http=http or build_http_client(settings, transport=transport),
            close_http=http is None,
            max_response_bytes=settings.alice_max_response_bytes,
            max_concurrency=settings.alice_max_concurrency,
            retry_attempts=settings.alice_retry_attempts,
            retry_timeout_s=settings.alice_retry_timeout_s,
            token_refresh_margin_s=settings.alice_token_refresh_margin_s,
            token_cache_size=settings.alice_token_cache_size,
            timeout=http_timeout(
                connect_s=settings.alice_connect_timeout_s, read_s=settings.alice_read_timeout_s
            ),
            on_call=on_call,
            on_retry=on_retry,
            budget=AliceBudget.from_settings(settings, observer=budget_observer),
        )

    # --- public API ----------------------------------------------------------------------------

    async def fetch_report(self, user_id: str, *, priority: Priority = Priority.PIPELINE) -> bytes:
        """The raw `{"report": {...}}` body, byte for byte; only its size is checked."""
        uid = canonical_user_id(user_id)
        return await self._user_call(
            "report", uid, "/user/report", {"Alice-Report-Version": "1"}, priority
        )

    async def fetch_user_state(
        self, user_id: str, *, priority: Priority = Priority.PIPELINE
    ) -> str:
        """The user's state (e.g. `"ACCEPTED"`), as Alice spells it."""
        uid = canonical_user_id(user_id)
        body = await self._user_call("state", uid, "/user/state", {}, priority)
        try:
            state = json.loads(body)
        except ValueError:
            state = None
        if not isinstance(state, str):
            raise InvalidReport("user state: the body is not a JSON string", status=200)
        return state

    async def delete_user(self, user_id: str) -> None:
        """Alice's `DELETE /user`: the user and their data (GDPR erasure; 404 if unknown)."""
        uid = canonical_user_id(user_id)
        await self._user_call("delete_user", uid, "/user", {}, Priority.BACKGROUND, method="DELETE")

    async def healthcheck(self) -> bool:
        """Whether Alice answers 2xx on `/healthcheck` (one attempt, no token, never raises)."""
        try:
            answer = await self._attempt("healthcheck", "/healthcheck", SecretHeaders(), 1, None)
        except (Retryable, AliceResponseTooLarge):
            return False
        return 200 <= answer.status < 300

    async def aclose(self) -> None:
        """Cancel token fetches in flight and close the HTTP pool if this client built it."""
        await self._login_tokens.aclose()
        await self._backend_tokens.aclose()
        if self._close_http:
            await self._http.aclose()

    # --- the auth chain ------------------------------------------------------------------------

    async def _user_call(
        self,
        endpoint: str,
        uid: str,
        path: str,
        extra: dict[str, str],
        priority: Priority,
        *,
        method: str = "GET",
    ) -> bytes:
        async def send(token: AccessToken) -> bytes:
            headers = SecretHeaders(extra, Authorization=f"Bearer {token.value}")
            return await self._call(
                endpoint, path, headers, _Budgeted(priority, uid), method=method
            )

        return await self._once_more_on_401(
            endpoint,
            get=lambda: self._backend_tokens.get(
                uid, lambda: self._fetch_backend_token(uid, priority)
            ),
            drop=lambda token: self._backend_tokens.invalidate(uid, token),
            send=send,
        )

    async def _fetch_backend_token(self, uid: str, priority: Priority) -> str:
        async def send(login: AccessToken) -> bytes:
            headers = SecretHeaders(Authorization=f"Bearer {login.value}")
            budgeted = _Budgeted(priority, uid)
            return await self._call("backend_token", f"/backend_token/{uid}", headers, budgeted)

        body = await self._once_more_on_401(
            "backend_token",
            get=lambda: self._login_tokens.get(_LOGIN, lambda: self._fetch_login_token(priority)),
            drop=lambda token: self._login_tokens.invalidate(_LOGIN, token),
            send=send,
        )
        return _token_from(body, "backend_token")

    async def _fetch_login_token(self, priority: Priority = Priority.PIPELINE) -> str:
        headers = SecretHeaders(apikey=self._api_key.get_secret_value())
        try:
            body = await self._call(
                "login_token", "/login_token", headers, _Budgeted(priority, None)
            )
        except _Unauthorized:
            _raise_auth_error("login_token", "the API key is refused", 401)
        except AliceRejected as exc:
            _raise_auth_error("login_token", exc.reason, exc.status)
        except AliceResponseTooLarge as exc:
            # Alice misbehaving, not the message's fault: transient, never a dead letter.
            raise AliceUnavailable(exc.reason, status=exc.status) from None
        return _token_from(body, "login_token")

    async def _once_more_on_401(
        self,
        endpoint: str,
        *,
        get: Callable[[], Awaitable[AccessToken]],
        drop: Callable[[AccessToken], object],
        send: Callable[[AccessToken], Awaitable[bytes]],
    ) -> bytes:
        token = await get()
        try:
            return await send(token)
        except _Unauthorized:
            drop(token)
            logger.warning("alice.token_rejected", endpoint=endpoint, status=401)
        token = await get()
        try:
            return await send(token)
        except _Unauthorized:
            drop(token)
            _raise_auth_error(endpoint, "a freshly issued token was refused", 401)

    # --- one logical call: retries and status mapping -----------------------------------------

    async def _call(
        self,
        endpoint: str,
        path: str,
        headers: SecretHeaders,
        budgeted: _Budgeted,
        *,
        method: str = "GET",
    ) -> bytes:
        """`method` `path` with bounded retries; the 2xx body, or our errors / `_Unauthorized`."""
        started = time.monotonic()
        budgeted.deadline = started + self._retry_timeout_s

        def backoff(exc: Exception) -> bool | float:
            # stamina's backoff hook: retry only our transient signal, and wait exactly
            # `Retry-After` when the server said how long (unless it exceeds the budget).
            if not isinstance(exc, Retryable):
                return False
            if exc.retry_after is None:
                return True
            left = self._retry_timeout_s - (time.monotonic() - started)
            return exc.retry_after if exc.retry_after <= left else False

        try:
            async for attempt in stamina.retry_context(
                on=backoff,
                attempts=self._retry_attempts,
                timeout=self._retry_timeout_s,
                wait_initial=self._wait_initial_s,
                wait_max=self._wait_max_s,
                wait_jitter=self._wait_jitter_s,
            ):
                with attempt:
                    if attempt.num > 1:
                        self._observe_retry(endpoint)
                    answer = await self._attempt(
                        endpoint, path, headers, attempt.num, budgeted, method=method
                    )
                    return self._body_or_raise(endpoint, answer)
        except Held as held:
            logger.warning("alice.held", endpoint=endpoint, outage=held.outage)
            raise AliceThrottled(
                f"{endpoint}: {held.reason}", retry_after=held.retry_after, outage=held.outage
            ) from None
        except Retryable as exc:
            logger.warning(
                "alice.unavailable", endpoint=endpoint, status=exc.status, reason=exc.reason
            )
            kind = AliceThrottled if exc.status == 429 else AliceUnavailable
            raise kind(
                f"{endpoint}: {exc.reason}",
                status=exc.status,
                retry_after=exc.retry_after,
                outage=self.budget.outage_since(started),
            ) from None
        raise AssertionError("unreachable: stamina either returns or raises")  # pragma: no cover

    def _body_or_raise(self, endpoint: str, answer: Answer) -> bytes:
        outcome = outcome_for(answer.status)
        if outcome is Outcome.OK:
            return answer.body
        if outcome is Outcome.UNAUTHORIZED:
            raise _Unauthorized
        reason = error_reason(answer.body)
        if outcome is Outcome.RETRY:
            raise Retryable(
                reason,
                status=answer.status,
                retry_after=parse_retry_after(answer.retry_after, now=self._clock()),
            )
        logger.warning("alice.rejected", endpoint=endpoint, status=answer.status, reason=reason)
        raise _permanent_error(answer.status, f"{endpoint}: {reason}")

    async def _attempt(
        self,
        endpoint: str,
        path: str,
        headers: SecretHeaders,
        attempt: int,
        budgeted: _Budgeted | None,
        *,
        method: str = "GET",
    ) -> Answer:
        """One HTTP exchange granted by the budget (unless `budgeted` is None), observed."""
        permit: Permit | None = None
        if budgeted is not None:
            left = max(0.0, budgeted.deadline - time.monotonic())
            permit = await self.budget.acquire(budgeted.priority, timeout=left)
        status: int | None = None
        # (status, Retry-After) for the budget; None: nothing learned (cancelled, too large).
        outcome: tuple[int | None, str | None] | None = None
        started = time.perf_counter()
        try:
            answer = await exchange(
                self._http,
                self._base_url + path,
                headers=headers,
                http_timeout=self._timeout,
                deadline_s=self._deadline_s,
                max_body_bytes=self._max_response_bytes,
                method=method,
            )
        except AliceResponseTooLarge as exc:
            status = exc.status
            raise
        except Retryable:
            outcome = (None, None)  # no answer at all (a timeout, a lost connection)
            raise
        else:
            status = answer.status
            outcome = (answer.status, answer.retry_after)
            return answer
        finally:
            seconds = time.perf_counter() - started
            if permit is not None and budgeted is not None:
                self._give_back(permit, endpoint, budgeted.key, outcome)
            logger.debug(
                "alice.call", endpoint=endpoint, status=status, attempt=attempt, seconds=seconds
            )
            self._observe_call(endpoint, status, seconds)

    def _give_back(
        self,
        permit: Permit,
        endpoint: str,
        key: str | None,
        outcome: tuple[int | None, str | None] | None,
    ) -> None:
        if outcome is None:
            self.budget.abandon(permit)
            return
        status, retry_after = outcome
        wait = parse_retry_after(retry_after, now=self._clock()) if status == 429 else None
        self.budget.release(permit, endpoint=endpoint, key=key, status=status, retry_after=wait)

    # --- observers: a metrics bug must never fail a report -------------------------------------

    def _observe_call(self, endpoint: str, status: int | None, seconds: float) -> None:
        if self._on_call is not None:
            try:
                self._on_call(endpoint, status, seconds)
            except Exception:
                logger.warning("alice.observer_failed", endpoint=endpoint, hook="on_call")

    def _observe_retry(self, endpoint: str) -> None:
        logger.warning("alice.retry", endpoint=endpoint)
        if self._on_retry is not None:
            try:
                self._on_retry(endpoint)
            except Exception:
                logger.warning("alice.observer_failed", endpoint=endpoint, hook="on_retry")


def _token_from(body: bytes, endpoint: str) -> str:
    """The token of a `{"token": "<JWT>"}` body, or `AliceUnavailable` for anything else.

    A malformed token answer is Alice misbehaving, not the message's fault: transient. The
    value must also be safe to put in a header (printable ASCII, no spaces, bounded).
    """
    try:
        document = json.loads(body)
    except ValueError:
        document = None
    token = document.get("token") if isinstance(document, dict) else None
    if (
        not isinstance(token, str)
        or not 0 < len(token) <= _MAX_TOKEN_CHARS
        or not token.isascii()
        or not token.isprintable()
        or " " in token
    ):
        raise AliceUnavailable(f"{endpoint}: the answer holds no usable token", status=200)
    return token


def _raise_auth_error(endpoint: str, reason: str, status: int | None) -> NoReturn:
    logger.warning("alice.auth_failed", endpoint=endpoint, status=status)
    raise AliceAuthError(f"{endpoint}: {reason}", status=status) from None


__all__ = ["AliceClient", "OnCall", "OnRetry"]

"""The client's policies, against an in-memory `httpx.MockTransport` (no sockets)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime

import httpx
import jwt
import pytest
import structlog
from pydantic import SecretStr
from structlog.tracebacks import ExceptionDictTransformer

from service.alice import AliceClient, ReportSource
from service.alice.responses import MAX_REASON_CHARS
from service.errors import (
    AliceAuthError,
    AliceResponseTooLarge,
    AliceUnavailable,
    AliceUserNotFound,
    IngestorError,
    InvalidReport,
)
from service.messages import dead_letter_headers
from service.settings import Settings

API_KEY = "unit-api-key-7f3a9c"
USER = "0b9c6f4e-2f1a-4c3e-9d5b-7a8e1f2c3d4e"
BASE = "http://alice.test/onboarding"
Handler = Callable[[httpx.Request], Awaitable[httpx.Response]]


def token(kind: str) -> str:
    """A JWT with a one-hour `exp`, recognisable in logs by its `kind` claim."""
    return jwt.encode(
        {"kind": kind, "exp": 4_102_444_800}, "k" * 32, algorithm="HS256"
    )  # exp: year 2100


LOGIN, BACKEND = token("login-secret-marker"), token("backend-secret-marker")


class FakeAlice:
    """Answers the auth chain correctly; `report` (and `login`) can be replaced per test."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.report: Handler = self._ok_report
        self.login: Handler = self._ok_login

    async def _ok_login(self, _request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"token": LOGIN})

    async def _ok_report(self, _request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b'{"report": {"user_id": "x"}}')

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix("/onboarding")
        name = path.split("/")[1] if path.startswith("/backend_token/") else path
        self.calls[name] += 1
        if path == "/login_token":
            return await self.login(request)
        if path.startswith("/backend_token/"):
            return httpx.Response(200, json={"token": BACKEND})
        if path in ("/user/report", "/user/state"):
            return await self.report(request)
        if path == "/healthcheck":
            return httpx.Response(200, json={"status": "ok"})
        return httpx.Response(404)


def make_client(alice: FakeAlice, **overrides: object) -> AliceClient:
    """A client over a mock transport with fast retries."""
    options: dict[str, object] = {
        "base_url": BASE,
        "api_key": SecretStr(API_KEY),
        "http": httpx.AsyncClient(transport=httpx.MockTransport(alice)),
        "close_http": True,
        "max_response_bytes": 1024,
        "max_concurrency": 4,
        "retry_attempts": 3,
        "retry_timeout_s": 5.0,
        "token_refresh_margin_s": 60.0,
        "token_cache_size": 10,
        "retry_wait_initial_s": 0.001,
        "retry_wait_max_s": 0.002,
        "retry_wait_jitter_s": 0.0,
    }
    options.update(overrides)
    return AliceClient(**options)  # type: ignore[arg-type]


def render(exc: BaseException) -> str:
    """The exception as structlog's dict tracebacks render it, locals included (the default)."""
    return json.dumps(
        ExceptionDictTransformer(show_locals=True)((type(exc), exc, exc.__traceback__))
    )


def assert_no_secret(text: str) -> None:
    """Neither the API key nor any token appears in `text`."""
    for secret in (API_KEY, LOGIN, BACKEND, LOGIN[:40], BACKEND[:40]):
        assert secret not in text


async def test_report_body_is_returned_byte_for_byte() -> None:
    """The report body comes back exactly as sent, after one pass through the auth chain."""
    alice = FakeAlice()
    client = make_client(alice)
    assert await client.fetch_report(USER) == b'{"report": {"user_id": "x"}}'
    assert alice.calls == Counter({"/login_token": 1, "backend_token": 1, "/user/report": 1})
    await client.aclose()


@pytest.mark.parametrize("status", [401, 403, 404, 405])
async def test_login_refusal_is_an_auth_error(status: int) -> None:
    """Any non-retryable refusal of `login_token` is a transient `AliceAuthError`, not retried."""
    alice = FakeAlice()

    async def refuse(_request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json={"detail": "Invalid API key"})

    alice.login = refuse
    client = make_client(alice)
    with pytest.raises(AliceAuthError) as caught:
        await client.fetch_report(USER)
    assert caught.value.transient
    assert caught.value.status == status
    assert alice.calls["/login_token"] == 1
    assert alice.calls["/user/report"] == 0
    await client.aclose()


async def test_malformed_token_answer_is_unavailable() -> None:
    """A 200 from `login_token` without a usable token is `AliceUnavailable`."""
    alice = FakeAlice()

    async def no_token(_request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"token": "with space\r\nX-Injected: 1"})

    alice.login = no_token
    client = make_client(alice)
    with pytest.raises(AliceUnavailable):
        await client.fetch_report(USER)
    await client.aclose()


async def test_retry_after_beyond_the_budget_fails_at_once() -> None:
    """A 429 asking for longer than the retry budget is not waited for: one call, then 429."""
    alice = FakeAlice()

    async def throttle(_request: httpx.Request) -> httpx.Response:
        return httpx.Response(429, headers={"Retry-After": "3600"}, json={"detail": "slow down"})

    alice.report = throttle
    client = make_client(alice)
    with pytest.raises(AliceUnavailable) as caught:
        await client.fetch_report(USER)
    assert caught.value.status == 429
    assert "slow down" in caught.value.reason
    assert alice.calls["/user/report"] == 1
    await client.aclose()


async def test_5xx_is_retried_then_unavailable_with_observers() -> None:
    """A lasting 503 is tried `retry_attempts` times; observers see every call and retry."""
    alice = FakeAlice()

    async def down(_request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, text="<html>down</html>")

    alice.report = down
    calls: list[tuple[str, int | None]] = []
    retries: list[str] = []
    client = make_client(
        alice,
        on_call=lambda endpoint, status, _s: calls.append((endpoint, status)),
        on_retry=retries.append,
    )
    with pytest.raises(AliceUnavailable) as caught:
        await client.fetch_report(USER)
    assert caught.value.status == 503
    assert caught.value.reason == "report: error body is not JSON"
    assert calls.count(("report", 503)) == 3
    assert retries == ["report", "report"]
    await client.aclose()


async def test_a_failing_observer_does_not_fail_the_call() -> None:
    """An exception in a metrics hook is logged, not raised: the report still arrives."""

    def broken(*_args: object) -> None:
        raise RuntimeError("metrics bug")

    client = make_client(FakeAlice(), on_call=broken, on_retry=broken)
    assert await client.fetch_report(USER)
    await client.aclose()


async def test_404_is_unknown_user_at_once() -> None:
    """A 404 on the report raises `AliceUserNotFound` after exactly one report request."""
    alice = FakeAlice()

    async def unknown(_request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, json={"detail": "User not found"})

    alice.report = unknown
    client = make_client(alice)
    with pytest.raises(AliceUserNotFound):
        await client.fetch_report(USER)
    assert alice.calls["/user/report"] == 1
    await client.aclose()


async def test_declared_oversized_body_is_refused() -> None:
    """A Content-Length above the cap is refused as `AliceResponseTooLarge`, not retried."""
    alice = FakeAlice()

    async def huge(_request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"{" + b" " * 5000 + b"}")

    alice.report = huge
    client = make_client(alice)
    with pytest.raises(AliceResponseTooLarge) as caught:
        await client.fetch_report(USER)
    assert not caught.value.transient
    assert alice.calls["/user/report"] == 1
    await client.aclose()


async def test_user_state_is_a_json_string() -> None:
    """`fetch_user_state` returns the bare JSON string, and refuses any other JSON."""
    alice = FakeAlice()

    async def state(_request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json="ACCEPTED")

    alice.report = state
    client = make_client(alice)
    assert await client.fetch_user_state(USER) == "ACCEPTED"

    async def not_a_state(_request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"state": "ACCEPTED"})

    alice.report = not_a_state
    with pytest.raises(InvalidReport):
        await client.fetch_user_state(USER)
    await client.aclose()


async def test_healthcheck_never_raises() -> None:
    """The health check is True on 200 and False when the connection fails."""
    client = make_client(FakeAlice())
    assert await client.healthcheck() is True
    await client.aclose()

    async def unreachable(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    broken = AliceClient(
        base_url=BASE,
        api_key=SecretStr(API_KEY),
        http=httpx.AsyncClient(transport=httpx.MockTransport(unreachable)),
        max_response_bytes=1024,
        max_concurrency=1,
        retry_attempts=1,
        retry_timeout_s=1,
        token_refresh_margin_s=0,
        token_cache_size=1,
    )
    assert await broken.healthcheck() is False


async def test_rendered_errors_hold_no_secret() -> None:
    """Errors rendered with locals (structlog's default) and logs hold no key or token."""
    alice = FakeAlice()

    async def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    alice.report = timeout
    client = make_client(alice)
    with structlog.testing.capture_logs() as logs:
        with pytest.raises(AliceUnavailable) as unavailable:
            await client.fetch_report(USER)
        alice.login = timeout
        await client.aclose()
        client = make_client(alice)
        with pytest.raises(AliceUnavailable) as login_down:
            await client.fetch_report(USER)
    for error in (unavailable.value, login_down.value):
        assert isinstance(error, IngestorError)
        assert error.__cause__ is None
        assert "ReadTimeout" in error.reason
        assert_no_secret(render(error))
    assert_no_secret(repr(logs))
    assert any(entry["event"] == "alice.retry" for entry in logs)
    await client.aclose()


async def test_from_settings_owns_the_pool_it_builds() -> None:
    """`from_settings` without a pool builds one and closes it; a given pool stays open."""
    settings = Settings(
        alice_api_key=SecretStr(API_KEY), alice_api_url=BASE, allow_insecure_alice_url=True
    )
    own = AliceClient.from_settings(settings)
    await own.aclose()
    assert own._http.is_closed
    shared = httpx.AsyncClient()
    borrowed = AliceClient.from_settings(settings, http=shared)
    await borrowed.aclose()
    assert not shared.is_closed
    await shared.aclose()


async def test_undeclared_oversized_body_is_cut_while_streaming() -> None:
    """A body without Content-Length is refused once the bytes read pass the cap."""
    alice = FakeAlice()
    sent: list[int] = []

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(100):
            sent.append(1)
            yield b"x" * 512

    async def endless(_request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=chunks())

    alice.report = endless
    client = make_client(alice, max_response_bytes=1024)
    with pytest.raises(AliceResponseTooLarge):
        await client.fetch_report(USER)
    assert len(sent) < 100
    await client.aclose()


async def test_permanent_errors_carry_no_chained_exception() -> None:
    """A 404 surfaces with neither a cause nor a context: no library object rides along."""
    alice = FakeAlice()

    async def unknown(_request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, json={"detail": "User not found"})

    alice.report = unknown
    client = make_client(alice)
    with pytest.raises(AliceUserNotFound) as caught:
        await client.fetch_report(USER)
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None
    await client.aclose()


async def test_the_client_is_a_report_source() -> None:
    """`AliceClient` serves both calls of the use case's `ReportSource` port through a variable
    typed as the port (mypy checks the types; this checks the behaviour behind them)."""
    client = make_client(FakeAlice())
    source: ReportSource = client
    assert await source.fetch_report(USER) == b'{"report": {"user_id": "x"}}'
    assert await source.healthcheck() is True
    await client.aclose()


HOSTILE_DETAIL = (
    "User Jane Quixote-Doe (DNI 12345678Z) not found\r\nlevel=error forged=line\n" + "Zyx " * 4000
)
PERSONAL_PARTS = ("Jane", "Quixote", "12345678Z", "forged", "Zyx", "\n", "\r")


@pytest.mark.parametrize("status", [400, 503])
async def test_hostile_error_detail_reaches_no_log_error_or_dead_letter(status: int) -> None:
    """A detail quoting a name and a document number, with newlines and 16 KB of text, leaves
    only a sanitised, bounded reason in the error, its traceback, the log events and the
    dead-letter headers."""
    alice = FakeAlice()

    async def hostile(_request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json={"detail": HOSTILE_DETAIL})

    alice.report = hostile
    client = make_client(alice, max_response_bytes=64 * 1024)
    with structlog.testing.capture_logs() as logs, pytest.raises(IngestorError) as caught:
        await client.fetch_report(USER)
    await client.aclose()
    error = caught.value
    assert error.reason == "report: User … not found …"
    assert len(error.reason) <= len("report: ") + MAX_REASON_CHARS
    headers = dead_letter_headers(
        [],
        error_class=error.code,
        reason=error.reason,
        topic="t",
        partition=0,
        offset=0,
        attempts=1,
        failed_at=datetime.now(UTC),
    )
    texts = [str(error), repr(error), render(error), repr(logs), repr(headers)]
    assert any("alice." in event["event"] for event in logs)  # the failure was logged
    for part in PERSONAL_PARTS:
        assert not [text for text in texts if part in text.replace("\\n", "\n")]

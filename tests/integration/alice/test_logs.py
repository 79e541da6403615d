"""No token, API key, name or document number ever reaches a log line, output or error."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from pydantic import SecretStr
from structlog.tracebacks import ExceptionDictTransformer

from emulator import AliceEmulator
from service.errors import IngestorError
from tests.integration.alice.conftest import ClientFactory, LeakGuard


async def test_no_secret_in_logs_output_or_errors(
    *,
    emulator: AliceEmulator,
    make_client: ClientFactory,
    new_user: Callable[[], str],
    leak_guard: LeakGuard,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Across success, refresh, retries, timeouts and refusals, logs and errors hold no secret."""
    user, gone = new_user(), new_user()
    client = make_client(read_timeout_s=0.2, retry_attempts=2)
    errors: list[IngestorError] = []

    async def attempt(call: Callable[[], object]) -> None:
        try:
            await call()  # type: ignore[misc]
        except IngestorError as exc:
            errors.append(exc)

    await attempt(lambda: client.fetch_report(user))
    await attempt(lambda: client.fetch_user_state(user))
    emulator.revoke_tokens()
    await attempt(lambda: client.fetch_report(user))
    emulator.fail_next(1, 429, retry_after_s=0)
    emulator.fail_next(1, 503)
    await attempt(lambda: client.fetch_report(user))
    emulator.fault_next(2, "slow", delay_ms=500)
    await attempt(lambda: client.fetch_report(user))
    emulator.fault_next(1, "oversized")
    await attempt(lambda: client.fetch_report(user))
    emulator.delete_user(gone)
    await attempt(lambda: client.fetch_report(gone))
    emulator.fail_next(2, 401)
    await attempt(lambda: client.fetch_report(user))
    wrong_key = make_client(api_key=SecretStr("wrong-key-123456"))
    await attempt(lambda: wrong_key.fetch_report(user))
    await attempt(lambda: client.fetch_report("../users"))

    codes = [error.code for error in errors]
    assert codes == [
        "alice_unavailable",  # 429 then 503: the two attempts spent
        "alice_unavailable",  # two slow bodies: timeouts
        "alice_response_too_large",
        "unknown_user",
        "alice_auth",
        "alice_auth",
        "invalid_user_id",
    ]
    tokens = {s for s in leak_guard.secrets if s.count(".") == 2}
    assert len(tokens) >= 4, "the guard must know the issued tokens to prove anything"
    events = {entry["event"] for entry in leak_guard.events}
    assert {"alice.call", "alice.retry", "alice.unavailable", "stamina.retry_scheduled"} <= events
    # The stdlib check below proves something only if stdlib logging captured records.
    assert caplog.records, "no stdlib log record captured: the stdlib check would be vacuous"

    for error in errors:
        leak_guard.check(str(error), "an error message")
        leak_guard.check(repr(error), "an error repr")
        rendered = ExceptionDictTransformer(show_locals=True)(
            (type(error), error, error.__traceback__)
        )
        leak_guard.check(json.dumps(rendered), "a traceback rendered with locals")
    leak_guard.check(repr(leak_guard.events), "structlog events")
    leak_guard.check(caplog.text, "stdlib logging")
    out, err = capsys.readouterr()
    leak_guard.check(out + err, "stdout/stderr")

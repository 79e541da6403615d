"""Fixtures for the Alice client's integration tests: the emulator over real HTTP, clients on
both transports, and a guard that fails any test whose logs or output leak a secret.

Nothing here needs the Kafka/PostgreSQL stack: the emulator runs in-process on a free port.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
import structlog
from pydantic import SecretStr

from emulator import AliceEmulator
from service.alice import AliceClient
from service.alice.transport import TransportKind, build_http_client_for, http_timeout

API_KEY = "integration-api-key-d41f7e"
PII_FIELDS = frozenset(
    {
        "first_name",
        "last_name",
        "id_number",
        "passport_number",
        "license_number",
        "health_insurance_number",
        "address",
    }
)
ClientFactory = Callable[..., AliceClient]


def pii_values(report_body: bytes) -> set[str]:
    """Names, document numbers and addresses anywhere in a report body."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("name") in PII_FIELDS and isinstance(node.get("value"), str):
                found.add(node["value"])
            for child in node.values():
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(json.loads(report_body))
    return {value for value in found if len(value) >= 4}


class LeakGuard:
    """The secrets a test must never see in its logs or output."""

    def __init__(self) -> None:
        self.secrets: set[str] = {API_KEY}
        self.events: list[Any] = []
        """The structlog events captured so far."""

    def add_report(self, report_body: bytes) -> None:
        """Watch the names and document numbers of a report."""
        self.secrets |= pii_values(report_body)

    def check(self, text: str, where: str) -> None:
        """Fail if any secret (or the first 40 characters of a token) appears in `text`."""
        for secret in self.secrets:
            probe = secret[:40] if secret.count(".") == 2 else secret
            assert probe not in text, f"a secret leaked into {where}"


@pytest.fixture
async def emulator() -> AsyncIterator[AliceEmulator]:
    """A fresh emulator on a free loopback port, stopped after the test."""
    emu = AliceEmulator(api_key=API_KEY, token_ttl_s=3600, seed=7)
    await emu.start(host="127.0.0.1", port=0)
    yield emu
    await emu.stop()


@pytest.fixture(autouse=True)
def leak_guard(
    emulator: AliceEmulator, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> Iterator[LeakGuard]:
    """Record every token the emulator issues; after the test, check every log and output."""
    guard = LeakGuard()
    issue = emulator.tokens.issue

    def recording_issue(kind: str, user_id: str | None = None) -> str:
        token = issue(kind, user_id)
        guard.secrets.add(token)
        return token

    emulator.tokens.issue = recording_issue  # type: ignore[method-assign]
    caplog.set_level(logging.DEBUG)
    with structlog.testing.capture_logs() as entries:
        guard.events = entries
        yield guard
    guard.check(repr(entries), "structlog events")
    # In teardown, `caplog.text` holds only the teardown phase: format every phase's records.
    records = [*caplog.get_records("setup"), *caplog.get_records("call"), *caplog.records]
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    guard.check("\n".join(formatter.format(record) for record in records), "stdlib logging")
    out, err = capsys.readouterr()
    guard.check(out, "stdout")
    guard.check(err, "stderr")


@pytest.fixture
def new_user(emulator: AliceEmulator, leak_guard: LeakGuard) -> Callable[[], str]:
    """Create users in the emulator whose reports the leak guard watches."""

    def create() -> str:
        user_id = str(uuid.uuid4())
        emulator.create_user(user_id)
        leak_guard.add_report(emulator.report_bytes(user_id))
        return user_id

    return create


@pytest.fixture(params=["aiohttp", "httpx"])
def transport(request: pytest.FixtureRequest) -> TransportKind:
    """Each test runs on both transports: httpx over aiohttp (the default) and httpcore."""
    kind: TransportKind = request.param
    return kind


@pytest.fixture
async def make_client(
    emulator: AliceEmulator, transport: TransportKind
) -> AsyncIterator[ClientFactory]:
    """Build clients against the emulator with fast retries; close them after the test."""
    clients: list[AliceClient] = []

    def make(
        *, connect_timeout_s: float = 1.0, read_timeout_s: float = 2.0, **overrides: Any
    ) -> AliceClient:
        options: dict[str, Any] = {
            "base_url": emulator.base_url,
            "api_key": SecretStr(API_KEY),
            "max_response_bytes": 256 * 1024,
            "max_concurrency": 16,
            "retry_attempts": 3,
            "retry_timeout_s": 10.0,
            "token_refresh_margin_s": 60.0,
            "token_cache_size": 100,
            "retry_wait_initial_s": 0.01,
            "retry_wait_max_s": 0.05,
            "retry_wait_jitter_s": 0.01,
        }
        options.update(overrides)
        http = options.pop("http", None) or build_http_client_for(
            connect_timeout_s=connect_timeout_s,
            read_timeout_s=read_timeout_s,
            max_connections=options["max_concurrency"],
            transport=transport,
        )
        client = AliceClient(
            http=http,
            close_http=True,
            timeout=http_timeout(connect_s=connect_timeout_s, read_s=read_timeout_s),
            **options,
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()

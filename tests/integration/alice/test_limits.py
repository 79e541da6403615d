"""Caps over real HTTP: response size, concurrency, and user ids that never reach a URL."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import httpx
import pytest
from httpx_aiohttp import AiohttpTransport

from emulator import AliceEmulator
from service.alice.transport import TransportKind
from service.errors import AliceResponseTooLarge, InvalidUserId
from tests.integration.alice.conftest import ClientFactory


async def test_an_oversized_body_is_refused(
    emulator: AliceEmulator, make_client: ClientFactory, new_user: Callable[[], str]
) -> None:
    """A 10 MB report is refused as permanent `AliceResponseTooLarge`, and not retried."""
    user = new_user()
    client = make_client(max_response_bytes=256 * 1024)
    emulator.fault_next(1, "oversized")
    with pytest.raises(AliceResponseTooLarge) as caught:
        await client.fetch_report(user)
    assert not caught.value.transient
    assert emulator.counts()["user_report"] == 1
    assert await client.fetch_report(user) == emulator.report_bytes(user)


async def test_a_body_just_over_the_cap_is_refused(
    emulator: AliceEmulator, make_client: ClientFactory, new_user: Callable[[], str]
) -> None:
    """A cap one byte below the real report size refuses the ordinary report."""
    user = new_user()
    client = make_client(max_response_bytes=len(emulator.report_bytes(user)) - 1)
    with pytest.raises(AliceResponseTooLarge):
        await client.fetch_report(user)


@pytest.mark.parametrize(
    "user_id",
    ["../users", "%2e%2e", "", "a" * 4096, "../backend_token/x", "0b9c6f4e?x=1", " " * 36],
)
async def test_bad_user_ids_never_reach_the_api(
    emulator: AliceEmulator, make_client: ClientFactory, user_id: str
) -> None:
    """A user id that is not a UUID raises `InvalidUserId` before any request is sent."""
    client = make_client()
    with pytest.raises(InvalidUserId):
        await client.fetch_report(user_id)
    with pytest.raises(InvalidUserId):
        await client.fetch_user_state(user_id)
    assert emulator.counts().total() == 0


class PeakCounter(httpx.AsyncBaseTransport):
    """Wraps a transport and records the most requests it ever had waiting for headers."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.active = 0
        self.peak = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.active += 1
        self.peak = max(self.peak, self.active)
        try:
            return await self.inner.handle_async_request(request)
        finally:
            self.active -= 1

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_the_concurrency_cap_holds(
    emulator: AliceEmulator,
    make_client: ClientFactory,
    new_user: Callable[[], str],
    transport: TransportKind,
) -> None:
    """With a cap of 3, 12 concurrent reports never have more than 3 requests in flight."""
    users = [new_user() for _ in range(12)]
    inner: httpx.AsyncBaseTransport = (
        AiohttpTransport() if transport == "aiohttp" else httpx.AsyncHTTPTransport()
    )
    counter = PeakCounter(inner)
    client = make_client(max_concurrency=3, http=httpx.AsyncClient(transport=counter))
    emulator.set_faults(latency_ms=100)
    started = time.monotonic()
    bodies = await asyncio.gather(*(client.fetch_report(user) for user in users))
    elapsed = time.monotonic() - started
    assert bodies == [emulator.report_bytes(user) for user in users]
    assert counter.peak == 3
    # 1 login + 12 backend tokens + 12 reports, 3 at a time, 100 ms each: at least 9 rounds.
    assert elapsed >= 9 * 0.1

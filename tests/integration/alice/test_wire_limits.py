"""The body limits of one exchange, over real HTTP through the transport the service uses:
a server that sends no Content-Length, a gzip bomb, and a slow drip of bytes."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from service.alice.transport import TransportKind, build_http_client_for, http_timeout
from service.alice.wire import Retryable, SecretHeaders, exchange
from service.errors import AliceResponseTooLarge

CAP = 64 * 1024


async def _chunked(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse()
    response.enable_chunked_encoding()  # no Content-Length: only counting can stop it
    await response.prepare(request)
    for _ in range(64):
        await response.write(b"x" * 4096)
    await response.write_eof()
    return response


async def _bomb(request: web.Request) -> web.Response:
    inflated = b"{" + b" " * (50 * 1024 * 1024) + b"}"
    return web.Response(
        body=gzip.compress(inflated, compresslevel=9),
        headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
    )


async def _drip(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse()
    response.enable_chunked_encoding()
    await response.prepare(request)
    for _ in range(100):
        await response.write(b" ")
        await asyncio.sleep(0.2)  # every read is quick: only a whole-exchange deadline helps
    await response.write_eof()
    return response


@pytest.fixture
async def hostile() -> AsyncIterator[str]:
    """A loopback server answering with bodies a faithful Alice never sends."""
    app = web.Application()
    app.router.add_get("/chunked", _chunked)
    app.router.add_get("/bomb", _bomb)
    app.router.add_get("/drip", _drip)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


async def _get(transport: TransportKind, url: str, *, deadline_s: float = 10.0) -> bytes:
    http = build_http_client_for(
        connect_timeout_s=2.0, read_timeout_s=2.0, max_connections=4, transport=transport
    )
    try:
        answer = await exchange(
            http,
            url,
            headers=SecretHeaders(),
            http_timeout=http_timeout(connect_s=2.0, read_s=2.0),
            deadline_s=deadline_s,
            max_body_bytes=CAP,
        )
    finally:
        await http.aclose()
    return answer.body


@pytest.mark.parametrize("transport", ["aiohttp", "httpx"])
async def test_a_body_without_content_length_is_cut_at_the_cap(
    hostile: str, transport: TransportKind
) -> None:
    """256 KiB sent chunked, with no Content-Length to refuse up front: refused past 64 KiB."""
    with pytest.raises(AliceResponseTooLarge, match="exceeds the cap"):
        await _get(transport, f"{hostile}/chunked")


@pytest.mark.parametrize("transport", ["aiohttp", "httpx"])
async def test_a_gzip_bomb_is_refused_by_its_inflated_size(
    hostile: str, transport: TransportKind
) -> None:
    """50 KiB of gzip that inflates to 50 MiB is refused once the decoded bytes pass the cap."""
    with pytest.raises(AliceResponseTooLarge, match="exceeds the cap"):
        await _get(transport, f"{hostile}/bomb")


@pytest.mark.parametrize("transport", ["aiohttp", "httpx"])
async def test_a_slow_drip_is_cut_by_the_whole_exchange_deadline(
    hostile: str, transport: TransportKind
) -> None:
    """A byte every 0.2 s never trips the 2 s read timeout; the 1 s deadline of the whole
    exchange ends it as a retryable timeout (without it the drip ends in a body after 20 s)."""
    with pytest.raises(Retryable, match="timeout"):
        await _get(transport, f"{hostile}/drip", deadline_s=1.0)

"""Building the one pooled `httpx.AsyncClient` the process uses to talk to Alice.

Transport choice: httpx's API over aiohttp's connection handling (`httpx_aiohttp`) by default.
httpcore re-scans its pool on every request, so its CPU per request grows with concurrency
(encode/httpcore#1035); aiohttp's does not. Measured on this 2-core machine (2026-11-26,
20 KB body from a local aiohttp server, streamed, median of 3 runs of 2,000 requests, client
CPU only):

    transport                 concurrency 1   concurrency 16   concurrency 64
    httpx default (httpcore)       729 µs         1,507 µs         2,954 µs
    httpx_aiohttp                  401 µs           294 µs           301 µs

and through the whole `AliceClient.fetch_report` (auth chain cached, stamina, semaphore, cap;
28 KB reports from the project's emulator in another process on the same cores, 1,500
reports, median of 3):

    transport                 concurrency 1   concurrency 16   concurrency 64
    httpx default (httpcore)     1,230 µs         1,757 µs         1,431 µs
    httpx_aiohttp                  517 µs           478 µs           526 µs

i.e. 2-10x less CPU for the transport and 2.5-3.5x for the whole call, as PERF-BASELINE.md
says. `transport="httpx"` switches back to httpcore (e.g. if HTTP/2 is ever needed, which
aiohttp does not speak). Both raise httpx's exception types; `httpx_aiohttp` maps aiohttp's
own, and the client also catches `aiohttp.ClientError`/`OSError` for what it leaves unmapped.
Both transports run the whole integration suite.
"""

from __future__ import annotations

from typing import Literal

import httpx
from httpx_aiohttp import AiohttpTransport

from service.settings import Settings

TransportKind = Literal["aiohttp", "httpx"]
USER_AGENT = "alice-report-ingestor"


def http_timeout(*, connect_s: float, read_s: float) -> httpx.Timeout:
    """Connect and read (per socket read) timeouts; waiting for a pooled connection counts as
    connecting, and a write must not take longer than a read."""
    return httpx.Timeout(connect=connect_s, read=read_s, write=read_s, pool=connect_s)


def build_http_client(
    settings: Settings,
    *,
    transport: TransportKind = "aiohttp",
) -> httpx.AsyncClient:
    """The pooled client for Alice: timeouts and pool size from settings, no redirects."""
    return build_http_client_for(
        connect_timeout_s=settings.alice_connect_timeout_s,
        read_timeout_s=settings.alice_read_timeout_s,
        max_connections=settings.alice_max_concurrency,
        transport=transport,
    )


def build_http_client_for(
    *,
    connect_timeout_s: float,
    read_timeout_s: float,
    max_connections: int,
    transport: TransportKind = "aiohttp",
) -> httpx.AsyncClient:
    """The same client from plain values (tests, benchmarks)."""
    # The pool is as large as the client's concurrency cap: every request that passes the
    # semaphore gets a connection without queueing, and idle connections are kept for reuse.
    limits = httpx.Limits(
        max_connections=max_connections,
        max_keepalive_connections=max_connections,
        keepalive_expiry=30.0,
    )
    timeout = http_timeout(connect_s=connect_timeout_s, read_s=read_timeout_s)
    headers = {"User-Agent": USER_AGENT}
    if transport == "httpx":
        return httpx.AsyncClient(
            limits=limits, timeout=timeout, headers=headers, follow_redirects=False
        )
    return httpx.AsyncClient(
        transport=AiohttpTransport(limits=limits),
        limits=limits,
        timeout=timeout,
        headers=headers,
        follow_redirects=False,
    )

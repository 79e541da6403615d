"""One HTTP exchange with Alice, with the secrets and the body kept out of reprs and logs.

`exchange` sends one GET and reads the answer under a size cap. It turns every transport
failure into `Retryable`, raised `from None`: the httpx/aiohttp exception (and the frames of
the request, whose locals hold the headers) stays out of the chain, so that a traceback
rendered with locals (structlog's `dict_tracebacks` shows them by default) cannot print the
API key or a token. What is kept is the exception's class name, which is all an operator
needs to tell a timeout from a reset.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import aiohttp
import httpx

from service.errors import AliceResponseTooLarge

# Error bodies are read only to extract a short reason: 64 KiB is plenty.
MAX_ERROR_BODY_BYTES = 64 * 1024


class SecretHeaders(dict[str, str]):
    """Request headers whose repr names the headers but never shows a value."""

    def __repr__(self) -> str:
        return f"<SecretHeaders {sorted(self)}>"


class Retryable(Exception):
    """A transient failure of one attempt (timeout, connection error, 408/429/5xx)."""

    def __init__(
        self, reason: str, *, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.retry_after = retry_after

    def __repr__(self) -> str:
        return f"Retryable(status={self.status}, reason={self.reason!r})"


@dataclass(frozen=True, slots=True)
class Answer:
    """Alice's answer to one request: the status, the body (capped) and `Retry-After`."""

    status: int
    body: bytes = field(repr=False)
    retry_after: str | None = None


async def exchange(
    http: httpx.AsyncClient,
    url: str,
    *,
    headers: SecretHeaders,
    http_timeout: httpx.Timeout,
    deadline_s: float,
    max_body_bytes: int,
    method: str = "GET",
) -> Answer:
    """Send one request (GET unless told); raise `Retryable` or `AliceResponseTooLarge`.

    `deadline_s` bounds the whole exchange: httpx's read timeout is per socket read, so a
    server dripping one byte every few seconds would otherwise hold a slot for ever.
    """
    try:
        async with (
            asyncio.timeout(deadline_s),
            http.stream(method, url, headers=headers, timeout=http_timeout) as response,
        ):
            status = response.status_code
            if 200 <= status < 300:
                body = await read_capped(response, max_body_bytes)
            else:
                body = await read_error_body(response, min(max_body_bytes, MAX_ERROR_BODY_BYTES))
            return Answer(status=status, body=body, retry_after=response.headers.get("retry-after"))
    except AliceResponseTooLarge:
        raise
    except (httpx.TimeoutException, TimeoutError) as exc:
        raise Retryable(f"timeout ({type(exc).__name__})") from None
    # RequestError covers transport errors and undecodable (e.g. corrupt gzip) bodies;
    # aiohttp.ClientError and OSError catch what httpx_aiohttp leaves unmapped.
    except (httpx.RequestError, aiohttp.ClientError, OSError) as exc:
        raise Retryable(f"connection error ({type(exc).__name__})") from None


async def read_capped(response: httpx.Response, cap: int) -> bytes:
    """The whole (decoded) body, or `AliceResponseTooLarge` as soon as it passes `cap` bytes.

    Counting decoded bytes means a small gzip body that inflates past the cap is refused too.
    """
    declared = response.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > cap:
        raise AliceResponseTooLarge(
            f"Content-Length {int(declared)} exceeds the cap of {cap} bytes",
            status=response.status_code,
        )
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > cap:
            chunks.clear()  # the partial body must not survive in this frame's locals
            raise AliceResponseTooLarge(
                f"body exceeds the cap of {cap} bytes", status=response.status_code
            )
        chunks.append(chunk)
    return b"".join(chunks)


async def read_error_body(response: httpx.Response, cap: int) -> bytes:
    """At most `cap` bytes of an error body (the rest is dropped, not an error)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size >= cap:
            break  # too long for a short JSON error; the cut body reads as "not JSON"
    return b"".join(chunks)

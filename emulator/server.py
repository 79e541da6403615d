"""The aiohttp application: the Alice API endpoints, plus fault injection and counting.

Every API call goes through `_api_middleware`: count it, sleep the configured latency, maybe
replace the response by a scheduled or random fault, run the handler, maybe spoil a 200 body,
count the outcome. Report bodies are pre-rendered bytes from the user registry: the hot path
is a JWT check, a dict lookup and a write. Nothing here logs tokens or bodies.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from aiohttp import web

from emulator.admin import add_admin_routes
from emulator.faults import Fault
from emulator.responses import EMULATOR_KEY, JSON, detail, emulator_of, json_response
from emulator.state import UnknownUserError
from emulator.tokens import BACKEND, LOGIN, TokenRejectedError

if TYPE_CHECKING:
    from emulator.control import AliceEmulator

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def login_token(request: web.Request) -> web.Response:
    """`GET /login_token` with `apikey: <key>`."""
    emu = emulator_of(request)
    given = request.headers.get("apikey", "")
    if not secrets.compare_digest(given.encode(), emu.api_key.encode()):
        return detail(401, "Invalid API key")
    return json_response({"token": emu.tokens.issue(LOGIN)})


async def backend_token(request: web.Request) -> web.Response:
    """`GET /backend_token/{user_id}` with a login token; creates the user if allowed."""
    emu = emulator_of(request)
    try:
        emu.tokens.verify(request.headers.get("Authorization"), LOGIN)
    except TokenRejectedError as exc:
        return detail(401, f"Unauthorized: {exc}")
    user_id = request.match_info["user_id"]
    emu.users.find(user_id)
    return json_response({"token": emu.tokens.issue(BACKEND, user_id)})


def _user_id(request: web.Request) -> str:
    claims = emulator_of(request).tokens.verify(request.headers.get("Authorization"), BACKEND)
    return str(claims["user_id"])


async def user_report(request: web.Request) -> web.Response:
    """`GET /user/report` with a backend token: the pre-rendered report bytes."""
    version = request.headers.get("Alice-Report-Version", "1")
    if version != "1":
        return detail(400, "Unsupported report version")
    try:
        body = emulator_of(request).users.report_bytes(_user_id(request))
    except TokenRejectedError as exc:
        return detail(401, f"Unauthorized: {exc}")
    except UnknownUserError:
        return detail(404, "User not found")
    return web.Response(body=body, content_type=JSON, charset="utf-8")


async def user_state(request: web.Request) -> web.Response:
    """`GET /user/state` with a backend token: a bare JSON string."""
    try:
        record = emulator_of(request).users.get(_user_id(request))
    except TokenRejectedError as exc:
        return detail(401, f"Unauthorized: {exc}")
    except UnknownUserError:
        return detail(404, "User not found")
    return json_response(record.inputs.state)


async def delete_user(request: web.Request) -> web.Response:
    """`DELETE /user` with a backend token: the user becomes unknown."""
    emu = emulator_of(request)
    try:
        user_id = _user_id(request)
        emu.users.get(user_id)
    except TokenRejectedError as exc:
        return detail(401, f"Unauthorized: {exc}")
    except UnknownUserError:
        return detail(404, "User not found")
    emu.users.delete(user_id)
    return json_response({})


async def healthcheck(_request: web.Request) -> web.Response:
    """`GET /healthcheck`: always 200, never faulty."""
    return json_response({"status": "ok"})


def _oversized(body: bytes, size: int) -> bytes:
    """Valid JSON of about `size` bytes: the original object plus a padding member."""
    if body.startswith(b"{") and body.rstrip().endswith(b"}"):
        padding = max(0, size - len(body) - 16)
        return b'{"padding": "' + b"x" * padding + b'", ' + body[1:]
    return b'"' + b"x" * max(0, size - 2) + b'"'


async def _spoil(request: web.Request, response: web.Response, fault: Fault) -> web.StreamResponse:
    body = response.body if isinstance(response.body, bytes) else b""
    if fault.kind == "invalid_json":
        return web.Response(body=body[: max(1, len(body) // 2)], content_type=JSON)
    if fault.kind == "oversized":
        size = emulator_of(request).faults.oversized_bytes
        return web.Response(body=_oversized(body, size), content_type=JSON)
    slow = web.StreamResponse(status=200)
    slow.content_type = JSON
    slow.content_length = len(body)
    await slow.prepare(request)  # headers go out now, the body after the delay
    await asyncio.sleep(fault.delay_ms / 1000)
    try:
        await slow.write(body)
        await slow.write_eof()
    except ConnectionResetError:
        pass  # the client gave up waiting: what a slow-body fault is for
    return slow


def _abort(request: web.Request) -> web.Response:
    if request.transport is not None:
        request.transport.abort()
    # aiohttp cannot send this on an aborted transport: the client sees a reset connection.
    return web.Response(status=500)


@web.middleware
async def _api_middleware(request: web.Request, handler: _Handler) -> web.StreamResponse:
    endpoint = request.match_info.route.name
    if endpoint is None or endpoint.startswith("admin"):
        return await handler(request)
    emu = emulator_of(request)
    emu.counters.received(endpoint)
    if endpoint == "healthcheck":
        response = await handler(request)
        emu.counters.finished(endpoint, response.status)
        return response
    retry_after_s = emu.throttle.admit()
    if retry_after_s is not None:
        emu.counters.finished(endpoint, 429)
        return detail(429, "Too many requests", headers={"Retry-After": str(retry_after_s)})
    if emu.faults.latency_ms > 0:
        await asyncio.sleep(emu.faults.latency_ms / 1000)
    fault = emu.injector.before_handler(endpoint)
    if fault is not None and fault.kind == "reset":
        emu.counters.finished(endpoint, "reset")
        return _abort(request)
    if fault is not None:
        retry = (
            {"Retry-After": str(fault.retry_after_s)} if fault.retry_after_s is not None else None
        )
        emu.counters.finished(endpoint, fault.status)
        return detail(fault.status, "Injected failure", headers=retry)
    response = await handler(request)
    if response.status == 200 and isinstance(response, web.Response):
        spoiler = emu.injector.after_success(endpoint)
        if spoiler is not None:
            response = await _spoil(request, response, spoiler)
    emu.counters.finished(endpoint, response.status)
    return response


def create_app(emulator: AliceEmulator) -> web.Application:
    """The aiohttp application serving `emulator` (API at the root, admin under /_emulator/)."""
    app = web.Application(middlewares=[_api_middleware])
    app[EMULATOR_KEY] = emulator
    app.router.add_get("/login_token", login_token, name="login_token")
    app.router.add_get("/backend_token/{user_id}", backend_token, name="backend_token")
    app.router.add_get("/user/report", user_report, name="user_report")
    app.router.add_get("/user/state", user_state, name="user_state")
    app.router.add_delete("/user", delete_user, name="delete_user")
    app.router.add_get("/healthcheck", healthcheck, name="healthcheck")
    add_admin_routes(app)
    return app

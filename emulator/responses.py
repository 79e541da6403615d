"""Shared HTTP helpers: the app key holding the emulator, JSON and error responses."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from emulator.control import AliceEmulator

EMULATOR_KEY: web.AppKey[AliceEmulator] = web.AppKey("emulator")
JSON = "application/json"


def emulator_of(request: web.Request) -> AliceEmulator:
    """The emulator serving `request`."""
    return request.config_dict[EMULATOR_KEY]


def json_response(
    body: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """A JSON response with compact separators."""
    data = json.dumps(body, separators=(",", ":")).encode()
    return web.Response(body=data, status=status, content_type=JSON, headers=headers)


def detail(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    """An error response in the `{"detail": "..."}` shape."""
    return json_response({"detail": message}, status=status, headers=headers)

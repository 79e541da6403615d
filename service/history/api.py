"""The read-only history API: `GET /v1/users/{id}/history`, on its own port, behind bearer tokens.

A bare ASGI application answered with FastStream's `AsgiResponse` (the web stack the health
endpoints use: no framework for one route). Every request is authenticated first, so a caller
without a valid token learns nothing, not even which paths exist: 401. Then: 400 for an id
that is not a UUID or a `reveal` that is not true/false, 404 for a user the service does not
hold, 405 for anything but GET/HEAD, 503 when the database is unreachable (500 for any other
failure, logged by type only). The body is the document of
`history --json`, masked the same way; `?reveal=true` shows personal values and writes an audit
row naming the token's caller (`api:<name>`) before answering. Responses are `no-store`.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Final
from urllib.parse import parse_qs

import structlog
from faststream.asgi import AsgiResponse

from service.crypto import DataKeys
from service.errors import IngestorError, InvalidUserId
from service.history.query import user_history
from service.history.tokens import ApiToken, caller
from service.privacy.predicates import canonical
from service.store.database import Database

log = structlog.get_logger(__name__)

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

ROUTE: Final = re.compile(r"^/v1/users/([^/]+)/history/?$")
REVEAL_VALUES: Final = {"true": True, "1": True, "false": False, "0": False}


def _json(status: int, body: dict[str, Any], **headers: str) -> AsgiResponse:
    return AsgiResponse(
        json.dumps(body, ensure_ascii=False).encode(),
        status,
        headers={"content-type": "application/json", "cache-control": "no-store", **headers},
    )


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers") or ():
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


class HistoryApi:
    """The ASGI application of the history API."""

    def __init__(
        self, *, database: Database, data_keys: DataKeys, tokens: tuple[ApiToken, ...]
    ) -> None:
        self._database = database
        self._data_keys = data_keys
        self._tokens = tokens

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer one HTTP request (other scope types are ignored: lifespan is off)."""
        if scope["type"] != "http":
            return
        response = await self._answer(scope)
        await response(scope, receive, send)

    async def _answer(self, scope: Scope) -> AsgiResponse:
        name = caller(self._tokens, _header(scope, b"authorization"))
        if name is None:
            return _json(401, {"error": "unauthorized"}, **{"www-authenticate": "Bearer"})
        route = ROUTE.match(scope.get("path", ""))
        if route is None:
            return _json(404, {"error": "not found"})
        if scope.get("method") not in {"GET", "HEAD"}:
            return _json(405, {"error": "method not allowed"}, allow="GET, HEAD")
        return await self._history(scope, route.group(1), caller_name=name)

    async def _history(self, scope: Scope, raw_id: str, *, caller_name: str) -> AsgiResponse:
        try:
            user_id = canonical(raw_id)
        except InvalidUserId:
            return _json(400, {"error": "the user id is not a UUID"})
        query = parse_qs(bytes(scope.get("query_string") or b"").decode("latin-1"))
        reveal = REVEAL_VALUES.get((query.get("reveal") or ["false"])[-1].lower())
        if reveal is None:
            return _json(400, {"error": "reveal must be true or false"})
        request_id = f"api:{uuid.uuid4()}"
        try:
            document = await user_history(
                self._database,
                user_id,
                data_keys=self._data_keys,
                reveal=reveal,
                actor=f"api:{caller_name}",
                request_id=request_id,
            )
        except IngestorError as error:
            # Transient (the database is unreachable): 503, try again; permanent: 500.
            log.warning("history request failed", error_code=error.code, request_id=request_id)
            return _json(503 if error.transient else 500, {"error": error.code})
        except Exception as exc:  # a bug: one line without the message (it may quote data)
            log.error(
                "history request failed", error_type=type(exc).__name__, request_id=request_id
            )
            return _json(500, {"error": "internal"})
        if document is None:
            return _json(404, {"error": "no such user"})
        return _json(200, document, **{"x-request-id": request_id})

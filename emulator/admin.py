"""Admin endpoints under `/_emulator/`: drive the emulator from another process.

Each endpoint calls the same `AliceEmulator` method a test would call in-process. Bodies are
JSON; a bad body gives 400 `{"detail": ...}`, an unknown user 404. User changes answer
`{"user_id": ..., "version": <report version>}`. The endpoint list is in `emulator/__init__.py`.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from emulator.faults import FAULT_KINDS, Faults
from emulator.reports import UNSET
from emulator.responses import detail, emulator_of, json_response
from emulator.state import UnknownUserError

_Body = dict[str, Any]


async def _body(request: web.Request) -> _Body:
    if not request.can_read_body:
        return {}
    parsed = json.loads(await request.read())
    if not isinstance(parsed, dict):
        raise TypeError("the body must be a JSON object")
    return parsed


def _changed(user_id: str, version: int) -> web.Response:
    return json_response({"user_id": user_id, "version": version})


async def get_counts(request: web.Request) -> web.Response:
    """`GET /_emulator/counts`."""
    return json_response(emulator_of(request).counts().to_json())


async def reset_counts(request: web.Request) -> web.Response:
    """`POST /_emulator/counts/reset`."""
    emulator_of(request).reset_counts()
    return json_response({})


async def get_faults(request: web.Request) -> web.Response:
    """`GET /_emulator/faults`: the standing fault settings."""
    return json_response(emulator_of(request).faults.to_json())


async def put_faults(request: web.Request) -> web.Response:
    """`PUT /_emulator/faults` with some `Faults` fields: changes only those."""
    emu = emulator_of(request)
    emu.set_faults(Faults.from_json(await _body(request), base=emu.faults))
    return json_response(emu.faults.to_json())


async def clear_faults(request: web.Request) -> web.Response:
    """`DELETE /_emulator/faults`: a healthy API again (standing and scheduled faults)."""
    emulator_of(request).clear_faults()
    return json_response({})


async def post_next(request: web.Request) -> web.Response:
    """`POST /_emulator/faults/next`: schedule a fault for the next `count` calls."""
    body = await _body(request)
    emu = emulator_of(request)
    kind = body.get("kind", "status")
    count, endpoint = int(body["count"]), body.get("endpoint", "user_report")
    if kind == "status":
        retry = body.get("retry_after_s")
        emu.fail_next(count, int(body.get("status", 503)), endpoint=endpoint, retry_after_s=retry)
    elif kind in FAULT_KINDS:
        emu.fault_next(count, kind, endpoint=endpoint, delay_ms=float(body.get("delay_ms", 0)))
    else:
        raise ValueError(f"unknown fault kind {kind!r}")
    return json_response({})


async def get_rate(request: web.Request) -> web.Response:
    """`GET /_emulator/rate`: the rate limit and API requests per second (emulator/throttle.py)."""
    return json_response(emulator_of(request).throttle.to_json())


async def put_rate_limit(request: web.Request) -> web.Response:
    """`PUT /_emulator/rate-limit` `{"per_s": 50}` (null or 0: no limit)."""
    per_s = (await _body(request))["per_s"]
    emu = emulator_of(request)
    emu.set_rate_limit(None if per_s is None else int(per_s))
    return json_response({"limit_per_s": emu.throttle.limit_per_s})


async def revoke_tokens(request: web.Request) -> web.Response:
    """`POST /_emulator/tokens/revoke`: every token issued so far gets 401."""
    emulator_of(request).revoke_tokens()
    return json_response({})


async def advance_clock(request: web.Request) -> web.Response:
    """`POST /_emulator/clock/advance` `{"seconds": 3600}`: expire tokens without waiting."""
    emulator_of(request).advance_clock(float((await _body(request))["seconds"]))
    return json_response({})


async def put_config(request: web.Request) -> web.Response:
    """`PUT /_emulator/config` `{"auto_create_users": bool, "token_ttl_s": float}`."""
    body, emu = await _body(request), emulator_of(request)
    if "auto_create_users" in body:
        emu.auto_create_users = bool(body["auto_create_users"])
    if "token_ttl_s" in body:
        emu.token_ttl_s = float(body["token_ttl_s"])
    if "variety" in body:
        emu.variety = float(body["variety"])
    return json_response(
        {
            "auto_create_users": emu.auto_create_users,
            "token_ttl_s": emu.token_ttl_s,
            "variety": emu.variety,
        }
    )


async def post_users(request: web.Request) -> web.Response:
    """`POST /_emulator/users` `{"user_ids": [...], "state": ..., "pregenerate": true,
    "features": [...]}` (features absent: drawn by the `variety` share)."""
    body, emu = await _body(request), emulator_of(request)
    user_ids = [str(user_id) for user_id in body["user_ids"]]
    features = body.get("features")
    for user_id in user_ids:
        emu.create_user(
            user_id,
            state=body.get("state", "TO_REVIEW"),
            features=None if features is None else [str(name) for name in features],
        )
    if body.get("pregenerate", True):
        emu.pregenerate(user_ids)
    return json_response({"created": len(user_ids)})


async def get_user(request: web.Request) -> web.Response:
    """`GET /_emulator/users/{user_id}`: state, report version, document types."""
    return json_response(emulator_of(request).describe_user(request.match_info["user_id"]))


async def delete_user(request: web.Request) -> web.Response:
    """`DELETE /_emulator/users/{user_id}`: the user becomes unknown (404)."""
    emulator_of(request).delete_user(request.match_info["user_id"])
    return json_response({})


async def put_state(request: web.Request) -> web.Response:
    """`PUT /_emulator/users/{user_id}/state` `{"state": "ACCEPTED"}`."""
    user_id = request.match_info["user_id"]
    state = str((await _body(request))["state"])
    return _changed(user_id, emulator_of(request).set_user_state(user_id, state))


async def post_document(request: web.Request) -> web.Response:
    """`POST /_emulator/users/{user_id}/documents`
    `{"type": "passport", "issuing_country"?, "expired"?: true}`."""
    user_id, body = request.match_info["user_id"], await _body(request)
    version = emulator_of(request).add_document(
        user_id,
        str(body["type"]),
        issuing_country=body.get("issuing_country"),
        expired=body.get("expired") is True,
    )
    return _changed(user_id, version)


async def put_scores(request: web.Request) -> web.Response:
    """`PUT /_emulator/users/{user_id}/scores` `{"liveness"?: n|null, "face_matching"?: n|null}`."""
    user_id, body = request.match_info["user_id"], await _body(request)
    version = emulator_of(request).set_scores(
        user_id,
        liveness=body.get("liveness", UNSET),
        face_matching=body.get("face_matching", UNSET),
    )
    return _changed(user_id, version)


async def post_event(request: web.Request) -> web.Response:
    """`POST /_emulator/users/{user_id}/events` `{"type": "...", "attributes"?: {...}}`."""
    user_id, body = request.match_info["user_id"], await _body(request)
    version = emulator_of(request).add_event(user_id, str(body["type"]), body.get("attributes"))
    return _changed(user_id, version)


async def post_features(request: web.Request) -> web.Response:
    """`POST /_emulator/users/{user_id}/features` `{"features": ["nfc", "under_age"]}`."""
    user_id, body = request.match_info["user_id"], await _body(request)
    names = body["features"]
    if not isinstance(names, list):
        raise TypeError("features must be a list of names")
    version = emulator_of(request).add_features(user_id, *(str(name) for name in names))
    return _changed(user_id, version)


@web.middleware
async def _admin_errors(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        response: web.StreamResponse = await handler(request)
    except UnknownUserError:
        return detail(404, "User not found")
    except (KeyError, TypeError, ValueError) as exc:
        return detail(400, f"Bad request: {exc!r}")
    return response


def add_admin_routes(app: web.Application) -> None:
    """Mount the admin API on `app` under `/_emulator/`."""
    admin = web.Application(middlewares=[_admin_errors])
    routes = [
        ("GET", "/counts", get_counts),
        ("POST", "/counts/reset", reset_counts),
        ("GET", "/faults", get_faults),
        ("PUT", "/faults", put_faults),
        ("DELETE", "/faults", clear_faults),
        ("POST", "/faults/next", post_next),
        ("GET", "/rate", get_rate),
        ("PUT", "/rate-limit", put_rate_limit),
        ("POST", "/tokens/revoke", revoke_tokens),
        ("POST", "/clock/advance", advance_clock),
        ("PUT", "/config", put_config),
        ("POST", "/users", post_users),
        ("GET", "/users/{user_id}", get_user),
        ("DELETE", "/users/{user_id}", delete_user),
        ("PUT", "/users/{user_id}/state", put_state),
        ("POST", "/users/{user_id}/documents", post_document),
        ("PUT", "/users/{user_id}/scores", put_scores),
        ("POST", "/users/{user_id}/events", post_event),
        ("POST", "/users/{user_id}/features", post_features),
    ]
    for method, path, handler in routes:
        admin.router.add_route(method, path, handler, name=f"admin_{handler.__name__}")
    app.add_subapp("/_emulator/", admin)

"""An emulator of the Alice Onboarding API, a real HTTP server for tests, demos and benchmarks.

It serves the API at the root of its base URL (use that as ALICE_API_URL, with
ALLOW_INSECURE_ALICE_URL=true: it speaks plain http), binds loopback
addresses only, never logs tokens or report bodies, and is not part of the service image.

API endpoints (as in the contract `../shared/alice/API.md`, from the project root):
- `GET /login_token`, header `apikey: <key>` -> `200 {"token": JWT}`; bad key -> 401.
- `GET /backend_token/{user_id}`, `Authorization: Bearer <login token>` -> `200 {"token": JWT}`
  (claims `user_id`, `iat`, `exp`); creates the user when `auto_create_users` is on.
- `GET /user/report`, `Authorization: Bearer <backend token>` (`Alice-Report-Version: 1`)
  -> `200 {"report": {...}}` (20-40 KB, deterministic); 401 bad/expired/revoked token;
  404 `{"detail": "User not found"}` for an unknown or deleted user; a version header other
  than 1 -> 400 (a missing one means 1).
- `GET /user/state` -> `200 "TO_REVIEW"` (a bare JSON string; 404 for an unknown or deleted
  user); `DELETE /user` -> 200. A state change (`set_user_state`) adds no report event: it is a
  decision taken in Alice's dashboard, which only polling (the service's reconciler) notices.
- `GET /healthcheck` -> 200 (never faulty, counted as `healthcheck`).
Endpoint names used by counters and faults: `login_token`, `backend_token`, `user_report`,
`user_state`, `delete_user`, `healthcheck`.

Users are created on first reference in state TO_REVIEW with a selfie and two documents.
Report features (`emulator.variety`) show the rest of what Alice sends, per user: `nfc`,
`proof_of_address`, `voided_document`, `incomplete_document`, `voided_selfie`,
`expired_document`, `under_age` (failed `over_18`), `duplicates`, `null_media`,
`event_versions`, `forensics_scores`, `several_devices`, `failed_<field check key>`. Default and
featured reports follow Alice's SDK models (alice-onboarding 5.1.2). Drift, which the SDK says
never happens, is named as such: `drift_unknown_values`, `drift_inprogress_state`,
`drift_null_face_matching`, `drift_other_user`; so are a null `face_matching` score from
`set_scores`, a state outside the five known and an unknown document type.
`variety=0.3` (or `--variety 0.3`) gives 30 % of new users 1-3 SDK features chosen by seed.
A user's report depends only on (seed, user id, the changes made to it): every change bumps its
report version, changes only what it says, and the bytes are rendered once per version.

In-process use (pytest-asyncio)::

    from emulator import AliceEmulator

    emu = AliceEmulator(api_key="test-key", token_ttl_s=3600, seed=0)
    base_url = await emu.start(host="127.0.0.1", port=0)  # "http://127.0.0.1:<port>"
    emu.set_user_state(user_id, "ACCEPTED")        # -> new report version (int)
    emu.add_document(user_id, "passport")          # issuing_country=..., expired=True optional
    emu.set_scores(user_id, liveness=12.5, face_matching=None)  # None = null score
    emu.add_event(user_id, "review_requested", {"by": "ops"})
    emu.add_features(user_id, "nfc", "under_age")  # or create_user(uid, features=[...])
    emu.delete_user(user_id)                       # report -> 404; create_user() undoes
    emu.fail_next(2, 503)                          # next 2 /user/report calls -> 503
    emu.fail_next(1, 429, retry_after_s=3)         # with a Retry-After: 3 header
    emu.fault_next(1, "invalid_json")              # or "reset", "oversized", "slow"
    emu.set_faults(latency_ms=50, error_rate=0.1)  # standing faults, seeded RNG
    emu.revoke_tokens()                            # every issued token -> 401
    emu.advance_clock(3601)                        # tokens expire without sleeping
    assert emu.counts()["user_report"] == 4        # .status("user_report", 503) == 2
    emu.reset_counts(); emu.clear_faults()
    await emu.stop()

`fail_next` / `fault_next` take `endpoint="user_report"` by default (`endpoint=None`: any API
endpoint, e.g. the token calls). `async with AliceEmulator(...) as emu:` starts on a free port.

Admin endpoints for other processes (JSON bodies; user changes answer
`{"user_id": ..., "version": n}`; unknown user 404, bad body 400):
- `GET /_emulator/counts` -> `{"by_endpoint": {...}, "by_status": {"user_report": {"200": 3}}}`
- `POST /_emulator/counts/reset`
- `GET /_emulator/faults`; `PUT /_emulator/faults` with any `Faults` fields, e.g.
  `{"latency_ms": 50, "error_rate": 0.05, "error_status": 503, "rate_limit_rate": 0.01,
  "retry_after_s": 1, "reset_rate": 0, "invalid_json_rate": 0, "oversized_rate": 0,
  "oversized_bytes": 10485760, "slow_rate": 0, "slow_body_ms": 0, "endpoints": null}`;
  `DELETE /_emulator/faults` (standing and scheduled)
- `POST /_emulator/faults/next` `{"count": 2, "kind": "status", "status": 503,
  "endpoint": "user_report", "retry_after_s": null, "delay_ms": 0}` (kind: status, reset,
  invalid_json, oversized, slow; endpoint null = any)
- `PUT /_emulator/rate-limit` `{"per_s": 50}` (null: off): 429 with `Retry-After` above 50 API
  requests in a one-second window; `GET /_emulator/rate` -> `{"limit_per_s": 50, "windows":
  [{"second": t, "received": n, "admitted": a, "throttled": m}]}` (API requests per second,
  emptied by `counts/reset`); in-process `emu.set_rate_limit(50)`, `emu.throttle.timeline()`
- `POST /_emulator/tokens/revoke`; `POST /_emulator/clock/advance` `{"seconds": 3601}`
- `PUT /_emulator/config` `{"auto_create_users": false, "token_ttl_s": 2, "variety": 0.3}`
- `POST /_emulator/users` `{"user_ids": [...], "state": "TO_REVIEW", "pregenerate": true,
  "features": ["expired_document"]}`
- `GET /_emulator/users/{id}`; `DELETE /_emulator/users/{id}`
- `PUT /_emulator/users/{id}/state` `{"state": "ACCEPTED"}`
- `POST /_emulator/users/{id}/documents` `{"type": "passport", "issuing_country": "ESP"}`
  (`"expired": true`: its expiry date has passed and its unexpired checks fail)
- `PUT /_emulator/users/{id}/scores` `{"liveness": 12.5, "face_matching": null}` (absent: kept)
- `POST /_emulator/users/{id}/events` `{"type": "manual_review", "attributes": {}}`
- `POST /_emulator/users/{id}/features` `{"features": ["nfc", "duplicates"]}` (unknown: 400)

Standalone: `python -m emulator --port 8081 --api-key KEY --latency-ms 50 --variety 0.3` prints
the base URL (`--rate-limit-per-s 50` turns the rate limit on) on its first stdout line and runs
until SIGTERM/SIGINT or `--max-lifetime-s`.
"""

from emulator.control import DEFAULT_API_KEY, AliceEmulator
from emulator.counters import RequestCounts
from emulator.faults import API_ENDPOINTS, FaultKind, Faults
from emulator.reports import UNSET, DocumentSpec, ReportInputs, build_report, render_report
from emulator.state import USER_STATES
from emulator.variety import DRIFT_FEATURES, FEATURES, SDK_FEATURES

__all__ = [
    "API_ENDPOINTS",
    "DEFAULT_API_KEY",
    "DRIFT_FEATURES",
    "FEATURES",
    "SDK_FEATURES",
    "UNSET",
    "USER_STATES",
    "AliceEmulator",
    "DocumentSpec",
    "FaultKind",
    "Faults",
    "ReportInputs",
    "RequestCounts",
    "build_report",
    "render_report",
]

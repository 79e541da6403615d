"""The malformed-input corpus: records a real topic receives from buggy or hostile producers.

Each entry says what the ledger expects: `dead_lettered` for input that can never be processed,
`processed` for valid events that merely look odd (binary or null header values, unknown keys),
`either` where both are acceptable as long as the record is not lost (a structured-mode id that
PostgreSQL cannot index as-is, a valid but unusual user id, a value near the broker's limit).
"""

from __future__ import annotations

import json
import random

from reliability.publish import Record, event

BROKER_LIMIT_VALUE_BYTES = 1_000_000  # the broker's message.max.bytes is 1,048,588


def _bad(value: bytes | None, kind: str, *, key: bytes | None = None, **kw: object) -> Record:
    return Record(value, key=key, kind=kind, expect="dead_lettered", **kw)  # type: ignore[arg-type]


def _nested(depth: int, user_id: str) -> bytes:
    return b'{"user_id":"' + user_id.encode() + b'","x":' + b"[" * depth + b"]" * depth + b"}"


def _structured(user_id: str, ce_id: str) -> bytes:
    return json.dumps(
        {
            "specversion": "1.0",
            "id": ce_id,
            "source": "urn:reliability",
            "type": "onboarding.completed",
            "data": {"user_id": user_id},
        }
    ).encode()


def _variants(user_id: str, tag: str, rng: random.Random) -> list[Record]:
    """One of each malformed kind (and valid oddities) for one valid user id."""
    uid = user_id.encode()
    crafted = ["../../admin", "' OR 1=1 --", "%00", "x" * 300, "\u202e" + user_id, user_id + "\n"]
    out = [
        _bad(b"not json {" + tag.encode(), "not_json"),
        _bad(bytes(rng.getrandbits(8) for _ in range(64)), "random_bytes"),
        _bad(b"", "empty_value"),
        _bad(None, "null_value", key=uid),
        _bad(b"[1, 2, 3]", "json_array"),
        _bad(b"42", "json_number"),
        _bad(b"null", "json_null"),
        _bad(json.dumps({"user_id": 12345, "event_id": tag}).encode(), "user_id_number"),
        _bad(json.dumps({"user_id": None, "event_id": tag}).encode(), "user_id_null"),
        _bad(json.dumps({"user_id": [user_id]}).encode(), "user_id_array"),
        _bad(json.dumps({"user_id": user_id, "occurred_at": "yesterday"}).encode(), "bad_time"),
        _bad(_nested(5000, user_id), "deep_nesting"),
        _bad(b"[" * 20000 + b"]" * 20000, "deep_nesting_top"),
        _bad(json.dumps({"user_id": "a" * 200_000}).encode(), "huge_user_id"),
        _bad(b'{"user_id": "\xff\xfe\xfd"}', "invalid_utf8_value"),
        _bad(b'{"user_id": "' + uid[:10] + b'\xc3\x28"}', "invalid_utf8_in_id"),
        _bad(b"x", "nul_in_ce_id", key=uid, headers=(("ce_id", b"id\x00" + tag.encode()),)),
        _bad(b"x", "long_ce_id", key=uid, headers=(("ce_id", b"i" * 10_240),)),
        # A valid event under a header key that is not UTF-8 (written as raw bytes: no
        # aiokafka producer can): aiokafka's own decoding would stop the partition for good.
        _bad(
            event(user_id, f"{tag}-key").value,
            "header_key_not_utf8",
            key=uid,
            headers=((b"trace-\xff\xfe-id", b"1"),),
        ),
        _bad(json.dumps({"user_id": rng.choice(crafted), "event_id": tag}).encode(), "crafted"),
        Record(
            json.dumps({"user_id": user_id, "event_id": f"{tag}-n"}).encode(),
            key=uid,
            headers=(("ce_id", b"\x00" + tag.encode()),),
            kind="nul_ce_id_valid_body",
            expect="either",
            user_id=user_id,
        ),
        Record(
            _structured(user_id, f"{tag}\u0000nul"),
            key=uid,
            kind="structured_id_nul",
            expect="either",
            user_id=user_id,
        ),
        Record(
            _structured(user_id, f"{tag}-" + "L" * 10_240),
            key=uid,
            kind="structured_id_10kb",
            expect="either",
            user_id=user_id,
        ),
    ]
    valid_oddities = [
        ("binary_header", (("traceparent", b"\xff\xfe\x00binary"),)),
        ("null_header", (("x-null", None),)),
        ("binary_ce_id_ff", (("ce_id", b"\xff" + tag.encode()),)),
        ("binary_ce_id_fe", (("ce_id", b"\xfe" + tag.encode()),)),
    ]
    for kind, headers in valid_oddities:
        base = event(user_id, f"{tag}-{kind}")
        out.append(Record(base.value, base.key, headers, "processed", kind, user_id))
    return out


def malformed(users: list[str], *, minimum: int, prefix: str, seed: int = 0) -> list[Record]:
    """At least `minimum` malformed or odd records, each followed by a valid event."""
    rng = random.Random(f"{seed}:{prefix}")
    out: list[Record] = []
    round_ = 0
    while sum(r.kind != "valid" for r in out) < minimum:
        user = users[round_ % len(users)]
        for record in _variants(user, f"{prefix}-{round_}", rng):
            out.append(record)
            out.append(event(rng.choice(users), f"{prefix}-v{len(out)}"))
        round_ += 1
    return out


def near_limit(user_id: str, event_id: str) -> Record:
    """A valid event padded to about 1 MB: near the broker's record size limit."""
    body = {"user_id": user_id, "event_id": event_id, "padding": ""}
    size = len(json.dumps(body))
    body["padding"] = "p" * (BROKER_LIMIT_VALUE_BYTES - size)
    return Record(json.dumps(body).encode(), user_id.encode(), (), "either", "near_limit", user_id)

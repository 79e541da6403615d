"""Erasure requests as the input topic carries them, and the small pure parts of the privacy
package: the actor recorded, the user id canonicalised, the CLI's arguments."""

from __future__ import annotations

import json

import pytest

from service.cli import build_parser
from service.errors import InvalidUserId
from service.messages import parse_input
from service.privacy.actor import operator
from service.privacy.predicates import canonical

USER = "6F9A2C1E-0B4D-4E8A-9C3F-1D2B3A4C5E6F"
CANONICAL = USER.lower()


def _parse(value: dict[str, object], headers: list[tuple[str, bytes | None]] | None = None):  # type: ignore[no-untyped-def]
    return parse_input(
        json.dumps(value).encode(), headers or [], topic="in", partition=0, offset=7, timestamp=1
    )


@pytest.mark.parametrize(
    ("value", "headers"),
    [
        ({"type": "user.erasure_requested", "user_id": USER}, []),
        (
            {
                "specversion": "1.0",
                "id": "r-1",
                "source": "urn:crm",
                "type": "onboarding.user.erasure_requested",
                "data": {"user_id": USER},
            },
            [],
        ),
        (
            {"user_id": USER},
            [("ce_id", b"r-1"), ("ce_type", b"onboarding.user.erasure_requested")],
        ),
    ],
)
def test_erasure_requests_decode_as_erasure(
    value: dict[str, object], headers: list[tuple[str, bytes | None]]
) -> None:
    """Plain JSON, structured and binary CloudEvents erasure requests decode with the erasure
    kind and the canonical user id."""
    event = _parse(value, headers)
    assert event.kind == "erasure_requested"
    assert event.user_id == CANONICAL


@pytest.mark.parametrize(
    "value",
    [
        {"user_id": USER},
        {"type": "user.erasure_requested ", "user_id": USER},
        {"specversion": "1.0", "type": "user.erasure_requested", "data": {"user_id": USER}},
    ],
)
def test_other_messages_stay_onboarding_completed(value: dict[str, object]) -> None:
    """Only the exact erasure types make an erasure: anything else is onboarding-completed."""
    assert _parse(value).kind == "onboarding_completed"


def test_actor_is_the_given_name_else_the_os_user() -> None:
    """`--actor` wins; without it the OS user is recorded, marked as such."""
    assert operator(" dpo@example ") == "dpo@example"
    assert operator(None).startswith(("os:", "unknown"))
    assert operator("  ") == operator(None)


def test_user_ids_are_canonicalised_or_refused() -> None:
    """Upper-case UUIDs become the stored spelling; anything else is an invalid user id."""
    assert canonical(USER) == CANONICAL
    with pytest.raises(InvalidUserId):
        canonical("not-a-uuid")


def test_privacy_commands_parse() -> None:
    """erase, export, retention and audit take the documented arguments."""
    parser = build_parser()
    erase = parser.parse_args(["erase", USER, "--reason", "Art. 17", "--actor", "dpo"])
    assert (erase.user_id, erase.reason, erase.actor) == (USER, "Art. 17", "dpo")
    export = parser.parse_args(["export", USER, "--out", "x.json"])
    assert (export.out, export.actor) == ("x.json", None)
    assert parser.parse_args(["retention", "--dry-run"]).apply is False
    assert parser.parse_args(["retention", "--apply"]).apply is True
    with pytest.raises(SystemExit):
        parser.parse_args(["retention"])
    audit = parser.parse_args(["audit", "--since", "2026-12-01T00:00:00+00:00"])
    assert audit.since.year == 2026

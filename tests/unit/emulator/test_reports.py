"""Generated reports: deterministic, realistic, consistent, and changed only where asked."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest

from emulator import AliceEmulator
from service.report import parse_report
from tests.unit.emulator.conftest import get_report

USERS = [str(uuid.UUID(int=index, version=4)) for index in range(1, 51)]


def _scores(report: dict[str, Any]) -> list[Any]:
    summary = report["summary"]
    values = [summary["face_liveness"], *(m["score"] for m in summary["face_matching"])]
    values += [s["liveness"] for s in report["selfies"]]
    checks = [c for s in report["selfies"] for c in s["checks"]]
    checks += [c for d in report["documents"] for c in d["checks"]] + summary["checks"]
    return values + [c["value"] for c in checks]


def test_same_user_same_bytes() -> None:
    """Two emulators with the same seed render byte-identical reports for the same user."""
    first, second = AliceEmulator(seed=7), AliceEmulator(seed=7)
    assert all(first.report_bytes(u) == second.report_bytes(u) for u in USERS[:10])
    assert AliceEmulator(seed=8).report_bytes(USERS[0]) != first.report_bytes(USERS[0])


def test_reports_are_sane_and_sized_like_real_ones() -> None:
    """Reports are 20-40 KB of JSON with UUID ids, the user's id and state, scores 0-100 or null."""
    emu = AliceEmulator()
    for user_id in USERS:
        body = emu.report_bytes(user_id)
        assert 20_000 <= len(body) <= 40_000
        report = json.loads(body)["report"]
        assert str(uuid.UUID(report["id"])) == report["id"]
        assert report["user_id"] == user_id
        assert report["summary"]["state"]["value"] == "TO_REVIEW"
        assert all(v is None or 0 <= v <= 100 for v in _scores(report))
        liveness = report["summary"]["face_liveness"]
        assert report["summary"]["result"]["selfie_security"] == ("ko" if liveness < 50 else "ok")
        names = {doc["id"] for doc in report["documents"]}
        assert {m["meta"]["document_id"] for m in report["summary"]["face_matching"]} == names


def test_unicode_names_appear() -> None:
    """Names carry non-ASCII letters, sent as raw UTF-8."""
    emu = AliceEmulator()
    bodies = b"".join(emu.report_bytes(u) for u in USERS)
    assert any(ch.encode() in bodies for ch in "éëłŁüöñçá")


def test_state_change_changes_only_the_state() -> None:
    """A state change bumps the version and alters `summary.state.value` and nothing else."""
    emu = AliceEmulator()
    before = emu.report(USERS[0])
    assert emu.set_user_state(USERS[0], "ACCEPTED") == 2
    after = emu.report(USERS[0])
    assert after["summary"].pop("state") == {"value": "ACCEPTED"}
    before["summary"].pop("state")
    assert after == before


def test_added_document_appears_and_keeps_the_rest() -> None:
    """An added document shows in documents, face matching and events; old documents stay."""
    emu = AliceEmulator()
    before = emu.report(USERS[1])
    emu.add_document(USERS[1], "healthinsurancecard", issuing_country="PRT")
    after = emu.report(USERS[1])
    assert after["documents"][:-1] == before["documents"]
    added = after["documents"][-1]
    assert added["meta"] == {
        "type": "healthinsurancecard",
        "issuing_country": "PRT",
        "completed": True,
        "voided": False,
    }
    assert after["summary"]["face_matching"][-1]["meta"]["document_id"] == added["id"]
    created = [e for e in after["events"] if e["type"] == "document_created"]
    assert created[-1]["attributes"]["document_id"] == added["id"]


def test_expired_document_has_a_past_expiry_and_failing_checks() -> None:
    """An added expired document expires before the report and fails its unexpired checks,
    and leaves the documents already there unchanged."""
    emu = AliceEmulator()
    before = emu.report(USERS[2])
    emu.add_document(USERS[2], "passport", expired=True)
    after = emu.report(USERS[2])
    assert after["documents"][:-1] == before["documents"]
    added = after["documents"][-1]
    expiry = next(f["value"] for f in added["summary_fields"] if f["name"] == "expiration_date")
    assert expiry < after["created_at"][:10]
    checks = {c["key"]: c["value"] for c in added["checks"]}
    assert checks["unexpired_document"] == 0.0
    field_checks = [
        c["value"]
        for side in added["sides"].values()
        if side
        for f in side["fields"]
        for c in f["checks"]
        if c["key"] == "unexpired_date"
    ]
    assert field_checks == [0.0]


def test_scores_drive_results() -> None:
    """A liveness below 50 makes selfie_security "ko"; null scores make it "n/a"."""
    emu = AliceEmulator()
    emu.set_scores(USERS[2], liveness=12.5, face_matching=30.0)
    report = emu.report(USERS[2])
    assert report["summary"]["face_liveness"] == report["selfies"][0]["liveness"] == 12.5
    assert report["summary"]["result"]["selfie_security"] == "ko"
    assert report["summary"]["result"]["document_security"] == "ko"
    emu.set_scores(USERS[2], liveness=None)
    report = emu.report(USERS[2])
    assert report["summary"]["result"]["selfie_security"] == "n/a"
    assert {m["score"] for m in report["summary"]["face_matching"]} == {30.0}
    with pytest.raises(ValueError, match="0-100"):
        emu.set_scores(USERS[2], liveness=101)


def test_added_event_is_appended() -> None:
    """An added event appears once, with its type and attributes, deterministically."""
    emu, twin = AliceEmulator(), AliceEmulator()
    for emulator in (emu, twin):
        emulator.add_event(USERS[3], "manual_review", {"reviewer": "ops"})
    events = [e for e in emu.report(USERS[3])["events"] if e["type"] == "manual_review"]
    assert [e["attributes"] for e in events] == [{"reviewer": "ops"}]
    assert emu.report_bytes(USERS[3]) == twin.report_bytes(USERS[3])


async def test_changes_show_in_the_next_fetch(
    emu: AliceEmulator, client: httpx.AsyncClient, user_id: str
) -> None:
    """Over HTTP, the next report reflects a state change and an added passport."""
    first = (await get_report(client, user_id)).json()["report"]
    emu.set_user_state(user_id, "REJECTED")
    emu.add_document(user_id, "passport")
    second = (await get_report(client, user_id)).json()["report"]
    assert second["summary"]["state"]["value"] == "REJECTED"
    assert len(second["documents"]) == len(first["documents"]) + 1
    assert emu.report_version(user_id) == 3


async def test_unknown_user_is_404(
    emu: AliceEmulator, client: httpx.AsyncClient, user_id: str
) -> None:
    """A deleted user, or any new user while auto-creation is off, gets 404 with a detail."""
    emu.delete_user(user_id)
    deleted = await get_report(client, user_id)
    assert deleted.status_code == 404
    assert deleted.json() == {"detail": "User not found"}
    emu.auto_create_users = False
    assert (await get_report(client, str(uuid.uuid4()))).status_code == 404
    emu.create_user(user_id)
    assert (await get_report(client, user_id)).status_code == 200


def test_reports_parse_with_the_service_model() -> None:
    """Fifty generated reports (various documents and states) pass `service.report.parse_report`."""
    emu = AliceEmulator(seed=3)
    for index, user_id in enumerate(USERS):
        if index % 5 == 0:
            emu.add_document(user_id, ["idcard", "driverlicense", "visa"][index % 3])
        if index % 7 == 0:
            emu.set_scores(user_id, liveness=None, face_matching=None)
        emu.set_user_state(user_id, ["IN_PROGRESS", "TO_REVIEW", "ACCEPTED", "REJECTED"][index % 4])
        parsed = parse_report(emu.report_bytes(user_id))
        assert str(parsed.report.user_id) == user_id

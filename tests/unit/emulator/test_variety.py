"""Report features: SDK-faithful by default and with every SDK feature; drift named as drift."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from emulator import DRIFT_FEATURES, SDK_FEATURES, AliceEmulator
from service.errors import ReportForOtherUser
from service.report import parse_report
from tests.unit import sdk_schema
from tests.unit.emulator.conftest import get_report

USERS = [str(uuid.UUID(int=index, version=4)) for index in range(100, 130)]
FIELD_CHECKS = [f.removeprefix("failed_") for f in SDK_FEATURES if f.startswith("failed_")]


def _checks_of_fields(report: dict[str, Any]) -> list[dict[str, Any]]:
    fields = [f for d in report["documents"] for s in d["sides"].values() if s for f in s["fields"]]
    fields += report["summary"]["user_data"]
    return [c for f in fields for c in f["checks"]]


def _age(report: dict[str, Any]) -> int:
    born = next(f for f in report["summary"]["user_data"] if f["name"] == "birth_date")
    birth = dt.date.fromisoformat(born["value"])
    created = dt.datetime.fromisoformat(report["created_at"]).date()
    return created.year - birth.year - ((created.month, created.day) < (birth.month, birth.day))


def _sdk_validate(body: bytes) -> None:
    """Validate the report inside the API's envelope with the SDK's constraints (or raise)."""
    sdk_schema.Report.model_validate(json.loads(body)["report"])


def _doc_check(document: dict[str, Any], key: str) -> Any:
    return next(c["value"] for c in document["checks"] if c["key"] == key)


SHOWS: dict[str, Callable[[dict[str, Any]], bool]] = {
    "nfc": lambda r: any(
        d["sides"]["internal"] is not None and _doc_check(d, "authentic_nfc_chip") is not None
        for d in r["documents"]
    ),
    "proof_of_address": lambda r: any(
        o["meta"]["category"] == "proof_of_address" for o in r["other_trusted_documents"]
    ),
    "voided_document": lambda r: r["documents"][0]["meta"]["voided"] is True,
    "incomplete_document": lambda r: r["documents"][-1]["meta"]["completed"] is False,
    "voided_selfie": lambda r: [s["voided"] for s in r["selfies"]] == [True, False],
    "expired_document": lambda r: (
        _doc_check(r["documents"][0], "unexpired_document") == 0
        and any(c["key"] == "unexpired_date" and c["value"] == 0 for c in _checks_of_fields(r))
    ),
    "under_age": lambda r: (
        _age(r) < 18
        and any(c["key"] == "over_18" and c["value"] == 0 for c in _checks_of_fields(r))
    ),
    "duplicates": lambda r: len(r["duplicates"]) >= 1,
    "null_media": lambda r: (
        r["documents"][0]["sides"]["front"]["media"]["cropped_thumbnail"] is None
    ),
    "event_versions": lambda r: all(isinstance(e.get("version"), int) for e in r["events"]),
    "forensics_scores": lambda r: isinstance(
        r["documents"][0]["sides"]["front"]["forensics_scores"], dict
    ),
    "several_devices": lambda r: len(r["summary"]["devices"]) == 2 and r["summary"]["sessions"] > 1,
    **{
        f"failed_{key}": (
            lambda r, key=key: any(  # type: ignore[misc]
                c["key"] == key and c["value"] == 0 for c in _checks_of_fields(r)
            )
        )
        for key in FIELD_CHECKS
    },
}


def test_default_reports_follow_the_sdk_models() -> None:
    """A sample of default reports, of two seeds, validates against the SDK's constraints."""
    for seed in (0, 7):
        emu = AliceEmulator(seed=seed)
        for user_id in USERS:
            _sdk_validate(emu.report_bytes(user_id))  # raises if not


def test_every_sdk_feature_shows_and_follows_the_sdk_models() -> None:
    """Each SDK feature, alone and all together, shows what it names in a report the SDK's
    constraints accept, that our model parses for its user; defaults show none of them."""
    assert set(SHOWS) == set(SDK_FEATURES)
    emu = AliceEmulator(seed=1)
    for user_id in USERS[:3]:
        plain = emu.report(user_id)
        assert not any(shows(plain) for shows in SHOWS.values())
    for index, feature in enumerate(SDK_FEATURES):
        user_id = USERS[index % len(USERS)]
        emu.create_user(user_id, features=[feature])
        body = emu.report_bytes(user_id)
        _sdk_validate(body)
        parse_report(body, expected_user_id=user_id)
        assert SHOWS[feature](emu.report(user_id)), feature
    emu.create_user(USERS[0], features=SDK_FEATURES)
    everything = emu.report_bytes(USERS[0])
    _sdk_validate(everything)
    assert all(shows(emu.report(USERS[0])) for shows in SHOWS.values())
    assert 20_000 <= len(everything) <= 60_000


@pytest.mark.parametrize("drift", DRIFT_FEATURES)
def test_drift_breaks_the_sdk_models_but_not_ours(drift: str) -> None:
    """A drift feature renders what the SDK's constraints refuse; our model still parses it,
    and refuses another user's report when asked for the right user."""
    emu = AliceEmulator(seed=2)
    user_id = USERS[0]
    emu.create_user(user_id, features=[drift])
    body = emu.report_bytes(user_id)
    if drift == "drift_other_user":
        with pytest.raises(ReportForOtherUser):
            parse_report(body, expected_user_id=user_id)
        assert parse_report(body).report.user_id != user_id
        return
    with pytest.raises(ValidationError):
        _sdk_validate(body)
    parse_report(body, expected_user_id=user_id)


def test_a_feature_changes_only_what_it_names() -> None:
    """Turning on duplicates adds duplicates and bumps the version; the rest stays identical."""
    emu = AliceEmulator(seed=4)
    before = emu.report(USERS[1])
    assert emu.add_features(USERS[1], "duplicates") == 2
    after = emu.report(USERS[1])
    assert after.pop("duplicates") != before.pop("duplicates")
    assert after == before


def test_variety_draws_features_by_seed() -> None:
    """With a variety share, some new users get features, the same ones for the same seed."""
    first, second = AliceEmulator(seed=5, variety=0.5), AliceEmulator(seed=5, variety=0.5)
    assert all(first.report_bytes(u) == second.report_bytes(u) for u in USERS[:10])
    featured = [u for u in USERS if first.describe_user(u)["features"]]
    assert 0 < len(featured) < len(USERS)
    plain = AliceEmulator(seed=5)
    assert not any(plain.describe_user(u)["features"] for u in USERS)
    for user_id in featured[:5]:
        _sdk_validate(first.report_bytes(user_id))


def test_unknown_feature_is_refused() -> None:
    """An unknown feature name raises ValueError naming it."""
    with pytest.raises(ValueError, match="no_such_feature"):
        AliceEmulator().add_features(USERS[0], "no_such_feature")


async def test_features_over_http(
    emu: AliceEmulator, client: httpx.AsyncClient, user_id: str
) -> None:
    """Features set over the admin API (at creation and later) show in the served report;
    an unknown one is 400; the variety share is configurable."""
    created = await client.post(
        "/_emulator/users", json={"user_ids": [user_id], "features": ["expired_document"]}
    )
    assert created.status_code == 200
    changed = await client.post(
        f"/_emulator/users/{user_id}/features", json={"features": ["nfc", "under_age"]}
    )
    assert changed.json() == {"user_id": user_id, "version": 2}
    report = (await get_report(client, user_id)).json()["report"]
    assert all(SHOWS[f](report) for f in ("expired_document", "nfc", "under_age"))
    described = (await client.get(f"/_emulator/users/{user_id}")).json()
    assert described["features"] == ["expired_document", "nfc", "under_age"]
    bad = await client.post(f"/_emulator/users/{user_id}/features", json={"features": ["x"]})
    assert bad.status_code == 400
    config = await client.put("/_emulator/config", json={"variety": 0.25})
    assert config.json()["variety"] == 0.25
    assert emu.variety == 0.25

"""Field-level risks end to end: an expired document's record carries its expiry date, and the
SDK decodes it against the schema its dataschema names."""

from __future__ import annotations

import uuid

from cloudevents.core.bindings.kafka import KafkaMessage, from_binary
from cloudevents.core.formats.json import JSONFormat

from emulator import AliceEmulator
from tests.integration.pipeline.conftest import (
    FIRST_EVENTS,
    Producer,
    ReaderFactory,
    SettingsFactory,
    Topics,
    create_plain_user,
    distinct_types,
    running,
)


async def test_expired_document_is_flagged_with_its_expiry_date(
    make_settings: SettingsFactory,
    emulator: AliceEmulator,
    producer: Producer,
    read_topic: ReaderFactory,
    topics: Topics,
) -> None:
    """A user with an expired passport gets, after its state, documents and selfie, one
    risk.flagged document_expired naming the passport and its past expiry date."""
    user_id = str(uuid.uuid4())
    create_plain_user(emulator, user_id)
    emulator.add_document(user_id, "passport", expired=True)
    report = emulator.report(user_id)
    passport = report["documents"][-1]
    expiry = next(f["value"] for f in passport["summary_fields"] if f["name"] == "expiration_date")
    output = await read_topic(topics.output)
    async with running(make_settings()):
        await producer.send({"user_id": user_id, "event_id": f"expired-{uuid.uuid4().hex}"})
        records = await output.wait_for(len(FIRST_EVENTS) + 2)

    assert distinct_types(records) == (
        "onboarding.user.state_changed",
        "onboarding.document.added",
        "onboarding.document.added",
        "onboarding.document.added",
        "onboarding.selfie.added",
        "onboarding.risk.flagged",
    )
    risk = next(r for r in records if r.headers["ce_type"] == b"onboarding.risk.flagged")
    decoded = from_binary(
        KafkaMessage(dict(risk.headers), risk.key, risk.value or b""), JSONFormat()
    )
    assert decoded.get_dataschema() == "urn:alice-report-ingestor:schema:onboarding.risk.flagged:v1"
    assert decoded.get_data() == {
        "user_id": user_id,
        "report_id": report["id"],
        "reason": "document_expired",
        "document_id": passport["id"],
        "expiry_date": expiry,
        "value": 0.0,
        "threshold": 50.0,
    }

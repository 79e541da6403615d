"""docs/asyncapi.yaml is what the app generates today, and documents the three channels."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

from service.events.data import RISK_REASONS
from service.events.envelope import DERIVED_TYPES
from service.settings import Settings
from tests.unit.deploy.manifests import ROOT

COMMITTED = ROOT / "docs" / "asyncapi.yaml"
REFRESH = "uv run python -m service.asyncapi --out docs/asyncapi.yaml  (make docs)"


def _generate(out: Path, **environment: str) -> str:
    subprocess.run(  # noqa: S603 - our own module with fixed arguments
        [sys.executable, "-m", "service.asyncapi", "--out", str(out)],
        cwd=ROOT,
        env={**os.environ, **environment},
        check=True,
        capture_output=True,
    )
    return out.read_text(encoding="utf-8")


def test_committed_document_is_up_to_date(tmp_path: Path) -> None:
    """Regenerating the AsyncAPI document gives exactly the committed file."""
    generated = _generate(tmp_path / "asyncapi.yaml")
    assert generated == COMMITTED.read_text(encoding="utf-8"), (
        f"docs/asyncapi.yaml is stale: refresh it with `{REFRESH}` and commit it"
    )


def test_document_ignores_the_environment(tmp_path: Path) -> None:
    """Settings in the environment (a developer's, CI's) do not change the generated document."""
    generated = _generate(
        tmp_path / "asyncapi.yaml",
        KAFKA_INPUT_TOPIC="someone.elses.topic",
        KAFKA_BOOTSTRAP_SERVERS="elsewhere:9092",
    )
    assert generated == COMMITTED.read_text(encoding="utf-8")


def test_document_describes_input_output_and_dead_letter_channels() -> None:
    """The input is received; derived events and dead letters are sent, on the default topics."""
    document = yaml.safe_load(COMMITTED.read_text(encoding="utf-8"))
    defaults = Settings.model_fields
    topics = {
        channel["address"]: document["operations"][name]["action"]
        for name, channel in document["channels"].items()
    }
    assert topics == {
        defaults["kafka_input_topic"].default: "receive",
        defaults["kafka_output_topic"].default: "send",
        defaults["kafka_dlq_topic"].default: "send",
    }
    schemas = document["components"]["schemas"]
    assert {"RiskFlagged", "StateChanged", "OnboardingCompleted"} <= set(schemas)
    assert "EmptyPayload" not in schemas
    payloads: dict[str, set[str]] = {}
    for channel in document["channels"].values():
        for ref in channel["messages"].values():
            message = document["components"]["messages"][ref["$ref"].rsplit("/", 1)[-1]]
            payload = message["payload"]["$ref"].rsplit("/", 1)[-1]
            payloads.setdefault(channel["address"], set()).add(payload)
    assert payloads[defaults["kafka_input_topic"].default] == {"OnboardingCompleted"}
    assert payloads[defaults["kafka_output_topic"].default] == {
        "StateChanged",
        "ResultChanged",
        "DocumentAdded",
        "DocumentVoided",
        "DocumentNfcVerified",
        "SelfieAdded",
        "SelfieVoided",
        "TrustedDocumentAdded",
        "RiskFlagged",
        "RiskCleared",
        "UserDeletedUpstream",
        "UserErased",
    }


def test_document_lists_every_derived_type_and_reason() -> None:
    """The output channel has one message per derived event type, its ce_type and dataschema
    fixed in its headers, and risk.flagged lists every reason."""
    document = yaml.safe_load(COMMITTED.read_text(encoding="utf-8"))
    output = document["channels"]["derived-state-changes"]["messages"]
    assert set(output) == set(DERIVED_TYPES)
    for event_type, ref in output.items():
        message = document["components"]["messages"][ref["$ref"].rsplit("/", 1)[-1]]
        headers = message["headers"]["properties"]
        assert headers["ce_type"]["const"] == event_type
        assert (
            headers["ce_dataschema"]["const"] == f"urn:alice-report-ingestor:schema:{event_type}:v1"
        )
    schemas = document["components"]["schemas"]
    variants = [ref["$ref"].rsplit("/", 1)[-1] for ref in schemas["RiskFlagged"]["oneOf"]]
    reasons = {schemas[name]["properties"]["reason"]["const"] for name in variants}
    assert reasons == set(RISK_REASONS)

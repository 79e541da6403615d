"""JSON Schemas of the derived events' data, and their AsyncAPI messages.

`docs/schemas/<type>.v1.json` is generated from the data models (`make docs`); its `$id` is the
event's `dataschema` attribute. A test fails when a committed file is stale.

    uv run python -m service.events.schemas --out docs/schemas
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from service.events.envelope import (
    CE_SOURCE,
    CE_SPECVERSION,
    DATA_SCHEMAS,
    DATA_VERSION,
    data_adapter,
    dataschema,
)

JSON_SCHEMA_DIALECT: Final = "https://json-schema.org/draft/2020-12/schema"


def schema_filename(event_type: str) -> str:
    """The file holding a type's schema, e.g. onboarding.risk.flagged.v1.json."""
    return f"{event_type}.v{DATA_VERSION}.json"


def data_schema(event_type: str) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a type's data, identified by its `dataschema`."""
    generated = data_adapter(event_type).json_schema(by_alias=True)
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": dataschema(event_type),
        "title": event_type,
        **{k: v for k, v in generated.items() if k != "title"},
    }


def schema_files() -> dict[str, str]:
    """Every schema file's name and text (sorted keys, two-space indent, final newline)."""
    return {
        schema_filename(t): json.dumps(data_schema(t), indent=2, sort_keys=True) + "\n"
        for t in DATA_SCHEMAS
    }


def _headers_schema(event_type: str) -> dict[str, Any]:
    fixed = {
        "ce_specversion": CE_SPECVERSION,
        "ce_source": CE_SOURCE,
        "ce_type": event_type,
        "ce_dataschema": dataschema(event_type),
        "content-type": "application/json",
    }
    properties: dict[str, Any] = {k: {"type": "string", "const": v} for k, v in fixed.items()}
    properties["ce_id"] = {"type": "string", "description": "Deterministic id (uuid5)."}
    properties["ce_time"] = {"type": "string", "format": "date-time"}
    properties["ce_subject"] = {"type": "string", "description": "The Alice user id."}
    return {"type": "object", "properties": properties, "required": sorted(properties)}


def asyncapi_messages(channel: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """AsyncAPI messages (one per derived type, by name) and the schemas their payloads use."""
    messages: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    ref = "#/components/schemas/{model}"
    for event_type in DATA_SCHEMAS:
        generated = data_adapter(event_type).json_schema(by_alias=True, ref_template=ref)
        schemas.update(generated.pop("$defs", {}))
        # Models are titled by their class; risk.flagged (a union discriminated by `reason`)
        # has no title of its own.
        name = str(generated.setdefault("title", "RiskFlagged"))
        schemas[name] = generated
        messages[f"{channel}:{event_type}"] = {
            "name": event_type,
            "title": event_type,
            "summary": f"ce_type {event_type}; data schema {dataschema(event_type)}",
            "contentType": "application/json",
            "headers": _headers_schema(event_type),
            "payload": {"$ref": ref.format(model=name)},
        }
    return messages, schemas


def main(argv: Sequence[str] | None = None) -> int:
    """Write every schema file into --out (default docs/schemas)."""
    parser = argparse.ArgumentParser(prog="python -m service.events.schemas", description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("docs/schemas"))
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, text in schema_files().items():
        (args.out / name).write_text(text, encoding="utf-8")
    print(f"{len(DATA_SCHEMAS)} JSON Schemas written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

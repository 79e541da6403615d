"""Real-shaped reports for the minimisation tests: the example, and emulator reports with
every SDK feature (null media entries, several devices, trusted documents, NFC sides...)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from emulator.state import UserRegistry
from emulator.variety import SDK_FEATURES

EXAMPLE_BYTES = (Path(__file__).resolve().parents[2] / "data" / "report-example.json").read_bytes()
USER_ID = "4f7f3c1e-2b0a-4d6e-9a51-0c1d2e3f4a5b"


def emulator_report(*features: str, user_id: str = USER_ID) -> bytes:
    """The emulator's report body for a user with these variety features."""
    users = UserRegistry(seed=11)
    users.create(user_id, state="TO_REVIEW", features=features)
    return users.report_bytes(user_id)


def real_shaped_bodies() -> list[tuple[str, bytes]]:
    """(label, body): the example, then one emulator report per SDK feature."""
    bodies = [("example", EXAMPLE_BYTES)]
    bodies += [(feature, emulator_report(feature)) for feature in SDK_FEATURES]
    return bodies


def leaves(
    node: Any, path: tuple[str | int, ...] = ()
) -> Iterator[tuple[tuple[str | int, ...], Any]]:
    """Every (path, scalar or empty container) below `node`: an independent view of a report."""
    if isinstance(node, dict) and node:
        for key, child in node.items():
            yield from leaves(child, (*path, key))
    elif isinstance(node, list) and node:
        for index, child in enumerate(node):
            yield from leaves(child, (*path, index))
    else:
        yield path, node


def flat(body: bytes) -> dict[Path, Any]:
    """A body as {path: leaf}."""
    return dict(leaves(json.loads(body)))


def document_fields(report: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every document field object of a report: user data, summary fields, sides' fields."""
    summary = report.get("summary") or {}
    yield from summary.get("user_data") or []
    for document in report.get("documents") or []:
        yield from document.get("summary_fields") or []
        for side in (document.get("sides") or {}).values():
            yield from (side or {}).get("fields") or []

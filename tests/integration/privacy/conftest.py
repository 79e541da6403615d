"""Fixtures and helpers of the personal-data tests: the pipeline and CLI fixtures, a generic
scan of every text, bytea, JSON and UUID column of every table, and a report's personal values."""

from __future__ import annotations

import re
from typing import Any

import asyncpg

from tests.integration.operability.conftest import run_cli  # noqa: F401 - used by the tests
from tests.integration.pipeline.conftest import (  # noqa: F401 - fixtures shared with the pipeline tests
    emulator,
    make_settings,
    producer,
    read_topic,
    topics,
)

SCANNED_TYPES = ("text", "character varying", "bytea", "jsonb", "json", "uuid")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
# Values unique to one person. Names, birth dates and addresses are drawn by the emulator from
# small lists, so other tests' users share them in the shared database: a scan for them would
# find those users, not this one.
PERSONAL_FIELDS = {"id_number", "passport_number", "mrz"}


async def traces(pg: asyncpg.Connection, needles: set[str]) -> dict[tuple[str, str], int]:
    """For each (table, column) of the public schema that holds any needle: how many rows.

    Every column whose type can carry text is searched, found through information_schema (a
    table added later is scanned too): text and UUIDs case-insensitively as text, JSON as its
    text, bytea as bytes in both lower- and upper-case spellings.
    """
    columns = await pg.fetch(
        "SELECT c.table_name, c.column_name, c.data_type FROM information_schema.columns c"
        " JOIN information_schema.tables t ON t.table_schema = c.table_schema"
        " AND t.table_name = c.table_name AND t.table_type = 'BASE TABLE'"
        " WHERE c.table_schema = 'public' AND c.data_type = ANY($1::text[])",
        list(SCANNED_TYPES),
    )
    assert {c["table_name"] for c in columns} >= {
        "users",
        "report_snapshots",
        "user_events",
        "inbox",
        "outbox",
        "quarantine",
        "privacy_audit",
    }
    found: dict[tuple[str, str], int] = {}
    lowered = sorted({n.lower() for n in needles})
    spellings = sorted({s.encode() for n in needles for s in (n, n.lower(), n.upper())})
    for column in columns:
        table, name, kind = column["table_name"], column["column_name"], column["data_type"]
        # Names come from information_schema, quoted; the needles are bound parameters.
        if kind == "bytea":
            match = f'position(n IN "{name}") > 0'
            needle_type, arguments = "bytea", spellings
        else:
            match = f'strpos(lower("{name}"::text), n) > 0'
            needle_type, arguments = "text", lowered
        sql = (
            f'SELECT count(*) FROM "{table}" WHERE EXISTS'  # noqa: S608 - see above
            f" (SELECT 1 FROM unnest($1::{needle_type}[]) n WHERE {match})"
        )
        count = await pg.fetchval(sql, arguments)
        if count:
            found[(table, name)] = count
    return found


def report_values(report: dict[str, Any]) -> set[str]:
    """What identifies the user in a report: every UUID in it (report, documents, selfies,
    events) and its document numbers and machine-readable zones."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("name") in PERSONAL_FIELDS and isinstance(node.get("value"), str):
                found.add(node["value"])
            for child in node.values():
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)
        elif isinstance(node, str) and _UUID.match(node):
            found.add(node)

    walk(report)
    return {v for v in found if len(v) >= 4}

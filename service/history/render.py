"""The history document as text for a terminal: one block per snapshot. Pure.

Renders the JSON document (already masked or revealed), so the text never shows more than
`--json` would.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

ORIGINS = {
    "input_event": "input event",
    "reconciler": "reconciler (no event)",
    "replay": "replay-dlq",
    "backfill": "backfill",
}


def _value(value: Any) -> str:
    return "-" if value is None else str(value)


def _checks_note(counts: Counter[str], where: str) -> str:
    return f", {counts[where]} check(s)" if counts.get(where) else ""


def _diff_lines(diff: dict[str, Any]) -> list[str]:
    lines = []
    if diff["state"] is not None:
        lines.append(f"state: {_value(diff['state']['from'])} -> {_value(diff['state']['to'])}")
    for group in ("results", "scores", "user_data"):
        lines.extend(
            f"{group}.{c['name']}: {_value(c['from'])} -> {_value(c['to'])}"
            if group != "user_data"
            else f"{c['name']}: {_value(c['from'])} -> {_value(c['to'])}"
            for c in diff[group]
        )
    # The checks of a document or selfie that just appeared are counted, not listed (the JSON
    # document lists them): a first snapshot would otherwise print dozens of lines.
    added = {f"document:{d['id']}" for d in diff["documents_added"]}
    added |= {f"selfie:{s}" for s in diff["selfies_added"]}
    new_checks = Counter(c["where"] for c in diff["checks"] if c["where"] in added)
    for what in ("added", "voided", "removed"):
        lines.extend(
            f"document {what}: {d['id']} ({_value(d['type'])}, {_value(d['issuing_country'])})"
            + _checks_note(new_checks, f"document:{d['id']}")
            for d in diff[f"documents_{what}"]
        )
        lines.extend(
            f"selfie {what}: {s}" + _checks_note(new_checks, f"selfie:{s}")
            for s in diff[f"selfies_{what}"]
        )
    lines.extend(
        f"check {c['where']} {c['key']}: {_value(c['from'])} -> {_value(c['to'])}"
        for c in diff["checks"]
        if c["where"] not in added
    )
    lines.extend(
        f"device added: {_value(d['platform'])} {_value(d['model'])} ip {_value(d['ip'])}"
        for d in diff["devices_added"]
    )
    return lines or ["no change in the compared fields"]


def render_text(document: dict[str, Any]) -> str:
    """The timeline, oldest snapshot first, as lines of text."""
    snapshots = document["snapshots"]
    lines = [
        f"user {document['user_id']}: state {_value(document['state'])},"
        f" {len(snapshots)} snapshot(s)"
        + (f", {document['reconcile_state']}" if document["reconcile_state"] else "")
        + ("" if document["revealed"] else " (personal values masked; --reveal shows them)")
    ]
    for number, entry in enumerate(snapshots, start=1):
        origin = entry["origin"]
        lines.append("")
        lines.append(
            f"#{number} {entry['stored_at']}  {_value(entry['state'])}  via"
            f" {ORIGINS.get(origin['kind'], origin['kind'])} [{origin['message_id']}]"
        )
        lines.extend(f"    {line}" for line in _diff_lines(entry["diff"]))
        events = entry["derived_events"]
        lines.append(f"  derived events ({len(events)}):" if events else "  derived events: none")
        lines.extend(f"    {e['type']}  {e['event_id']}  {e['status']}" for e in events)
    if document["other_events"]:
        lines.append("")
        lines.append("other events:")
        lines.extend(
            f"  {e['queued_at']}  {e['type']}  {e['event_id']}  {e['status']}"
            for e in document["other_events"]
        )
    return "\n".join(lines)

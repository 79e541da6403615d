"""`reliability/results.json` and the table of RELIABILITY.md (between its table markers)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"
COLUMNS = (
    "name",
    "messages_in",
    "stored",
    "dead_lettered",
    "lost",
    "duplicate_snapshots",
    "duplicate_deliveries",
    "recovery_s",
)


def write_results(path: Path, results: list[dict[str, Any]], *, quick: bool) -> None:
    """The results file: the issue's fields first, then the details of each scenario."""
    body = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": quick,
        "scenarios": [
            {**{c: r.get(c) for c in COLUMNS}, **{k: v for k, v in r.items() if k not in COLUMNS}}
            for r in results
        ],
    }
    path.write_text(json.dumps(body, indent=2) + "\n")


def previous_rows(path: Path) -> list[dict[str, Any]]:
    """The rows of an earlier results file (none when there is no file)."""
    if not path.exists():
        return []
    rows: list[dict[str, Any]] = json.loads(path.read_text())["scenarios"]
    return rows


def merged(previous: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Earlier rows in their order, each replaced by a new row of the same name; new ones last."""
    fresh = {r["name"]: r for r in new}
    rows = [fresh.pop(r["name"], r) for r in previous]
    return rows + [r for r in new if r["name"] in fresh]


def table(results: list[dict[str, Any]]) -> str:
    """The results as a Markdown table, one row per scenario."""
    head = [*COLUMNS, "targets"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in results:
        cells = ["—" if r.get(c) is None else str(r.get(c)) for c in COLUMNS]
        verdict = "met" if r["passed"] else "missed: " + "; ".join(r["problems"])[:300]
        lines.append("| " + " | ".join([*cells, verdict.replace("|", "/")]) + " |")
    return "\n".join(lines)


def write_markdown(path: Path, results: list[dict[str, Any]]) -> None:
    """Replace the table between the markers of RELIABILITY.md."""
    text = path.read_text()
    if BEGIN not in text or END not in text:
        return
    before, rest = text.split(BEGIN, 1)
    _, after = rest.split(END, 1)
    path.write_text(f"{before}{BEGIN}\n{table(results)}\n{END}{after}")

"""The entry point: turn an HTTP response body into a validated report, or `InvalidReport`.

The body is validated straight from bytes by pydantic-core (`model_validate_json`, no
`json.loads` first) and kept byte-for-byte beside the model, so nothing Alice sent is lost.
Only the `{"report": {...}}` envelope that the API always sends is accepted: a bare report
object is refused, so that a change in the API's wrapping is noticed, not guessed around.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pydantic import ValidationError

from service.errors import InvalidReport, ReportForOtherUser
from service.report.base import COLLECTION_BRANCH, NULL_BRANCH
from service.report.model import Report, ReportEnvelope

MAX_LISTED_ERRORS = 3

# Location parts that are not our own snake_case field names are keys taken from the data
# (media names, bounding-box labels, attribute keys): they are masked, as data may be personal.
_SCHEMA_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


@dataclass(frozen=True, slots=True)
class ParsedReport:
    """A validated report together with the exact response body it was read from."""

    raw: bytes  # the exact response body received (the {"report": {...}} envelope)
    report: Report


def _location(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        if part == COLLECTION_BRANCH:
            continue
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            name = part if _SCHEMA_NAME.match(part) else "*"
            path += f".{name}" if path else name
    return path or "body"


def describe_validation_error(error: ValidationError, *, limit: int = MAX_LISTED_ERRORS) -> str:
    """A short reason naming the failing field paths, never the values found there.

    Built from each error's `loc` and `msg` only (pydantic's `input`, `ctx` and `url` are
    left out: reports hold names and document numbers).
    """
    details = [
        detail
        for detail in error.errors(include_url=False, include_context=False, include_input=False)
        # A collection that fails also fails its "or null" branch: that second error is noise.
        if not (detail["loc"] and detail["loc"][-1] == NULL_BRANCH)
    ]
    listed = [f"{_location(detail['loc'])}: {detail['msg']}" for detail in details[:limit]]
    more = len(details) - limit
    if more > 0:
        listed.append(f"and {more} more error{'s' if more > 1 else ''}")
    return "; ".join(listed)


def parse_report(body: bytes, *, expected_user_id: str | None = None) -> ParsedReport:
    """Validate the body of `GET /user/report`, keeping the body as received.

    Raises `InvalidReport` (never a pydantic error) for a body that is not JSON, not an
    object, has no `report` key, or holds a report that breaks the schema's strict parts:
    missing or non-UUID ids, scores outside 0-100, unparseable timestamps. With
    `expected_user_id` (the user the report was asked for), a report naming another user
    raises `ReportForOtherUser`.
    """
    try:
        envelope = ReportEnvelope.model_validate_json(body)
    except ValidationError as exc:
        reason = describe_validation_error(exc)
    else:
        report = envelope.report
        if expected_user_id is not None and report.user_id != expected_user_id.lower():
            raise ReportForOtherUser("report.user_id: not the user the report was asked for")
        return ParsedReport(raw=body, report=report)
    # Raised outside the except block so that the pydantic error, whose text holds input
    # values, is neither the cause nor the context of ours: no traceback or error tracker
    # that walks the chain can show report data.
    raise InvalidReport(reason)

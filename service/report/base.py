"""Building blocks of the report model: the lenient base class and the strict value types.

Leniency: every object keeps unknown keys (`extra="allow"`), so a field Alice adds tomorrow is
neither lost nor an error. Strictness: ids, scores and timestamps, where a wrong value would
mislead a decision, are constrained here once and reused by every model.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, GetCoreSchemaHandler
from pydantic_core import CoreSchema, core_schema

from service.report.constants import SCORE_MAX, SCORE_MIN

T = TypeVar("T")
V = TypeVar("V")


class AliceModel(BaseModel):
    """Base of every report object: unknown keys kept, instances immutable."""

    # frozen is shallow: lists and dicts inside stay Python lists and dicts (cheaper to build
    # than tuples); treat them as read-only.
    model_config = ConfigDict(extra="allow", frozen=True)


def _assume_utc(value: datetime) -> datetime:
    # Alice sends offsets (+00:00 in every known report). A naive timestamp is read as UTC, not
    # local time: a naive datetime would be ambiguous downstream and the raw body keeps what was
    # sent. Aware ones are converted to UTC so every timestamp compares and stores the same way.
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        # 0001-01-01T00:00+01:00 or 9999-12-31T23:59-01:00 has no UTC datetime; Alice's SDK
        # accepts it, so it is kept with its own offset rather than failing the report.
        return value


_UUID_SHAPE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _canonical_uuid(value: str) -> str:
    lowered = value.lower()
    if _UUID_SHAPE.fullmatch(lowered) is None:
        # The message never repeats the value: ids sit next to personal data in error reports.
        raise ValueError("not a UUID in its 36-character hyphenated form")
    return lowered


# Labels of the two branches of a null-tolerant collection, as they appear in error locations;
# `parse` hides them, so an error names the field path only.
COLLECTION_BRANCH = "<collection>"
NULL_BRANCH = "<null>"


class _NullAsEmpty:
    """Read JSON null as an empty collection, inside pydantic-core.

    A `BeforeValidator` would call Python for every list and dict in the report (about 100
    calls, a third of the validation time); this union calls Python only for an actual null.
    """

    def __init__(self, empty: type[list[Any]] | type[dict[str, Any]]) -> None:
        self._empty = empty

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        empty = self._empty
        null_as_empty = core_schema.chain_schema(
            [
                core_schema.none_schema(),
                core_schema.no_info_plain_validator_function(lambda _: empty()),
            ]
        )
        return core_schema.union_schema(
            [(handler(source), COLLECTION_BRANCH), (null_as_empty, NULL_BRANCH)],
            mode="left_to_right",
        )


class Otherwise:
    """Read a value of the wrong shape as `fallback()`, inside pydantic-core.

    For keys our model reads but Alice's SDK does not declare (the SDK ignores them, so any
    value passes there): a surprising value must not fail the report; the raw body keeps it.
    Put it last in `Annotated[...]`, so that it wraps every constraint before it.
    """

    def __init__(self, fallback: Callable[[], Any]) -> None:
        self._fallback = fallback

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        fallback = self._fallback
        return core_schema.union_schema(
            [handler(source), core_schema.no_info_plain_validator_function(lambda _: fallback())],
            mode="left_to_right",
        )


# A 0-100 score; null ("not computed yet" or "does not apply") is allowed by using `Score | None`.
Score = Annotated[float, Field(ge=SCORE_MIN, le=SCORE_MAX, allow_inf_nan=False)]

# A document field's read score: Alice documents an integer with no range and the SDK types it
# `Optional[int]` unbounded; a float is accepted too (finite), so no score ever fails a report.
FieldScore = int | Annotated[float, Field(allow_inf_nan=False)]

# A timezone-aware UTC datetime; naive input is read as UTC.
Timestamp = Annotated[datetime, AfterValidator(_assume_utc)]

# A UUID in its canonical 36-character form, kept as a lowercase `str` (not `uuid.UUID`): the
# report and the database use the text form, and `str(report.id)` is then the identity.
# Braces, URNs and 32-hex forms are refused, as the schema fixes the length at 36.
UuidStr = Annotated[str, AfterValidator(_canonical_uuid)]

# Collections that Alice may send as null: null is read as empty, so consumers iterate freely.
NullableList = Annotated[list[T], _NullAsEmpty(list)]
NullableDict = Annotated[dict[str, V], _NullAsEmpty(dict)]

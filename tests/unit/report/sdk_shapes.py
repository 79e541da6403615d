"""Hypothesis strategies for reports of every shape Alice's SDK models accept.

Built by walking the models of `tests/unit/sdk_schema.py` (the local copy of the SDK's
constraints): a required key is always there, an optional one absent or present, a nullable
one sometimes null, a list empty, of one or of several items, a closed enum any of its values,
a bounded number anywhere in its bounds. The report's own `id` and `user_id` are UUIDs (our
stricter rule, which Alice documents); every other id is any string the SDK allows.
"""

from __future__ import annotations

import functools
import types
import uuid
from datetime import UTC, datetime, timedelta, timezone
from enum import Enum
from typing import Any, Union, get_args, get_origin

import annotated_types
from hypothesis import strategies as st
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from tests.unit import sdk_schema

Strategy = st.SearchStrategy[Any]

text = st.text(st.characters(codec="utf-8"), max_size=8)
json_values: Strategy = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=5,
)
# Whole-minute offsets: pydantic (and so the SDK) reads "+05:30", not "+05:30:15".
offsets = st.integers(-(23 * 60 + 59), 23 * 60 + 59).map(lambda m: timezone(timedelta(minutes=m)))
moments = st.datetimes(timezones=st.none() | st.just(UTC) | offsets)
# The SDK's datetime reads ISO 8601 text and Unix timestamps alike.
timestamps = moments.map(lambda moment: moment.isoformat()) | st.integers(0, 4_102_444_800)
uuids = st.uuids().flatmap(
    lambda u: st.sampled_from([str(u), str(u).upper(), u.hex, f"urn:uuid:{u}", f"{{{u}}}"])
)
# Sizes chosen on purpose: empty, one, many.
list_sizes = st.sampled_from([0, 1, 3])


def _bounds(info: FieldInfo | None) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for item in info.metadata if info is not None else []:
        if isinstance(item, annotated_types.Ge):
            found["min_value"] = item.ge
        elif isinstance(item, annotated_types.Le):
            found["max_value"] = item.le
        elif isinstance(item, annotated_types.MinLen):
            found["min_size"] = item.min_length
        elif isinstance(item, annotated_types.MaxLen):
            found["max_size"] = item.max_length
    return found


def _sized_list(items: Strategy) -> Strategy:
    return list_sizes.flatmap(lambda size: st.lists(items, min_size=size, max_size=size))


_SCALARS: dict[Any, Strategy] = {
    bool: st.booleans(),
    int: st.integers(),
    datetime: timestamps,
    uuid.UUID: uuids,
    Any: json_values,
    type(None): st.none(),
}


def _scalar(annotation: Any, bounds: dict[str, Any]) -> Strategy:
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return st.sampled_from([member.value for member in annotation])
    if annotation is str:
        return st.text(st.characters(codec="utf-8"), **{"max_size": 8} | bounds)
    if annotation is float and bounds:
        low, high = bounds["min_value"], bounds["max_value"]
        return st.floats(low, high) | st.integers(int(low), int(high))
    if annotation is float:
        return st.floats(allow_nan=False, allow_infinity=False)
    if annotation in _SCALARS:
        return _SCALARS[annotation]
    raise NotImplementedError(f"no strategy for {annotation!r}")


def for_type(annotation: Any, info: FieldInfo | None = None) -> Strategy:
    """Any JSON value the SDK accepts for `annotation` (with the field's bounds)."""
    origin, args = get_origin(annotation), get_args(annotation)
    if origin in (Union, types.UnionType):
        return st.one_of(*(for_type(arg, info) for arg in args))
    if origin is list:
        return _sized_list(for_type(args[0]))
    if origin is dict:
        return st.dictionaries(text, for_type(args[1]), max_size=3)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return for_model(annotation)
    return _scalar(annotation, _bounds(info))


@functools.cache
def for_model(model: type[BaseModel]) -> Strategy:
    """An object of `model`: required keys always, optional keys absent or present."""
    required: dict[str, Strategy] = {}
    optional: dict[str, Strategy] = {}
    for name, info in model.model_fields.items():
        strategy = for_type(info.annotation, info)
        (required if info.is_required() else optional)[name] = strategy
    return st.fixed_dictionaries(required, optional=optional)


def _with_uuid_ids(
    report: dict[str, Any], report_id: uuid.UUID, user_id: uuid.UUID
) -> dict[str, Any]:
    return report | {"id": str(report_id), "user_id": str(user_id)}


sdk_reports: st.SearchStrategy[dict[str, Any]] = st.builds(
    _with_uuid_ids, for_model(sdk_schema.Report), st.uuids(), st.uuids()
)
"""A `report` object the SDK accepts, with UUID report and user ids."""

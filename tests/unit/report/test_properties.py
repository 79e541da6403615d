"""Property tests: hundreds of variants of the example validate; broken ones fail cleanly."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.errors import InvalidReport
from service.report import AliceModel, best_user_data, parse_report
from tests.unit.report.conftest import encode, example_envelope

Path = tuple[str | int, ...]

SECRET_NAME = "ZOË SECRETNAME"
# Keys every known model declares: an injected "unknown" key must not be one of them.
MODELS: list[type[AliceModel]] = AliceModel.__subclasses__()
KNOWN_KEYS = {name for cls in MODELS for name in cls.model_fields}
# Keys whose value may not be null: the ids, and what names a check, a field or a media item.
REQUIRED_KEYS = {"report", "key", "name", "href"}
REPORT_IDS = {("report", "id"), ("report", "user_id")}
# Maps from data keys to objects: a new entry must be a full object, not a random value.
MAPS = {"media", "objects"}
SCORE_KEYS = {"face_liveness", "liveness", "score"}
UUID_SHAPE = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)

utf8_text = st.text(st.characters(codec="utf-8"), max_size=20)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | utf8_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(utf8_text, inner, max_size=3),
    max_leaves=6,
)
unknown_keys = utf8_text.filter(lambda key: key not in KNOWN_KEYS)
in_range_scores = st.none() | st.integers(0, 100) | st.floats(0, 100)
out_of_range_scores = st.floats(100, 1e300, exclude_min=True) | st.floats(
    -1e300, 0, exclude_max=True
)


def walk(node: Any, path: Path = ()) -> Iterator[tuple[Path, Any]]:
    """Every (path, value) below `node`, parents before children."""
    yield path, node
    if isinstance(node, dict):
        for key, child in node.items():
            yield from walk(child, (*path, key))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            yield from walk(child, (*path, index))


def at(root: Any, path: Path) -> Any:
    """The value at `path` below `root`."""
    for part in path:
        root = root[part]
    return root


def reachable(root: Any, path: Path) -> Any:
    """The value at `path` below `root`, or None where the path no longer leads anywhere."""
    for part in path:
        if isinstance(root, dict) and isinstance(part, str):
            root = root.get(part)
        elif isinstance(root, list) and isinstance(part, int):
            root = root[part]
        else:
            return None
    return root


def nullable(path: Path) -> bool:
    """Whether the value at `path` is optional in the schema (not an id nor a map entry)."""
    key = path[-1] if path else None
    parent = path[-2] if len(path) > 1 else None
    return (
        isinstance(key, str)
        and key not in REQUIRED_KEYS
        and path not in REPORT_IDS
        and parent not in MAPS
        and "attributes" not in path
    )


def extendable(path: Path, node: Any) -> bool:
    """Whether the dict at `path` is a report object (not a map, not free JSON)."""
    return (
        isinstance(node, dict) and (not path or path[-1] not in MAPS) and "attributes" not in path
    )


@st.composite
def report_variants(draw: st.DrawFn) -> tuple[dict[str, Any], list[tuple[Path, str, Any]]]:
    """The example with nulls, new enum values, in-range scores and unknown keys injected."""
    envelope = example_envelope()
    report = envelope["report"]
    for state in (draw(st.sampled_from(["INPROGRESS", "ON_HOLD", "TO_REVIEW"])),):
        report["summary"]["state"]["value"] = state
    report["documents"][1]["meta"]["type"] = draw(utf8_text)
    report["documents"][0]["sides"]["front"]["side"] = draw(utf8_text)
    report["selfies"][0]["checks"][1]["key"] = draw(utf8_text)
    report["events"][-1]["type"] = draw(utf8_text)
    report["summary"]["result"]["document_read"] = draw(utf8_text)
    report["summary"]["external_user_data"]["first_name"] = draw(utf8_text)
    report["summary"]["user_data"][1]["value"] = draw(utf8_text)

    score_paths = [p for p, _ in walk(envelope) if p and p[-1] in SCORE_KEYS]
    for path in draw(st.lists(st.sampled_from(score_paths), max_size=10)):
        at(envelope, path[:-1])[path[-1]] = draw(in_range_scores)

    null_paths = [p for p, _ in walk(envelope) if nullable(p)]
    for path in draw(st.lists(st.sampled_from(null_paths), max_size=4)):
        parent = reachable(envelope, path[:-1])  # an earlier null may have cut the branch off
        if isinstance(parent, dict):
            parent[path[-1]] = None

    targets = [p for p, node in walk(envelope) if extendable(p, node)]
    injected: dict[tuple[Path, str], Any] = {}
    for path in draw(st.lists(st.sampled_from(targets), min_size=1, max_size=6)):
        key, value = draw(unknown_keys), draw(json_values)
        at(envelope, path)[key] = value
        injected[path, key] = value  # the same key drawn twice: the last value is sent
    return envelope, [(path, key, value) for (path, key), value in injected.items()]


@settings(max_examples=200, deadline=None)
@given(report_variants())
def test_variants_of_the_example_validate(
    variant: tuple[dict[str, Any], list[tuple[Path, str, Any]]],
) -> None:
    """Unknown keys, nulls, new enum values, unicode text and in-range scores all validate."""
    envelope, injected = variant
    body = encode(envelope)
    parsed = parse_report(body)
    assert parsed.raw == body
    assert parsed.report.id == envelope["report"]["id"]
    dumped = {"report": parsed.report.model_dump()}
    for path, key, value in injected:
        if path == ():
            continue  # envelope-level extras are not part of the report
        container = at(dumped, path)
        assert container[key] == value
    summary = envelope["report"]["summary"]
    state = summary.get("state") if isinstance(summary, dict) else None
    if isinstance(state, dict) and state.get("value") == "INPROGRESS":
        assert parsed.report.user_state == "IN_PROGRESS"


@settings(max_examples=200, deadline=None)
@given(first_name=st.text(st.characters(codec="utf-8"), min_size=1), email=utf8_text)
def test_unicode_user_data_is_kept(first_name: str, email: str) -> None:
    """Any Unicode text in user data and external data comes back unchanged."""
    envelope = example_envelope()
    envelope["report"]["summary"]["user_data"][0]["value"] = first_name
    envelope["report"]["summary"]["external_user_data"]["email"] = email
    report = parse_report(encode(envelope)).report
    assert best_user_data(report, "first_name") == first_name
    assert report.summary is not None
    assert report.summary.external_user_data is not None
    assert report.summary.external_user_data.email == email


# Document fields' read scores have no documented range (the SDK: an unbounded integer).
FIELD_LISTS = {"user_data", "summary_fields", "fields"}
SCORE_PATHS = [
    p
    for p, _ in walk(example_envelope())
    if p and p[-1] in SCORE_KEYS and not (len(p) > 2 and p[-3] in FIELD_LISTS)
]
CHECK_VALUE_PATHS = [
    p for p, _ in walk(example_envelope()) if len(p) > 2 and p[-1] == "value" and p[-3] == "checks"
]


def _location(path: Path) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")


@settings(max_examples=200, deadline=None)
@given(path=st.sampled_from(SCORE_PATHS + CHECK_VALUE_PATHS), score=out_of_range_scores)
def test_out_of_range_scores_fail_without_the_value(path: Path, score: float) -> None:
    """A score outside 0-100 anywhere fails; the reason names its path, not the value or a name."""
    envelope = example_envelope()
    envelope["report"]["summary"]["user_data"][0]["value"] = SECRET_NAME
    at(envelope, path[:-1])[path[-1]] = score
    with pytest.raises(InvalidReport) as caught:
        parse_report(encode(envelope))
    error = caught.value
    assert error.reason.startswith(f"{_location(path)}: Input should be ")
    assert repr(score) not in str(error)
    assert SECRET_NAME not in str(error)


bad_ids = (
    st.text(st.characters(codec="utf-8"), max_size=40).filter(lambda s: not UUID_SHAPE.fullmatch(s))
    | st.integers()
    | st.none()
    | st.lists(st.integers(), max_size=2)
)


@settings(max_examples=200, deadline=None)
@given(field=st.sampled_from(["id", "user_id"]), bad_id=bad_ids, missing=st.booleans())
def test_missing_or_non_uuid_ids_fail(field: str, bad_id: object, missing: bool) -> None:
    """A missing or non-UUID report id or user id fails, naming the field, not the value."""
    envelope = example_envelope()
    envelope["report"]["summary"]["user_data"][0]["value"] = SECRET_NAME
    if missing:
        del envelope["report"][field]
    else:
        envelope["report"][field] = f"{SECRET_NAME}{bad_id}" if isinstance(bad_id, str) else bad_id
    with pytest.raises(InvalidReport) as caught:
        parse_report(encode(envelope))
    error = caught.value
    assert error.reason.startswith(f"report.{field}: ")
    assert "SECRETNAME" not in str(error)


@settings(max_examples=200, deadline=None)
@given(body=json_values.filter(lambda v: not isinstance(v, dict)))
def test_non_object_json_bodies_fail(body: Any) -> None:
    """Any JSON value that is not an object fails with a reason about the body."""
    with pytest.raises(InvalidReport) as caught:
        parse_report(encode(body))
    error = caught.value
    assert error.reason == "body: Input should be an object"


@settings(max_examples=200, deadline=None)
@given(score=st.floats(0, 100) | st.integers(0, 100))
def test_in_range_scores_are_kept(score: float) -> None:
    """A score anywhere in 0-100 validates and reads back as the same number."""
    envelope = example_envelope()
    envelope["report"]["summary"]["face_liveness"] = score
    report = parse_report(encode(envelope)).report
    assert report.summary is not None
    assert report.summary.face_liveness is not None
    assert math.isclose(report.summary.face_liveness, score)

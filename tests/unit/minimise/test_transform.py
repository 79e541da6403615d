"""Each minimisation rule on real-shaped reports: it removes exactly its part, keeps the rest,
tolerates null and absent parts, and makes a report differing only in a removed part equal."""

from __future__ import annotations

import json
from typing import Any

import pytest

from service.errors import InvalidReport
from service.ingest import read_report
from service.minimise import RECOMMENDED_RULES, RULES, Minimiser
from service.report import parse_report
from tests.unit.minimise.conftest import (
    EXAMPLE_BYTES,
    USER_ID,
    document_fields,
    emulator_report,
    flat,
    real_shaped_bodies,
)

BODIES = real_shaped_bodies()
LABELS = [label for label, _ in BODIES]
Path = tuple[str | int, ...]


def removed_paths(before: bytes, after: bytes) -> set[Path]:
    """Paths of `before` that `after` lacks; asserts every kept path kept its value and that
    `after` adds nothing but the empty objects left where a removed key was the only one."""
    old, new = flat(before), flat(after)
    for path, value in new.items():
        if path in old:
            assert old[path] == value, path
        else:
            assert value == {}, path
    return set(old) - set(new)


def field_values(body: bytes, name: str) -> list[Any]:
    """The values of every document field called `name` (absent value: the marker `...`)."""
    report = json.loads(body)["report"]
    return [f.get("value", ...) for f in document_fields(report) if f.get("name") == name]


def test_no_rule_keeps_the_very_bytes() -> None:
    """With REPORT_MINIMISATION=none the body is returned as the same object, not re-encoded."""
    assert Minimiser(()).body(EXAMPLE_BYTES) is EXAMPLE_BYTES


@pytest.mark.parametrize(("label", "body"), BODIES, ids=LABELS)
def test_media_links_remove_every_href_and_nothing_else(label: str, body: bytes) -> None:
    """`media_links`: no media entry keeps its link; extensions and regions stay."""
    after = Minimiser(["media_links"]).body(body)
    hrefs = {p for p in flat(body) if p[-1] == "href"}
    assert hrefs, label
    assert removed_paths(body, after) == hrefs
    assert b"/download" not in after
    parse_report(after, expected_user_id=None)


@pytest.mark.parametrize(("label", "body"), BODIES, ids=LABELS)
def test_bounding_boxes_remove_every_region_and_nothing_else(label: str, body: bytes) -> None:
    """`bounding_boxes`: the face and document regions of every media entry go."""
    before = flat(body)
    boxes = {p for p in before if "objects" in p and before[p] != {}}
    assert boxes, label
    assert removed_paths(body, Minimiser(["bounding_boxes"]).body(body)) == boxes


@pytest.mark.parametrize(("label", "body"), BODIES, ids=LABELS)
def test_device_ips_remove_every_ip_and_nothing_else(label: str, body: bytes) -> None:
    """`device_ips`: the summary's devices and every event's device lose their IP only."""
    after = Minimiser(["device_ips"]).body(body)
    ips = {p for p, v in flat(body).items() if p[-1] == "ip" and v is not None}
    assert any(p[1] == "events" for p in ips)
    assert any(p[1] == "summary" for p in ips)
    assert removed_paths(body, after) == ips
    assert b"203.0.113." not in after


def test_several_devices_lose_every_ip() -> None:
    """A report with two devices (and events on each) keeps neither IP."""
    body = emulator_report("several_devices")
    assert b"198.51.100.77" in body
    after = Minimiser(["device_ips"]).body(body)
    assert b"198.51.100.77" not in after
    assert b"203.0.113." not in after
    assert b"onboarding-android" in after  # the rest of the device stays


def test_document_numbers_keep_their_last_four_characters() -> None:
    """`document_number_last4` on the example: ID card, passport and support numbers cut to
    their last four characters wherever they appear; other fields untouched."""
    after = Minimiser(["document_number_last4"]).body(EXAMPLE_BYTES)
    assert field_values(after, "id_number") == ["999R"] * 5
    assert field_values(after, "passport_number") == ["0589"] * 2
    assert field_values(after, "support_number") == ["0589"]
    old, new = flat(EXAMPLE_BYTES), flat(after)
    assert set(old) == set(new)  # values changed in place, no path removed
    changed = {path for path in old if old[path] != new[path]}
    assert len(changed) == 8
    for path in changed:
        assert path[-1] == "value"
        assert old[(*path[:-1], "name")] in {"id_number", "passport_number", "support_number"}


@pytest.mark.parametrize(("label", "body"), BODIES, ids=LABELS)
def test_every_number_field_is_the_tail_of_the_original(label: str, body: bytes) -> None:
    """On every real-shaped report, each document number is at most four characters long and
    is the end of the number Alice sent."""
    after = Minimiser(["document_number_last4"]).body(body)
    names = ("id_number", "passport_number", "license_number", "support_number")
    for name in names:
        for original, kept in zip(field_values(body, name), field_values(after, name), strict=True):
            assert len(kept) <= 4
            assert original.endswith(kept)
    assert any(field_values(body, name) for name in names), label


def test_mrz_values_go_with_the_rule_and_the_full_number_with_them() -> None:
    """`mrz` drops the MRZ text (it repeats the number, names and dates); with the number
    rule, the full document number appears nowhere in the report."""
    after = Minimiser(["mrz"]).body(EXAMPLE_BYTES)
    assert field_values(after, "mrz") == [..., ...]
    removed = removed_paths(EXAMPLE_BYTES, after)
    assert {p[-1] for p in removed} == {"value"}
    assert len(removed) == 2
    both = Minimiser(["mrz", "document_number_last4"]).body(EXAMPLE_BYTES)
    for number in (b"99999999R", b"PAA000589", b"BAA000589"):
        assert number in EXAMPLE_BYTES
        assert number not in both


@pytest.mark.parametrize(
    ("rule", "field", "value"),
    [("addresses", "address", b"AVDA DE MADRID"), ("birth_dates", "birth_date", b"1980-01-01")],
)
def test_field_rules_drop_their_field_values(rule: str, field: str, value: bytes) -> None:
    """`addresses` and `birth_dates` drop those values; the fields' names and checks stay."""
    after = Minimiser([rule]).body(EXAMPLE_BYTES)
    assert value in EXAMPLE_BYTES
    assert value not in after
    assert set(field_values(after, field)) == {...}
    assert {p[-1] for p in removed_paths(EXAMPLE_BYTES, after)} == {"value"}


def test_external_user_data_goes_whole() -> None:
    """`external_user_data` removes what was given at user creation (the e-mail)."""
    after = Minimiser(["external_user_data"]).body(EXAMPLE_BYTES)
    removed = removed_paths(EXAMPLE_BYTES, after)
    assert {p[:3] for p in removed} == {("report", "summary", "external_user_data")}
    assert b"carmen@example.com" not in after


def _hostile(envelope: dict[str, Any]) -> None:
    """Null, absent and mistyped parts, as Alice's SDK accepts (or the model tolerates) them."""
    report = envelope["report"]
    report["summary"]["devices"] = None
    report["summary"]["user_data"] = None
    report["events"][0]["device"] = None
    del report["events"][1]["device"]
    report["other_trusted_documents"] = None
    report["selfies"][0]["media"] = None
    first, second = report["documents"]
    first["sides"]["back"] = None
    first["sides"]["front"]["media"]["cropped_thumbnail"] = None
    first["sides"]["front"]["fields"].append({"name": "id_number", "value": None})
    first["sides"]["front"]["fields"].append({"name": "mrz"})
    first["summary_fields"] = None
    second["sides"] = None
    second["summary_fields"].append({"name": "passport_number", "value": 123456789})


def test_null_and_absent_parts_are_skipped_and_the_result_validates() -> None:
    """Null sides, media, media entries, devices, field lists and values, fields without a
    name and a number sent as a number: every rule passes over them; the report validates."""
    envelope = json.loads(EXAMPLE_BYTES)
    _hostile(envelope)
    body = json.dumps(envelope, ensure_ascii=False).encode()
    after = Minimiser(RULES).body(body)
    parsed = parse_report(after, expected_user_id=envelope["report"]["user_id"])
    assert [f.value for f in parsed.report.documents[1].summary_fields][-1] == "6789"
    assert b"/download" not in after
    assert b'"ip"' not in after
    again = Minimiser(RULES).body(after)
    assert again is after  # idempotent: nothing left to remove


def test_a_field_without_a_name_is_passed_over() -> None:
    """A field object with no name (the model refuses it later) does not stop the walk."""
    envelope = json.loads(EXAMPLE_BYTES)
    envelope["report"]["summary"]["user_data"].insert(0, {"value": "no name"})
    after = Minimiser(RULES).body(json.dumps(envelope).encode())
    assert json.loads(after)["report"]["summary"]["user_data"][0] == {"value": "no name"}
    assert field_values(after, "id_number") == ["999R"] * 5


def test_a_report_without_the_parts_is_kept_byte_for_byte() -> None:
    """A report holding no part the rules name (early in onboarding) is the same bytes."""
    body = json.dumps(
        {"report": {"id": USER_ID, "user_id": USER_ID, "summary": None, "selfies": None}}
    ).encode()
    assert Minimiser(RECOMMENDED_RULES).body(body) is body


@pytest.mark.parametrize(
    "body", [b"not json", b"[1, 2]", b'{"report": null}', b'{"other": {}}', b"\xff\xfe"]
)
def test_a_body_that_is_not_a_report_is_left_for_validation(body: bytes) -> None:
    """Not JSON, or no report object: returned as is, and validation refuses it as before."""
    assert Minimiser(RECOMMENDED_RULES).body(body) is body
    with pytest.raises(InvalidReport):
        parse_report(body)


def test_numbers_and_text_survive_re_encoding() -> None:
    """Re-encoding keeps non-ASCII text, big integers and NaN as they were written (so that
    validation and PostgreSQL judge them as before)."""
    envelope = json.loads(EXAMPLE_BYTES)
    sides = envelope["report"]["documents"][0]["sides"]["front"]
    sides["forensics_scores"] = {"big": 123456789012345678901234567890}
    body = json.dumps(envelope, ensure_ascii=False).encode().replace(b'"big"', b'"nan": NaN, "big"')
    after = Minimiser(["media_links"]).body(body)
    assert b'"nan":NaN' in after
    assert b"123456789012345678901234567890" in after
    assert "ESPAÑOLA".encode() in after


def test_a_report_nested_beyond_what_validation_reads_is_refused() -> None:
    """A report nested too deep to be written back (and to be validated) is refused, never
    stored whole."""
    envelope = json.loads(EXAMPLE_BYTES)
    deep: list[Any] = []
    envelope["report"]["selfies"][0]["unknown"] = deep
    for _ in range(300):
        deep.append([])
        deep = deep[0]
    body = json.dumps(envelope).encode()
    with pytest.raises(InvalidReport, match="not encodable"):
        Minimiser(RECOMMENDED_RULES).body(body)
    with pytest.raises(InvalidReport, match="recursion limit"):
        parse_report(body)


def _refresh_links(body: bytes, signature: str) -> bytes:
    return body.replace(b'/download"', f'/download?sig={signature}"'.encode())


@pytest.mark.parametrize(("label", "body"), BODIES[:3], ids=LABELS[:3])
def test_a_refreshed_media_link_leaves_the_minimised_report_equal(label: str, body: bytes) -> None:
    """Two fetches that differ only in their media links minimise to the same bytes (hence the
    same content hash); without the rule they differ."""
    first, second = _refresh_links(body, "a1"), _refresh_links(body, "b2")
    assert first != second
    minimiser = Minimiser(RECOMMENDED_RULES)
    assert minimiser.body(first) == minimiser.body(second)
    assert Minimiser(["mrz"]).body(first) != Minimiser(["mrz"]).body(second)


def test_an_invalid_report_reaches_the_quarantine_minimised() -> None:
    """A report that fails validation carries its minimised body (no links) to the quarantine."""
    envelope = json.loads(EXAMPLE_BYTES)
    envelope["report"]["id"] = "not-a-uuid"
    body = json.dumps(envelope).encode()
    with pytest.raises(InvalidReport) as raised:
        read_report(body, user_id=envelope["report"]["user_id"], minimiser=Minimiser(RULES))
    quarantined = raised.value.body
    assert quarantined is not None
    assert b"/download" not in quarantined
    assert b'"not-a-uuid"' in quarantined


def test_read_report_stores_what_it_validated() -> None:
    """`read_report` validates the minimised body and hands it on as the body to store."""
    parsed = read_report(
        EXAMPLE_BYTES,
        user_id=json.loads(EXAMPLE_BYTES)["report"]["user_id"],
        minimiser=Minimiser(RECOMMENDED_RULES),
    )
    assert parsed.raw == Minimiser(RECOMMENDED_RULES).body(EXAMPLE_BYTES)
    media = parsed.report.selfies[0].media
    assert {name: m.href for name, m in media.items()} == dict.fromkeys(media)
    assert {m.extension for m in media.values()} == {"mp4", "jpg"}

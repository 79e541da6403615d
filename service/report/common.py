"""Report objects shared by several parts of the report: checks, fields, devices and media."""

from __future__ import annotations

from pydantic import ConfigDict, Field

from service.report.base import AliceModel, FieldScore, NullableDict, NullableList, Score


class Check(AliceModel):
    """One examined condition: `value` 0-100 (>= 50 passes) or null when it does not apply."""

    key: str = Field(description="Check identifier; an open set (see constants).")
    value: Score | None = None
    detail: str | None = None


class DocumentField(AliceModel):
    """One piece of extracted information (OCR, MRZ, NFC), e.g. `first_name` or `id_number`."""

    # Values are text; a number sent where text was expected is kept as its text form rather
    # than failing the whole report.
    model_config = ConfigDict(coerce_numbers_to_str=True)

    name: str
    value: str | None = None
    # Alice documents an integer without a range and the SDK an unbounded `Optional[int]`: no
    # 0-100 rule here (unlike checks and face scores, where Alice documents it).
    score: FieldScore | None = None
    checks: NullableList[Check] = Field(default_factory=list)


class Device(AliceModel):
    """The device a user onboarded with, or on which an event occurred."""

    agent: str | None = None
    agent_version: str | None = None
    ip: str | None = None
    model: str | None = None
    platform: str | None = None
    platform_version: str | None = None


class BoundingBox(AliceModel):
    """The smallest axis-aligned rectangle around an object found in an image (pixels)."""

    x: int | None = None
    y: int | None = None
    width: int | None = None
    height: int | None = None


class Href(AliceModel):
    """One media resource: its download link, extension and the regions found in it."""

    # Alice always sends it; a stored report minimised by `media_links` (service/minimise/)
    # has none, and must still read.
    href: str | None = None
    extension: str | None = None
    objects: NullableDict[BoundingBox] = Field(default_factory=dict)

"""Applying the minimisation rules: one pass over the parsed report, then its bytes. Pure.

`Minimiser.body(raw)` turns the body Alice sent into the body the service keeps: parsed once,
the named parts removed in place by a walk that visits only where they live, and written back
compactly only when something was removed. Everything else is kept as parsed: key order,
unknown keys, text, numbers (floats in their shortest round-trip form, big integers exactly).
A body with nothing to remove is returned as the same bytes object, untouched; so is a body
that is not a JSON object with a `report` object, which validation then refuses.

orjson parses and writes (its `dumps` costs a quarter of pydantic-core's `to_json`, and the
transform runs on every changed report: `python -m bench.minimise_cost`). What orjson refuses
but JSON validation accepts (NaN, integers beyond 64 bits) goes through pydantic-core's parser,
the one validation uses, and is written back as it was written (`NaN` stays `NaN`, for
validation and PostgreSQL to judge as before).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from typing import Any, Final

import orjson
import pydantic_core

from service.errors import InvalidReport
from service.minimise.rules import (
    ADDRESSES,
    BIRTH_DATES,
    BOUNDING_BOXES,
    DEVICE_IPS,
    DOCUMENT_NUMBER_FIELDS,
    DOCUMENT_NUMBER_LAST4,
    EXTERNAL_USER_DATA,
    KEEP_LAST,
    MEDIA_LINKS,
    MRZ,
    RULES,
)

_DROP: Final = "drop"
_LAST4: Final = "last4"


def _dicts(value: Any) -> Iterator[dict[str, Any]]:
    """The objects of a list (a null, absent or mistyped list holds none)."""
    if isinstance(value, list):
        for item in value:
            if isinstance(item, dict):
                yield item


class Minimiser:
    """Removes the parts the rules name from reports; with no rule, does nothing at all."""

    def __init__(self, rules: Iterable[str]) -> None:
        self.rules = frozenset(rules)
        unknown = sorted(self.rules - set(RULES))
        if unknown:
            raise ValueError(f"unknown minimisation rules {unknown}")
        self._href = MEDIA_LINKS in self.rules
        self._objects = BOUNDING_BOXES in self.rules
        self._ip = DEVICE_IPS in self.rules
        self._external = EXTERNAL_USER_DATA in self.rules
        # Document field name -> what happens to its value.
        self._fields: dict[str, str] = {}
        if DOCUMENT_NUMBER_LAST4 in self.rules:
            self._fields |= dict.fromkeys(DOCUMENT_NUMBER_FIELDS, _LAST4)
        for rule, name in ((MRZ, "mrz"), (ADDRESSES, "address"), (BIRTH_DATES, "birth_date")):
            if rule in self.rules:
                self._fields[name] = _DROP

    def body(self, raw: bytes) -> bytes:
        """The body to hash and store: `raw` minimised (or `raw` itself if nothing goes)."""
        if not self.rules:
            return raw
        fast = True
        try:
            envelope = orjson.loads(raw)
        except orjson.JSONDecodeError:
            fast = False
            try:
                envelope = pydantic_core.from_json(raw, allow_inf_nan=True)
            except ValueError:
                return raw  # not JSON: validation refuses it (same parser), nothing is stored
        report = envelope.get("report") if isinstance(envelope, dict) else None
        if not isinstance(report, dict) or not self.report(report):
            return raw
        if fast:
            with contextlib.suppress(orjson.JSONEncodeError):  # nested too deep for orjson
                return orjson.dumps(envelope)
        try:
            return pydantic_core.to_json(envelope, inf_nan_mode="constants")
        except ValueError:
            # Parsed but not writable again (nesting, text): refused rather than stored whole.
            raise InvalidReport("body: not encodable after minimisation") from None

    def report(self, report: dict[str, Any]) -> bool:
        """Remove the named parts from a parsed report object, in place; whether any was."""
        changed = False
        summary = report.get("summary")
        if isinstance(summary, dict):
            changed |= self._fields_of(summary.get("user_data"))
            if self._ip:
                changed |= self._ips_of(_dicts(summary.get("devices")))
            if self._external and summary.get("external_user_data") is not None:
                del summary["external_user_data"]
                changed = True
        for selfie in _dicts(report.get("selfies")):
            changed |= self._media_of(selfie.get("media"))
        for document in _dicts(report.get("documents")):
            changed |= self._fields_of(document.get("summary_fields"))
            sides = document.get("sides")
            if isinstance(sides, dict):
                for side in sides.values():
                    if isinstance(side, dict):
                        changed |= self._fields_of(side.get("fields"))
                        changed |= self._media_of(side.get("media"))
        for trusted in _dicts(report.get("other_trusted_documents")):
            changed |= self._media_of(trusted.get("media"))
        if self._ip:
            devices = (event.get("device") for event in _dicts(report.get("events")))
            changed |= self._ips_of(d for d in devices if isinstance(d, dict))
        return changed

    def _fields_of(self, fields: Any) -> bool:
        if not self._fields or not isinstance(fields, list):
            return False
        changed = False
        actions = self._fields
        for field in fields:
            # The hot loop (every field of every side): no generator, one lookup per field.
            name = field.get("name") if isinstance(field, dict) else None
            action = actions.get(name) if isinstance(name, str) else None
            if action is None:
                continue
            value = field.get("value")
            if action == _DROP:
                if value is not None:
                    del field["value"]
                    changed = True
                continue
            # The model reads a number sent as a field value as its text: so is its tail.
            if isinstance(value, int) and not isinstance(value, bool):
                value = str(value)
            if isinstance(value, str) and len(value) > KEEP_LAST:
                field["value"] = value[-KEEP_LAST:]
                changed = True
        return changed

    def _media_of(self, media: Any) -> bool:
        if not (self._href or self._objects) or not isinstance(media, dict):
            return False
        changed = False
        for entry in media.values():
            if not isinstance(entry, dict):
                continue  # a null entry (the SDK allows them in sides and trusted documents)
            if self._href and "href" in entry:
                del entry["href"]
                changed = True
            if self._objects and entry.get("objects"):
                del entry["objects"]
                changed = True
        return changed

    @staticmethod
    def _ips_of(devices: Iterable[dict[str, Any]]) -> bool:
        changed = False
        for device in devices:
            if device.get("ip") is not None:
                del device["ip"]
                changed = True
        return changed

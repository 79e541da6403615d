"""Minimisation on the real stack: a stored snapshot holds no media link, IP or full document
number under the default REPORT_MINIMISATION, and a report that differs from the stored one
only in its (re-signed) media links stores no snapshot and derives nothing."""

from __future__ import annotations

import itertools
import json
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import asyncpg
import pytest
from aiohttp import web

from emulator import AliceEmulator
from service.crypto.reader import event_of, report_of
from service.minimise import RECOMMENDED_RULES as RECOMMENDED
from tests.integration.pipeline.conftest import (
    Producer,
    ReaderFactory,
    SettingsFactory,
    Topics,
    data_keys_of,
    eventually,
    running,
)

NUMBER_FIELDS = {"id_number", "passport_number", "license_number", "support_number"}


class SigningProxy:
    """Alice as a CDN would front it: every report served with freshly signed media links.

    Forwards every request to the emulator; in each report body, each media link gets a new
    `?signature=` query, so no two report bodies are alike while nothing else changes.
    """

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.reports: list[bytes] = []
        self._signatures = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self.url = ""

    async def _forward(self, request: web.Request) -> web.Response:
        assert self._session is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() != "host"}
        async with self._session.request(
            request.method, self.upstream + request.rel_url.path_qs, headers=headers
        ) as upstream:
            body = await upstream.read()
            status, content_type = upstream.status, upstream.content_type
        if request.path.endswith("/user/report") and status == 200:
            signed = f'/download?signature={next(self._signatures)}"'.encode()
            body = body.replace(b'/download"', signed)
            self.reports.append(body)
        return web.Response(body=body, status=status, content_type=content_type)

    async def start(self) -> None:
        """Listen on a free loopback port."""
        self._session = aiohttp.ClientSession()
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._forward)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()


@pytest.fixture
async def proxy(emulator: AliceEmulator) -> AsyncIterator[SigningProxy]:
    """A signing proxy in front of the test's emulator."""
    signing = SigningProxy(emulator.base_url)
    await signing.start()
    yield signing
    await signing.stop()


def _objects(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for child in node.values():
            yield from _objects(child)
    elif isinstance(node, list):
        for child in node:
            yield from _objects(child)


async def _user_outcome(pg: asyncpg.Connection, message_id: str) -> str | None:
    outcome = await pg.fetchval("SELECT outcome FROM inbox WHERE message_id = $1", message_id)
    return None if outcome is None else str(outcome)


async def test_a_stored_snapshot_is_minimised_and_a_re_signed_report_is_unchanged(
    make_settings: SettingsFactory,
    emulator: AliceEmulator,
    proxy: SigningProxy,
    producer: Producer,
    read_topic: ReaderFactory,
    topics: Topics,
    pg: asyncpg.Connection,
) -> None:
    """Under the recommended rules: the snapshot and user events hold no media link or IP, every
    document number keeps four characters, no MRZ; the second fetch, whose media links alone
    changed, is `unchanged`: no second snapshot, no outbox row, no derived event on the topic
    (a sentinel user's events, published after it, arrive first)."""
    user_id, sentinel = str(uuid.uuid4()), str(uuid.uuid4())
    emulator.create_user(user_id, state="TO_REVIEW", features=["several_devices"])
    emulator.create_user(sentinel, state="TO_REVIEW")
    output = await read_topic(topics.output)
    async with running(make_settings(alice_api_url=proxy.url, report_minimisation=RECOMMENDED)):
        await producer.send({"user_id": user_id, "event_id": "min-1"})
        await eventually(lambda: _stored_outcome(pg, "event:min-1"))
        announced = await pg.fetchval("SELECT count(*) FROM outbox WHERE user_id = $1", user_id)
        assert announced > 0

        await producer.send({"user_id": user_id, "event_id": "min-2"})

        async def second_recorded() -> bool:
            return await _user_outcome(pg, "event:min-2") is not None

        await eventually(second_recorded)
        assert await _user_outcome(pg, "event:min-2") == "unchanged"
        await producer.send({"user_id": sentinel, "event_id": "min-sentinel"})

        async def sentinel_published() -> bool:
            return any(r.key == sentinel.encode() for r in output.records)

        await eventually(sentinel_published)

    assert len(proxy.reports) == 3  # user twice, sentinel once
    first, second = proxy.reports[0], proxy.reports[1]
    assert first != second
    unsigned = re.compile(rb"\?signature=\d+")
    assert unsigned.sub(b"", first) == unsigned.sub(b"", second)  # only the links differ
    snapshots = await pg.fetch(
        "SELECT user_id, report, report_sealed FROM report_snapshots WHERE user_id = $1", user_id
    )
    assert len(snapshots) == 1
    keys = await data_keys_of(pg, snapshots)
    stored = report_of(snapshots[0], keys)
    sent = json.loads(first)["report"]
    assert stored["id"] == sent["id"]
    assert [e["id"] for e in stored["events"]] == [e["id"] for e in sent["events"]]
    objects = list(_objects(stored))
    assert not [o for o in objects if "href" in o or "ip" in o]
    assert any("extension" in o for o in objects)  # the media entries stay, without links
    numbers = [o["value"] for o in objects if o.get("name") in NUMBER_FIELDS]
    assert numbers
    assert all(len(value) == 4 for value in numbers)
    assert not [o for o in objects if o.get("name") == "mrz" and "value" in o]
    assert b"198.51.100.77" in first  # the second device's IP was sent, and is stored nowhere
    events = await pg.fetch(
        "SELECT user_id, event, event_sealed FROM user_events WHERE user_id = $1", user_id
    )
    assert events
    assert not [e for e in events if "ip" in event_of(e, keys).get("device", {})]
    assert await pg.fetchval("SELECT count(*) FROM outbox WHERE user_id = $1", user_id) == (
        announced
    )
    published = [r for r in output.records if r.key == user_id.encode()]
    assert len(published) == announced


async def _stored_outcome(pg: asyncpg.Connection, message_id: str) -> bool:
    return await _user_outcome(pg, message_id) == "stored"


async def test_without_minimisation_a_re_signed_report_is_a_new_snapshot(
    make_settings: SettingsFactory,
    emulator: AliceEmulator,
    proxy: SigningProxy,
    producer: Producer,
    pg: asyncpg.Connection,
) -> None:
    """REPORT_MINIMISATION=none: the whole report is stored (links and all), and a report
    whose links alone changed is a new snapshot, though it derives nothing."""
    user_id = str(uuid.uuid4())
    emulator.create_user(user_id, state="TO_REVIEW")
    async with running(make_settings(alice_api_url=proxy.url, report_minimisation=())):
        await producer.send({"user_id": user_id, "event_id": "whole-1"})
        await eventually(lambda: _stored_outcome(pg, "event:whole-1"))
        announced = await pg.fetchval("SELECT count(*) FROM outbox WHERE user_id = $1", user_id)
        await producer.send({"user_id": user_id, "event_id": "whole-2"})
        await eventually(lambda: _stored_outcome(pg, "event:whole-2"))
    rows = await pg.fetch(
        "SELECT user_id, report, report_sealed FROM report_snapshots WHERE user_id = $1"
        " ORDER BY id",
        user_id,
    )
    assert len(rows) == 2
    keys = await data_keys_of(pg, rows)
    reports = [json.dumps(report_of(row, keys)) for row in rows]
    assert "signature=1" in reports[0]
    assert "signature=2" in reports[1]
    assert await pg.fetchval("SELECT count(*) FROM outbox WHERE user_id = $1", user_id) == (
        announced
    )


@pytest.fixture
async def only_this_tests_users(pg: asyncpg.Connection) -> AsyncIterator[None]:
    """Users of earlier tests (one database per session) are kept out of reconciliation."""
    await pg.execute(
        "UPDATE users SET reconcile_state = 'other_test' WHERE reconcile_state IS NULL"
    )
    yield
    await pg.execute("UPDATE users SET reconcile_state = NULL WHERE reconcile_state = 'other_test'")


@pytest.mark.usefixtures("only_this_tests_users")
async def test_the_reconciler_hashes_the_minimised_report_too(
    make_settings: SettingsFactory,
    emulator: AliceEmulator,
    proxy: SigningProxy,
    producer: Producer,
    pg: asyncpg.Connection,
) -> None:
    """The reconciler's full-report checks of a user whose report only gets re-signed links
    record `unchanged` under their reconcile ids: one snapshot, nothing more in the outbox."""
    user_id = str(uuid.uuid4())
    emulator.create_user(user_id, state="TO_REVIEW")
    settings = make_settings(
        alice_api_url=proxy.url,
        report_minimisation=RECOMMENDED,
        reconcile_enabled=True,
        reconcile_interval_s=1.0,
        reconcile_backoff_s=(1.0,),
        reconcile_full_report_every=1,
    )
    async with running(settings):
        await producer.send({"user_id": user_id, "event_id": "rec-1"})
        await eventually(lambda: _stored_outcome(pg, "event:rec-1"))
        announced = await pg.fetchval("SELECT count(*) FROM outbox WHERE user_id = $1", user_id)

        async def checked_twice() -> bool:
            outcomes = await pg.fetch(
                "SELECT outcome FROM inbox WHERE message_id LIKE $1", f"reconcile:{user_id}:%"
            )
            return len(outcomes) >= 2

        await eventually(checked_twice, timeout=60.0)
    outcomes = await pg.fetch(
        "SELECT outcome FROM inbox WHERE message_id LIKE $1", f"reconcile:{user_id}:%"
    )
    assert {o["outcome"] for o in outcomes} == {"unchanged"}
    assert len(proxy.reports) >= 3  # the input's fetch and two checks, each signed anew
    assert len(set(proxy.reports)) == len(proxy.reports)
    count = await pg.fetchval("SELECT count(*) FROM report_snapshots WHERE user_id = $1", user_id)
    assert count == 1
    assert await pg.fetchval("SELECT count(*) FROM outbox WHERE user_id = $1", user_id) == (
        announced
    )

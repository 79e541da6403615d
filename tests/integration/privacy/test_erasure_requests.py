"""Erasure asked for on the input topic, the tombstone rule for later messages, and erasure
racing a message of the same user that is in flight."""

from __future__ import annotations

import asyncio
import json
import uuid

import asyncpg
from aiohttp import web

from emulator import AliceEmulator
from service.app import Service
from service.privacy.erasure import Erasure, ErasureRequest
from service.store.database import Database
from tests.integration.pipeline.conftest import (
    AliceGateway,
    Producer,
    ReaderFactory,
    SettingsFactory,
    Topics,
    eventually,
    metric,
    running,
    test_data_keys,
)
from tests.integration.privacy.conftest import traces

ERASED = b"onboarding.user.erased"


async def _snapshots(pg: asyncpg.Connection, user_id: str) -> int:
    return int(
        await pg.fetchval("SELECT count(*) FROM report_snapshots WHERE user_id = $1", user_id)
    )


async def _outbox_types(pg: asyncpg.Connection, user_id: str) -> list[str]:
    rows = await pg.fetch(
        "SELECT event_type FROM outbox WHERE user_id = $1 OR key = $2", user_id, user_id.encode()
    )
    return [row["event_type"] for row in rows]


def _processed(service: Service) -> float:
    """Messages processed to their end so far (the scheduler orders per user, not per
    partition: waiting for a later message of another user would prove nothing)."""
    outcomes = ("stored", "unchanged", "duplicate", "erased", "dead_lettered")
    return sum(metric(service, "ingestor_messages_total", outcome=o) for o in outcomes)


async def _until_processed(service: Service, count: int) -> None:
    async def done() -> bool:
        return _processed(service) >= count

    await eventually(done)


async def test_erasure_requests_on_the_input_topic_and_the_tombstone(
    make_settings: SettingsFactory,
    emulator: AliceEmulator,
    producer: Producer,
    read_topic: ReaderFactory,
    topics: Topics,
    pg: asyncpg.Connection,
) -> None:
    """A plain JSON erasure request and a CloudEvents one each erase their user, are audited
    with the topic as actor and announced once (a redelivery is a duplicate); a later
    onboarding-completed message is refused while the tombstone holds and leaves no row (nor
    a quarantine row when Alice no longer knows the user), and a user whose tombstone expired
    is processed as new."""
    plain, binary, expired = (str(uuid.uuid4()) for _ in range(3))
    for user in (plain, binary, expired):
        emulator.create_user(user)
    output = await read_topic(topics.output)
    key = b"same-partition"  # one partition: the order of the messages is the order of work
    # An erasure of `expired` two days ago: its tombstone (24 h) no longer holds.
    await pg.execute(
        "INSERT INTO privacy_audit (action, actor, subject, at)"
        " VALUES ('erase', 'test', $1, now() - interval '2 days')",
        expired,
    )
    async with running(make_settings()) as service:
        for user in (plain, binary):
            await producer.send({"user_id": user, "event_id": f"c-{user}"}, key=key)
        await _until_processed(service, 2)
        assert await _snapshots(pg, plain) == await _snapshots(pg, binary) == 1

        request = {"type": "user.erasure_requested", "user_id": plain, "event_id": f"x-{plain}"}
        await producer.send(request, key=key)
        await producer.send(request, key=key)  # a redelivery: the inbox says duplicate
        await producer.send(
            {"user_id": binary},
            key=key,
            headers=[
                ("ce_specversion", b"1.0"),
                ("ce_id", f"x-{binary}".encode()),
                ("ce_source", b"urn:test"),
                ("ce_type", b"onboarding.user.erasure_requested"),
            ],
        )
        # Later onboarding-completed messages: refused (tombstone), and processed as new.
        await producer.send({"user_id": plain, "event_id": f"later-{plain}"}, key=key)
        await producer.send({"user_id": expired, "event_id": f"later-{expired}"}, key=key)
        # Deleted at Alice too: the later message's 404 is not quarantined either.
        emulator.delete_user(binary)
        await producer.send({"user_id": binary, "event_id": f"later-{binary}"}, key=key)
        await _until_processed(service, 8)
        assert _processed(service) == 8
        assert metric(service, "ingestor_messages_total", outcome="erased") == 4
        assert await _snapshots(pg, expired) == 1
        for user in (plain, binary):
            # Only the audit row and the erasure notice (until published) name the user.
            assert {table for table, _ in await traces(pg, {user})} == {"privacy_audit", "outbox"}
            assert await _outbox_types(pg, user) == [ERASED.decode()]

        async def announced() -> bool:
            erased = [r for r in output.records if r.headers.get("ce_type") == ERASED]
            return {r.key for r in erased} == {plain.encode(), binary.encode()}

        await eventually(announced)
    erased = [r for r in output.records if r.headers.get("ce_type") == ERASED]
    assert len(erased) == 2  # the redelivered request announced nothing more
    actors = await pg.fetch(
        "SELECT subject, actor, request_id FROM privacy_audit WHERE subject = ANY($1::text[])",
        [plain, binary],
    )
    assert {(a["subject"], a["actor"]) for a in actors} == {
        (plain, f"kafka:{topics.input}"),
        (binary, f"kafka:{topics.input}"),
    }
    assert {a["request_id"] for a in actors} == {f"event:x-{plain}", f"ce:8:urn:test:x-{binary}"}


class HoldingGateway(AliceGateway):
    """The gateway, holding one user's report answer until released (a fetch in flight)."""

    def __init__(self, upstream: str, user_id: str) -> None:
        super().__init__(upstream)
        self.held_user = user_id
        self.arrived = asyncio.Event()
        self.release = asyncio.Event()

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        answer = await super()._forward(request)
        if request.path == "/user/report" and self.report_calls.get(self.held_user, 0) >= 2:
            self.arrived.set()
            await self.release.wait()
        return answer


async def test_erasure_racing_a_message_in_flight_leaves_nothing(
    make_settings: SettingsFactory,
    emulator: AliceEmulator,
    producer: Producer,
    topics: Topics,
    pg: asyncpg.Connection,
) -> None:
    """A report fetched before the erasure and recorded after it is refused under the user's
    row lock: nothing of the user is left, the message is acknowledged as erased, and erasing
    again is a no-op that succeeds."""
    user_id = str(uuid.uuid4())
    emulator.create_user(user_id, state="TO_REVIEW")
    gateway = HoldingGateway(emulator.base_url, user_id)
    await gateway.start()
    settings = make_settings(alice_api_url=gateway.base_url, alice_read_timeout_s=30.0)
    database = Database.from_settings(settings)
    erasure = Erasure(database=database, output_topic=topics.output, key_shredder=test_data_keys())
    try:
        async with running(settings) as service:
            await producer.send({"user_id": user_id, "event_id": "first"})

            async def stored() -> bool:
                return await _snapshots(pg, user_id) == 1

            await eventually(stored)
            emulator.set_user_state(user_id, "ACCEPTED")  # a changed report, to be stored
            await producer.send({"user_id": user_id, "event_id": "in-flight"})
            async with asyncio.timeout(30):
                await gateway.arrived.wait()  # the report is fetched, its answer held
            first = await erasure.erase(
                ErasureRequest(user_id=user_id, request_id="race", actor="test")
            )
            assert first.counts["report_snapshots"] == 1
            gateway.release.set()

            async def refused() -> bool:
                return metric(service, "ingestor_messages_total", outcome="erased") == 1

            await eventually(refused)
            again = await erasure.erase(
                ErasureRequest(user_id=user_id, request_id="race", actor="test")
            )
            assert sum(again.counts.values()) == 0
            assert again.notice_id == first.notice_id
        found = await traces(pg, {user_id})
        # Two audit rows; the notice (one row: same request, same id) until it is published.
        assert found.pop(("privacy_audit", "subject")) == 2
        assert set(found) <= {
            ("outbox", "key"),
            ("outbox", "payload"),
            ("outbox", "headers"),
            ("outbox", "user_id"),
        }
        notices = await pg.fetch("SELECT event_type FROM outbox WHERE user_id = $1", user_id)
        assert [n["event_type"] for n in notices] == [ERASED.decode()]
        counts = await pg.fetchval(
            "SELECT counts FROM privacy_audit WHERE subject = $1 ORDER BY id LIMIT 1", user_id
        )
        assert json.loads(counts)["users"] == 1
    finally:
        gateway.release.set()
        await database.aclose()
        await gateway.stop()

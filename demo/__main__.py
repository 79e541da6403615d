"""The demo: a handful of users move through onboarding; the service records and derives.

Starts the Alice emulator (in this process), a fresh database and fresh topics, runs the service
as a subprocess (`python -m service run`), publishes onboarding-completed events for five users
moving IN_PROGRESS -> TO_REVIEW -> ACCEPTED / REJECTED (carla's low liveness is flagged, then
cleared when her new selfie passes; ben uploads an expired passport, flagged `document_expired`;
one event is sent twice), waits until every message is processed; then one user is accepted at
Alice with no event at all (a passport added), and the reconciler notices it. Prints what was
stored and derived and dev's three-step history (`python -m service history`), stops
everything it started, and exits 0 (1 if anything did not add up).
Needs KAFKA_BOOTSTRAP_SERVERS and DATABASE_URL (`make demo` starts the local stack for them).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from emulator import AliceEmulator
from service.crypto.keyring import new_kek_text

# One key-encryption key per run: the service (and any restart of it) reads what it stored.
ENCRYPTION_KEYS = new_kek_text("demo")

API_KEY = "demo-api-key"
ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


class Demo:
    """One demo run: its database, topics, emulator and service process."""

    def __init__(self, bootstrap: str, database_url: str) -> None:
        run = uuid.uuid4().hex[:8]
        self.bootstrap = bootstrap
        self.base_url = database_url
        self.db_name = f"demo_{run}"
        self.database_url = f"{database_url.rpartition('/')[0]}/{self.db_name}"
        self.topics = {
            "KAFKA_INPUT_TOPIC": f"demo.{run}.onboarding.completed",
            "KAFKA_OUTPUT_TOPIC": f"demo.{run}.onboarding.state-changes",
            "KAFKA_DLQ_TOPIC": f"demo.{run}.onboarding.completed.dlq",
        }
        self.emulator = AliceEmulator(api_key=API_KEY, seed=2026)
        self.service: subprocess.Popen[bytes] | None = None
        self.log_path = Path(tempfile.gettempdir()) / f"alice-demo-{run}.log"
        self.sent = 0
        self.distinct: set[str] = set()

    async def setup(self) -> None:
        admin = await asyncpg.connect(_dsn(self.base_url))
        try:
            await admin.execute(f'CREATE DATABASE "{self.db_name}"')
        finally:
            await admin.close()
        env = {**os.environ, "DATABASE_URL": self.database_url}
        subprocess.run([sys.executable, "-m", "service", "migrate"], check=True, env=env, cwd=ROOT)
        await self.emulator.start(host="127.0.0.1", port=0)
        env.update(
            {
                **self.topics,
                "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
                "KAFKA_CREATE_TOPICS": "true",
                "KAFKA_TOPIC_PARTITIONS": "2",
                "KAFKA_GROUP_ID": f"demo-{self.db_name}",
                "ALICE_API_URL": self.emulator.base_url,
                "ALLOW_INSECURE_ALICE_URL": "true",  # the emulator serves http://127.0.0.1
                "ALICE_API_KEY": API_KEY,
                "ENCRYPTION_KEYS": ENCRYPTION_KEYS,  # encrypted, as in production
                "HTTP_PORT": str(_free_port()),
                "RELAY_POLL_INTERVAL_S": "0.2",
                # Short reconciler steps, so that a decision with no event shows up in seconds.
                "RECONCILE_INTERVAL_S": "1",
                "RECONCILE_BACKOFF_S": "2,4",
            }
        )
        with self.log_path.open("wb") as log:
            self.service = subprocess.Popen(
                [sys.executable, "-m", "service", "run"], env=env, cwd=ROOT, stdout=log, stderr=log
            )
        print(f"service started (pid {self.service.pid}); its JSON logs: {self.log_path}")

    async def teardown(self) -> None:
        if self.service is not None and self.service.poll() is None:
            self.service.send_signal(signal.SIGTERM)
            try:
                await asyncio.to_thread(self.service.wait, 30)
            except subprocess.TimeoutExpired:
                self.service.kill()
        await self.emulator.stop()
        admin = await asyncpg.connect(_dsn(self.base_url))
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')
        finally:
            await admin.close()

    async def processed(self) -> int:
        conn = await asyncpg.connect(_dsn(self.database_url))
        try:
            return int(
                await conn.fetchval(
                    "SELECT count(*) FROM inbox WHERE outcome <> 'processing'"
                    " AND topic <> 'reconcile'"  # the reconciler's own records
                )
            )
        except asyncpg.UndefinedTableError:
            return 0
        finally:
            await conn.close()

    async def publish(self, producer: AIOKafkaProducer, user_id: str, event_id: str) -> None:
        value = json.dumps({"user_id": user_id, "event_id": event_id}).encode()
        await producer.send_and_wait(self.topics["KAFKA_INPUT_TOPIC"], value, key=user_id.encode())

    async def wait_processed(self, expected: int, timeout: float = 60.0) -> None:
        async with asyncio.timeout(timeout):
            while await self.processed() < expected:
                if self.service is not None and self.service.poll() is not None:
                    raise RuntimeError(f"the service exited; see {self.log_path}")
                await asyncio.sleep(0.2)

    async def scenario(self) -> dict[str, str]:
        users = {name: str(uuid.uuid4()) for name in ("ana", "ben", "carla", "dev", "eva")}
        emu = self.emulator
        for user_id in users.values():
            emu.create_user(user_id, state="IN_PROGRESS")
        emu.set_scores(users["carla"], liveness=12.5)  # below the threshold of 50
        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, enable_idempotence=True)
        await producer.start()
        # Topics are created by the service at start-up; wait for it before publishing.
        await self._wait_for_topic()
        steps: list[tuple[str, str | None, str]] = [
            ("ana", None, "e1"),
            ("ben", None, "e1"),
            ("carla", None, "e1"),
            ("dev", None, "e1"),
            ("eva", None, "e1"),
            ("ana", "TO_REVIEW", "e2"),
            ("ben", "TO_REVIEW", "e2"),
            ("carla", "TO_REVIEW", "e2"),
            ("eva", "TO_REVIEW", "e2"),
            ("ana", "ACCEPTED", "e3"),
            ("ben", "REJECTED", "e3"),
            ("carla", "REJECTED", "e3"),
            ("dev", "TO_REVIEW", "e2"),
            ("dev", "TO_REVIEW", "e2"),  # the same event delivered twice
            ("eva", "ACCEPTED", "e3"),
        ]
        try:
            for name, state, event in steps:
                if state is not None:
                    emu.set_user_state(users[name], state)
                if name == "eva" and state == "ACCEPTED":
                    emu.add_document(users["eva"], "passport", issuing_country="PRT")
                if name == "carla" and state == "TO_REVIEW":  # a new selfie that passes
                    emu.set_scores(users["carla"], liveness=91.0)
                if name == "ben" and state == "TO_REVIEW":
                    emu.add_document(users["ben"], "passport", expired=True)
                await self.publish(producer, users[name], f"{name}-{event}")
                self.sent += 1
                self.distinct.add(f"{name}-{event}")
                if len(self.distinct) == self.sent:
                    await self.wait_processed(len(self.distinct))
                else:  # the duplicate: nothing new to wait for; give it time to be skipped
                    await asyncio.sleep(1.0)
            # A reviewer accepts dev in Alice's dashboard, with a passport added: no event
            # reaches Kafka.
            emu.add_document(users["dev"], "passport", issuing_country="ESP")
            emu.set_user_state(users["dev"], "ACCEPTED")
            print("dev accepted at Alice with no event; waiting for the reconciler ...")
            await self.wait_state(users["dev"], "ACCEPTED")
        finally:
            await producer.stop()
        return users

    async def wait_state(self, user_id: str, state: str, timeout: float = 60.0) -> None:
        conn = await asyncpg.connect(_dsn(self.database_url))
        try:
            async with asyncio.timeout(timeout):
                query = "SELECT state FROM users WHERE user_id = $1"
                while await conn.fetchval(query, user_id) != state:
                    await asyncio.sleep(0.2)
        finally:
            await conn.close()

    async def _wait_for_topic(self) -> None:
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap)
        await consumer.start()
        try:
            async with asyncio.timeout(60):
                while self.topics["KAFKA_INPUT_TOPIC"] not in await consumer.topics():
                    await asyncio.sleep(0.3)
        finally:
            await consumer.stop()

    async def history(self, user_id: str) -> bool:
        """Print `python -m service history` of the user; whether it shows the three steps."""
        env = {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "ALICE_API_KEY": "",
            "ENCRYPTION_KEYS": ENCRYPTION_KEYS,
        }
        shown = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "service", "history", user_id],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        print()
        print(f"$ python -m service history {user_id}   (dev)")
        print(shown.stdout.rstrip() or shown.stderr.rstrip())
        return (
            shown.returncode == 0
            and "#3 " in shown.stdout
            and "via reconciler (no event)" in shown.stdout
            and "state: TO_REVIEW -> ACCEPTED" in shown.stdout
            and "document added:" in shown.stdout.split("#3 ", 1)[-1]
        )

    async def derived(self, expected: int) -> list[dict[str, Any]]:
        consumer = AIOKafkaConsumer(
            self.topics["KAFKA_OUTPUT_TOPIC"],
            bootstrap_servers=self.bootstrap,
            auto_offset_reset="earliest",
        )
        await consumer.start()
        out: list[dict[str, Any]] = []
        try:
            async with asyncio.timeout(30):
                while len(out) < expected:
                    batch = await consumer.getmany(timeout_ms=500)
                    for records in batch.values():
                        for r in records:
                            headers = {k: v.decode() for k, v in r.headers}
                            out.append({**json.loads(r.value), "ce_type": headers["ce_type"]})
        finally:
            await consumer.stop()
        return out

    async def report(self, users: dict[str, str]) -> bool:
        conn = await asyncpg.connect(_dsn(self.database_url))
        try:
            outbox = int(
                await conn.fetchval("SELECT count(*) FROM outbox WHERE event_type <> 'dead_letter'")
            )
            events = await self.derived(outbox)
            names = {v: k for k, v in users.items()}
            print()
            print(
                f"{'user':<6} {'state':<10} {'snapshots':>9} {'events':>7} {'messages':>8} {'duplicates':>10} {'unchanged':>9}  liveness"
            )
            for name, user_id in users.items():
                row = await conn.fetchrow(
                    "SELECT u.state,"
                    " (SELECT count(*) FROM report_snapshots s WHERE s.user_id = u.user_id) snaps,"
                    " (SELECT count(*) FROM user_events e WHERE e.user_id = u.user_id) evs,"
                    " (SELECT count(*) FROM inbox i WHERE i.user_id = u.user_id"
                    " AND i.topic <> 'reconcile') msgs,"
                    " (SELECT count(*) FROM inbox i WHERE i.user_id = u.user_id AND outcome = 'duplicate') dups,"
                    " (SELECT count(*) FROM inbox i WHERE i.user_id = u.user_id AND outcome = 'unchanged') same,"
                    " (SELECT face_liveness FROM report_snapshots s WHERE s.id = u.last_snapshot_id) live"
                    " FROM users u WHERE u.user_id = $1",
                    user_id,
                )
                assert row is not None, f"user {name} was not stored"
                print(
                    f"{name:<6} {row['state']:<10} {row['snaps']:>9} {row['evs']:>7} {row['msgs']:>8}"
                    f" {row['dups']:>10} {row['same']:>9}  {row['live']}"
                )
            print()
            print(f"derived events on {self.topics['KAFKA_OUTPUT_TOPIC']} ({len(events)}):")
            for event in events:
                who = names.get(event["user_id"], "?")
                hidden = ("ce_type", "user_id", "report_id", "results")
                detail = {k: v for k, v in event.items() if k not in hidden}
                print(f"  {who:<6} {event['ce_type']:<32} {json.dumps(detail)}")
            reconciled = await conn.fetchval(
                "SELECT message_id FROM report_snapshots WHERE user_id = $1 AND state = 'ACCEPTED'",
                users["dev"],
            )
            print()
            print(f"dev's decision was recorded by {reconciled} (no input event)")
            history = await self.history(users["dev"])
            inbox = await conn.fetch(
                "SELECT outcome, count(*) n FROM inbox WHERE topic <> 'reconcile'"
                " GROUP BY outcome ORDER BY outcome"
            )
            print()
            print("messages by outcome: " + ", ".join(f"{r['outcome']}={r['n']}" for r in inbox))
            stored = {r["outcome"]: r["n"] for r in inbox}
            reasons = {(e["ce_type"], e.get("reason")) for e in events}
            print(
                "risks: "
                + ", ".join(f"{t.rsplit('.', 1)[-1]} {r}" for t, r in sorted(reasons) if r)
            )
            ok = (
                ("onboarding.risk.flagged", "document_expired") in reasons
                and ("onboarding.risk.cleared", "liveness_below_threshold") in reasons
                and sum(stored.values()) == len(self.distinct)  # the duplicate shares its id
                and stored.get("dead_lettered", 0) == 0
                and len(events) == outbox
                and len({json.dumps(e, sort_keys=True) for e in events}) == len(events)
                and str(reconciled).startswith(f"reconcile:{users['dev']}:")
                and history
                and any(
                    e["ce_type"] == "onboarding.user.state_changed"
                    and (e["user_id"], e["from"], e["to"])
                    == (users["dev"], "TO_REVIEW", "ACCEPTED")
                    for e in events
                )
            )
            print("demo: OK" if ok else "demo: FAILED (see above)")
            return ok
        finally:
            await conn.close()


async def main() -> int:
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    database_url = os.environ.get("DATABASE_URL")
    if not bootstrap or not database_url:
        print(
            "KAFKA_BOOTSTRAP_SERVERS and DATABASE_URL must be set: run `make demo`", file=sys.stderr
        )
        return 2
    demo = Demo(bootstrap, database_url)
    try:
        await demo.setup()
        users = await demo.scenario()
        ok = await demo.report(users)
    finally:
        await demo.teardown()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))

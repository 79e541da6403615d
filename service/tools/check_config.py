"""`check-config`: validate the settings and reach every dependency, one line per check.

    OK   settings
    OK   encryption keys: 2 KEK(s), k2 active
    OK   kafka: 127.0.0.1:9092 answers (1 broker)
    FAIL kafka topic KAFKA_DLQ_TOPIC=alice.onboarding.completed.dlq: does not exist
    OK   database: 127.0.0.1:5432/alice_report_ingestor answers
    OK   migrations: at head 0002
    OK   alice healthcheck: https://.../healthcheck answers 2xx
    FAIL alice login token: the API key is refused (status 401)

Exit 0 when every check passes, 1 when one fails, 2 when the settings are invalid (each
problem is listed by its environment variable name; values, secrets above all, are never shown).
"""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import dataclass

from service.settings import Settings
from service.tools.common import EXIT_FAILED, EXIT_OK, guarded, load_settings

CHECK_TIMEOUT_S = 15.0


@dataclass(frozen=True)
class Check:
    """The outcome of one check."""

    name: str
    ok: bool
    detail: str

    def line(self) -> str:
        """`OK   name: detail` or `FAIL name: detail`."""
        return f"{'OK  ' if self.ok else 'FAIL'} {self.name}: {self.detail}"


def _why(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return f"no answer within {CHECK_TIMEOUT_S:.0f} s"
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


async def check_kafka(settings: Settings) -> list[Check]:
    """The broker answers a metadata request; the three topics exist."""
    from aiokafka.admin import AIOKafkaAdminClient  # noqa: PLC0415

    from service.kafka import client_options  # noqa: PLC0415

    where = settings.kafka_bootstrap_servers
    admin = AIOKafkaAdminClient(**client_options(settings), request_timeout_ms=10_000)
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_S):
            await admin.start()
            cluster = await admin.describe_cluster()
            topics = set(await admin.list_topics())
    except Exception as exc:
        return [Check("kafka", False, f"{where} unreachable: {_why(exc)}")]
    finally:
        await admin.close()
    brokers = len(cluster.get("brokers", [])) if isinstance(cluster, dict) else 0
    checks = [Check("kafka", True, f"{where} answers ({brokers} broker(s))")]
    for variable, topic in (
        ("KAFKA_INPUT_TOPIC", settings.kafka_input_topic),
        ("KAFKA_OUTPUT_TOPIC", settings.kafka_output_topic),
        ("KAFKA_DLQ_TOPIC", settings.kafka_dlq_topic),
    ):
        exists = topic in topics
        detail = "exists" if exists else "does not exist"
        if not exists and settings.kafka_create_topics:
            detail += " (KAFKA_CREATE_TOPICS is on: the service will create it)"
        checks.append(
            Check(f"kafka topic {variable}={topic}", exists or settings.kafka_create_topics, detail)
        )
    return checks


async def check_database(settings: Settings) -> list[Check]:
    """PostgreSQL accepts a connection; the schema is at the migrations' head."""
    from sqlalchemy import text  # noqa: PLC0415
    from sqlalchemy.engine import make_url  # noqa: PLC0415

    from service.store.database import Database  # noqa: PLC0415
    from service.store.migrate import head_revision  # noqa: PLC0415

    url = make_url(settings.database_url.get_secret_value())
    where = f"{url.host}:{url.port or 5432}/{url.database}"  # no user, no password
    database = Database.from_settings(settings)
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_S), database.transaction() as connection:
            exists = await connection.scalar(text("SELECT to_regclass('alembic_version')"))
            revision = (
                await connection.scalar(text("SELECT version_num FROM alembic_version"))
                if exists
                else None
            )
    except Exception as exc:
        return [Check("database", False, f"{where} unreachable: {_why(exc)}")]
    finally:
        await database.aclose()
    head = head_revision()
    checks = [Check("database", True, f"{where} answers")]
    if not exists:
        checks.append(Check("migrations", False, "not applied: run `python -m service migrate`"))
    elif revision != head:
        checks.append(
            Check("migrations", False, f"at {revision}, head is {head}: run the migrations")
        )
    else:
        checks.append(Check("migrations", True, f"at head {head}"))
    return checks


async def check_alice(settings: Settings) -> list[Check]:
    """Alice answers /healthcheck and issues a login token for ALICE_API_KEY."""
    from service.alice import AliceClient  # noqa: PLC0415
    from service.errors import IngestorError  # noqa: PLC0415

    base = settings.alice_base_url
    client = AliceClient.from_settings(settings)
    try:
        try:
            async with asyncio.timeout(CHECK_TIMEOUT_S):
                healthy = await client.healthcheck()
            health = Check(
                "alice healthcheck",
                healthy,
                f"{base}/healthcheck " + ("answers 2xx" if healthy else "does not answer 2xx"),
            )
        except TimeoutError as exc:
            health = Check("alice healthcheck", False, f"{base}/healthcheck: {_why(exc)}")
        try:
            async with asyncio.timeout(CHECK_TIMEOUT_S):
                # No public login call: this is the client's own first step of every fetch.
                await client._fetch_login_token()
            login = Check("alice login token", True, "issued for ALICE_API_KEY")
        except (IngestorError, TimeoutError) as exc:
            login = Check("alice login token", False, _why(exc))
    finally:
        await client.aclose()
    return [health, login]


def check_keys(settings: Settings) -> Check:
    """ENCRYPTION_KEYS: present in production; which KEK is active (never a key's value)."""
    from service.crypto.keyring import DEVELOPMENT_KEK_ID, Keyring, KeysMissing  # noqa: PLC0415

    try:
        keyring = Keyring.from_settings(settings)
    except KeysMissing as missing:
        return Check("encryption keys", False, str(missing))
    if keyring.active_id == DEVELOPMENT_KEK_ID:
        return Check("encryption keys", True, "development key: stored data is not confidential")
    return Check("encryption keys", True, f"{len(keyring.keks)} KEK(s), {keyring.active_id} active")


async def run_checks(settings: Settings) -> list[Check]:
    """Every check, the three dependencies at once."""
    groups = await asyncio.gather(
        check_kafka(settings), check_database(settings), check_alice(settings)
    )
    return [
        Check("settings", True, "valid"),
        check_keys(settings),
        *(c for group in groups for c in group),
    ]


@guarded
def cmd_check_config(args: argparse.Namespace) -> int:
    """Validate the settings and reach Kafka, PostgreSQL and Alice; one line per check."""
    settings = load_settings(need_alice=True)
    checks = asyncio.run(run_checks(settings))
    for check in checks:
        print(check.line())
    return EXIT_OK if all(check.ok for check in checks) else EXIT_FAILED


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `check-config` command."""
    parser = commands.add_parser(
        "check-config",
        help=cmd_check_config.__doc__,
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(func=cmd_check_config)

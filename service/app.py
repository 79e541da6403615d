"""The composition root: builds every adapter from the settings and wires the FastStream app.

Nothing imports this module but the entry point and tests. `build_service(settings)` returns a
`Service` holding the parts (tests reach into them); `service.app` is the ASGI FastStream
application (Kafka subscriber + health and metrics endpoints) that uvicorn serves.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import structlog
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from faststream import AckPolicy, NoCast
from faststream.asgi import AsgiFastStream
from faststream.kafka import KafkaBroker, KafkaMessage
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import CollectorRegistry

from service.alice import AliceClient
from service.batcher import WriteBatcher
from service.consumer import Consumer, Progress
from service.crypto import DataKeys, Keyring
from service.derive import Thresholds
from service.events.envelope import DerivedEventData
from service.health import health_routes
from service.history.server import HistoryServer, history_server
from service.ingest import Ingest
from service.kafka import KafkaPublisher, client_options, faststream_security
from service.memory import BODY_MEMORY_FACTOR, ByteBudget
from service.messages import OnboardingCompleted
from service.metrics import Metrics
from service.minimise import Minimiser
from service.privacy.erasure import Erasure, UserDeleter
from service.privacy.retention import RetentionPolicy, RetentionTask
from service.processor import Processor, RetryPolicy
from service.reconciler import AliceChecks, Backoff, Reconciler
from service.recovery import Health
from service.scheduler import KeyedScheduler
from service.settings import Settings
from service.shutdown import ShutdownClock, Watchdog, bounded
from service.store.database import Database
from service.store.relay import OutboxRelay
from service.tracing import telemetry_middleware, tracer, tracer_provider

log = structlog.get_logger(__name__)


@dataclass
class Service:
    """Every part of a running service, built once per process."""

    settings: Settings
    registry: CollectorRegistry
    metrics: Metrics
    database: Database
    alice: AliceClient
    ingest: Ingest
    batcher: WriteBatcher
    consumer: Consumer
    relay: OutboxRelay
    reconciler: Reconciler
    producer: Any
    broker: KafkaBroker
    subscriber: Any
    app: AsgiFastStream
    data_keys: DataKeys
    history: HistoryServer | None = None


async def ensure_topics(settings: Settings) -> None:
    """Create the input, output and dead-letter topics when missing (KAFKA_CREATE_TOPICS)."""
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [settings.kafka_input_topic, settings.kafka_output_topic, settings.kafka_dlq_topic]
        missing = [t for t in wanted if t not in existing]
        if missing:
            await admin.create_topics(
                [NewTopic(t, settings.kafka_topic_partitions, 1) for t in missing]
            )
            log.info("created topics", topics=missing)
    finally:
        await admin.close()


async def _no_decoding(message: Any) -> None:
    """Leave decoding to the consumer: it must see invalid records too, as they are."""
    return


def _reconciler(
    settings: Settings,
    *,
    database: Database,
    alice: AliceClient,
    batcher: WriteBatcher,
    metrics: Metrics,
    relay: OutboxRelay,
    minimiser: Minimiser,
) -> Reconciler:
    """The reconciler, recording through the pipeline's batcher (the same use case path)."""
    return Reconciler(
        database=database,
        alice=AliceChecks(alice),
        recorder=batcher,
        metrics=metrics,
        output_topic=settings.kafka_output_topic,
        backoff=Backoff(settings.reconcile_backoff_s),
        interval_s=settings.reconcile_interval_s,
        batch_size=settings.reconcile_batch,
        max_age_days=settings.reconcile_max_age_days,
        full_report_every=settings.reconcile_full_report_every,
        enabled=settings.reconcile_enabled,
        on_committed=relay.notify,
        minimiser=minimiser,
    )


def build_data_keys(settings: Settings) -> DataKeys:
    """The users' data keys under the settings' KEKs; KeysMissing in production without one."""
    return DataKeys(Keyring.from_settings(settings), cache_size=settings.encryption_key_cache_size)


def build_erasure(
    settings: Settings, database: Database, alice: UserDeleter | None, data_keys: DataKeys
) -> Erasure:
    """The erasure use case; it calls Alice's DELETE /user only when ERASURE_DELETE_IN_ALICE,
    and shreds the user's data key first."""
    return Erasure(
        database=database,
        output_topic=settings.kafka_output_topic,
        alice=alice if settings.erasure_delete_in_alice else None,
        key_shredder=data_keys,
    )


def retention_policy(settings: Settings) -> RetentionPolicy:
    """How long personal data is kept, from the settings."""
    return RetentionPolicy(
        snapshot_days=settings.snapshot_retention_days,
        quarantine_days=settings.quarantine_retention_days,
        user_event_days=settings.user_event_retention_days,
    )


def _shutdown_hooks(
    settings: Settings,
    *,
    consumer: Consumer,
    relay: OutboxRelay,
    reconciler: Reconciler,
    retention: RetentionTask,
    batcher: WriteBatcher,
    closing: Callable[[], tuple[Awaitable[Any], ...]],
    tracing: TracerProvider | None,
    watchdog: Watchdog | None,
) -> tuple[Callable[[], Awaitable[None]], Callable[[], Awaitable[None]]]:
    """The app's shutdown hooks: every step bounded, SHUTDOWN_TIMEOUT_S in all.

    FastStream closes the broker between the two hooks; the watchdog, when given, bounds the
    whole of it, whatever a dependency does.
    """
    budget = settings.shutdown_timeout_s
    clock = ShutdownClock(budget)

    async def shutdown() -> None:
        clock.start()
        if watchdog is not None:
            watchdog.arm()
        await bounded(reconciler.stop(budget / 20), timeout_s=budget / 10, name="reconciler")
        await bounded(retention.stop(), timeout_s=budget / 20, name="retention")
        await bounded(consumer.shutdown(budget / 2), timeout_s=budget * 0.6, name="consumer")
        await bounded(
            relay.stop(flush_timeout_s=clock.share(budget / 4)),
            timeout_s=clock.share(budget / 4) + 1,
            name="outbox relay",
        )

    async def after_shutdown() -> None:
        await bounded(batcher.aclose(budget / 20), timeout_s=clock.share(budget / 10), name="db")
        await bounded(asyncio.gather(*closing()), timeout_s=clock.share(budget), name="clients")
        if tracing is not None:
            tracing.shutdown()  # flush the spans still buffered
        if watchdog is not None:
            watchdog.disarm()
        log.info("service stopped")

    return shutdown, after_shutdown


def build_service(
    settings: Settings,
    *,
    alice: AliceClient | None = None,
    tracing: TracerProvider | None = None,
    watchdog: Watchdog | None = None,
) -> Service:
    """Wire the whole service from its settings (tests may inject an Alice client and a
    tracer provider; otherwise tracing is on only when OTEL_EXPORTER_OTLP_ENDPOINT is set).
    A `watchdog` ends the process when its shutdown overruns (the `run` command's, not tests')."""
    data_keys = build_data_keys(settings)  # first: refuses production without a KEK
    tracing = tracing or tracer_provider(settings)
    registry = CollectorRegistry()
    metrics = Metrics(registry)
    database = Database.from_settings(settings)
    alice = alice or AliceClient.from_settings(
        settings,
        on_call=metrics.observe_alice_call,
        on_retry=metrics.observe_alice_retry,
        budget_observer=metrics,
    )
    # One set of rules for every path that stores a report (service/minimise/).
    minimiser = Minimiser(settings.report_minimisation)
    ingest = Ingest(
        database=database,
        thresholds=Thresholds(
            liveness=settings.liveness_threshold,
            face_matching=settings.face_matching_threshold,
            check=settings.check_threshold,
            expiry_warning_days=settings.document_expiry_warning_days,
        ),
        output_topic=settings.kafka_output_topic,
        dlq_topic=settings.kafka_dlq_topic,
        data_keys=data_keys,
        erasure_tombstone_hours=settings.erasure_tombstone_hours,
        minimiser=minimiser,
    )
    erasure = build_erasure(settings, database, alice, data_keys)
    retention = RetentionTask(
        database=database,
        policy=retention_policy(settings),
        interval_s=settings.privacy_retention_interval_s,
    )
    producer = KafkaPublisher(settings)
    relay = OutboxRelay(
        database=database,
        publisher=producer,
        batch_size=settings.relay_batch_size,
        poll_interval_s=settings.relay_poll_interval_s,
        metrics=metrics,
        tracer=tracer(tracing),
        inbox_retention_days=settings.inbox_retention_days,
    )
    batcher = WriteBatcher(
        ingest=ingest,
        batch_size=settings.db_batch_size,
        writers=settings.db_writers,
        metrics=metrics,
        on_committed=relay.notify,
    )
    reconciler = _reconciler(
        settings,
        database=database,
        alice=alice,
        batcher=batcher,
        metrics=metrics,
        relay=relay,
        minimiser=minimiser,
    )
    progress = Progress()
    memory = ByteBudget(settings.max_body_bytes_in_flight, on_wait=metrics.body_budget_waits.inc)
    metrics.body_bytes_reserved.set_function(lambda: memory.used)
    health = Health()
    processor = Processor(
        source=alice,
        ingest=ingest,
        batcher=batcher,
        retry=RetryPolicy(
            max_attempts=settings.transient_max_attempts,
            initial_s=settings.transient_backoff_initial_s,
            max_s=settings.transient_backoff_max_s,
        ),
        metrics=metrics,
        health=health,
        on_attempt=progress.moved,
        on_committed=relay.notify,
        tracer=tracer(tracing),
        memory=memory,
        body_reservation=settings.alice_max_response_bytes * BODY_MEMORY_FACTOR,
        erasure=erasure,
        minimiser=minimiser,
    )
    consumer_box: list[Consumer] = []
    scheduler = KeyedScheduler(
        handler=processor,
        max_in_flight=settings.max_in_flight,
        # Late-bound: the consumer is built next and needs the scheduler.
        on_finished=lambda work: consumer_box[0].finished(work),  # noqa: PLW0108
        on_abandoned=lambda work: consumer_box[0].abandoned(work),  # noqa: PLW0108
        on_handler_failure=metrics.intake_faults.labels("handler_error").inc,
    )
    consumer = Consumer(
        ingest=ingest,
        scheduler=scheduler,
        progress=progress,
        metrics=metrics,
        max_in_flight=settings.max_in_flight,
        commit_interval_s=settings.kafka_commit_interval_s,
        revoke_timeout_s=settings.shutdown_timeout_s / 2,
    )
    consumer_box.append(consumer)

    middlewares: list[Any] = [KafkaPrometheusMiddleware(registry=registry)]
    telemetry = telemetry_middleware(tracing)
    if telemetry is not None:
        middlewares.insert(0, telemetry)
    broker = KafkaBroker(
        settings.kafka_bootstrap_servers,
        client_id=settings.kafka_client_id,
        security=faststream_security(settings),
        middlewares=middlewares,
        logger=None,  # FastStream's per-message log line is off the hot path; we log our own
    )
    subscriber = broker.subscriber(
        settings.kafka_input_topic,
        group_id=settings.kafka_group_id,
        batch=True,
        max_records=settings.kafka_max_poll_records,
        batch_timeout_ms=100,
        ack_policy=AckPolicy.MANUAL,
        auto_offset_reset="earliest",
        session_timeout_ms=settings.kafka_session_timeout_ms,
        listener=consumer.listener(),
        parser=consumer.raw_batch_parser,
        decoder=_no_decoding,
        title="onboarding-completed",
        description="Onboarding-completed events: fetch the user's Alice report and record it.",
    )
    output = broker.publisher(
        settings.kafka_output_topic,
        title="derived-state-changes",
        description="CloudEvents 1.0 (Kafka binary mode), one per derived state change.",
        schema=DerivedEventData,
    )
    dead_letters = broker.publisher(
        settings.kafka_dlq_topic,
        title="dead-letters",
        description="Input messages that could not be processed: original key and value, "
        "dlq_* headers with the error class, reason, source and attempts.",
        schema=OnboardingCompleted,
    )

    # The publishers are declared for the AsyncAPI document only: the outbox relay publishes.
    del output, dead_letters

    @subscriber
    async def on_onboarding_completed(
        events: NoCast[list[OnboardingCompleted]], message: KafkaMessage
    ) -> None:
        """Schedule each record of the batch; never raises for a bad message."""
        await consumer.on_batch(message.raw_message)

    async def startup() -> None:
        if settings.kafka_create_topics:
            await ensure_topics(settings)
        await producer.start()
        batcher.start()
        relay.start()
        retention.start()

    async def after_startup() -> None:
        consumer.attach(subscriber.consumer)
        log.info("service started", input_topic=settings.kafka_input_topic)

    shutdown, after_shutdown = _shutdown_hooks(
        settings,
        consumer=consumer,
        relay=relay,
        reconciler=reconciler,
        retention=retention,
        batcher=batcher,
        closing=lambda: (health.aclose(), producer.stop(), alice.aclose(), database.aclose()),
        tracing=tracing,
        watchdog=watchdog,
    )

    # The read-only history API on its own port (HISTORY_API_PORT; None when off).
    history = history_server(settings, database, data_keys)
    app = AsgiFastStream(
        broker,
        asgi_routes=health_routes(
            settings=settings,
            registry=registry,
            broker=broker,
            database=database,
            consumer=consumer,
            subscriber=subscriber,
        ),
        logger=None,
        on_startup=[startup, reconciler.on_startup, *([history.start] if history else [])],
        after_startup=[after_startup],
        on_shutdown=[*([history.stop] if history else []), shutdown],
        after_shutdown=[after_shutdown],
    )
    return Service(
        settings=settings,
        registry=registry,
        metrics=metrics,
        database=database,
        alice=alice,
        ingest=ingest,
        batcher=batcher,
        consumer=consumer,
        relay=relay,
        reconciler=reconciler,
        producer=producer,
        broker=broker,
        subscriber=subscriber,
        app=app,
        data_keys=data_keys,
        history=history,
    )

"""The service's own Prometheus metrics, registered on a registry the app owns (no globals).

Labels carry classes and outcomes only: never a user id or anything from a report.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

if TYPE_CHECKING:
    from service.budget import BreakerState

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    """Counters, histograms and gauges of the ingestion pipeline."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.messages = Counter(
            "ingestor_messages_total",
            "Input messages by outcome (stored, unchanged, stale, duplicate, dead_lettered).",
            ["outcome"],
            registry=registry,
        )
        self.dead_letters = Counter(
            "ingestor_dead_letters_total",
            "Messages sent to the dead-letter topic, by error class.",
            ["reason"],
            registry=registry,
        )
        self.transient_failures = Counter(
            "ingestor_transient_failures_total",
            "Transient failures of a message attempt, by error class (each is retried).",
            ["reason"],
            registry=registry,
        )
        self.derived_events = Counter(
            "ingestor_derived_events_total",
            "Derived events queued for publication, by CloudEvents type.",
            ["type"],
            registry=registry,
        )
        self.published = Counter(
            "ingestor_outbox_published_total",
            "Outbox records published to Kafka, by kind (derived or dead_letter).",
            ["kind"],
            registry=registry,
        )
        self.alice_latency = Histogram(
            "ingestor_alice_request_duration_seconds",
            "Alice API call latency by endpoint and status class (2xx, 4xx, 5xx, error).",
            ["endpoint", "status_class"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.alice_retries = Counter(
            "ingestor_alice_retries_total",
            "Retries of Alice API calls, by endpoint.",
            ["endpoint"],
            registry=registry,
        )
        self.alice_limiter_waits = Counter(
            "ingestor_alice_limiter_waits_total",
            "Alice requests that waited for the client's budget (rate, concurrency, 429 hold, "
            "breaker), by caller priority.",
            ["priority"],
            registry=registry,
        )
        self.alice_limiter_wait_seconds = Counter(
            "ingestor_alice_limiter_wait_seconds_total",
            "Seconds Alice requests spent waiting for the client's budget, by caller priority.",
            ["priority"],
            registry=registry,
        )
        self.alice_concurrency_limit = Gauge(
            "ingestor_alice_concurrency_limit",
            "The adaptive limit of concurrent Alice requests (halved on 429/5xx/timeouts).",
            registry=registry,
        )
        self.alice_breaker_state = Gauge(
            "ingestor_alice_breaker_state",
            "The Alice circuit breaker: 0 closed, 1 half-open (one probe), 2 open (work held).",
            registry=registry,
        )
        self.alice_breaker_opened = Counter(
            "ingestor_alice_breaker_opened_total",
            "Times the Alice circuit breaker opened (an outage seen across users), or opened "
            "again after a failed probe.",
            registry=registry,
        )
        self.db_transaction = Histogram(
            "ingestor_db_transaction_duration_seconds",
            "Duration of the transaction that records a batch of messages.",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.db_batch_size = Histogram(
            "ingestor_db_batch_messages",
            "Messages recorded per database transaction.",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128),
            registry=registry,
        )
        self.processing = Histogram(
            "ingestor_message_duration_seconds",
            "Time from taking a message to finishing it (any outcome).",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.in_flight = Gauge(
            "ingestor_in_flight_messages",
            "Messages taken from Kafka and not finished yet.",
            registry=registry,
        )
        self.outbox_backlog = Gauge(
            "ingestor_outbox_backlog",
            "Outbox records not yet published.",
            registry=registry,
        )
        self.outbox_parked = Counter(
            "ingestor_outbox_parked_total",
            "Outbox records Kafka refused for good and that were parked, by error class.",
            ["reason"],
            registry=registry,
        )
        self.outbox_parked_rows = Gauge(
            "ingestor_outbox_parked_rows",
            "Outbox records parked and not yet dealt with by an operator.",
            registry=registry,
        )
        self.outbox_oldest_age = Gauge(
            "ingestor_outbox_oldest_age_seconds",
            "Age of the oldest outbox record not yet published (0 when none).",
            registry=registry,
        )
        self.body_bytes_reserved = Gauge(
            "ingestor_body_bytes_reserved",
            "Bytes reserved for report bodies in flight (MAX_BODY_BYTES_IN_FLIGHT bounds it).",
            registry=registry,
        )
        self.body_budget_waits = Counter(
            "ingestor_body_budget_waits_total",
            "Fetches that waited for the body byte budget (MAX_BODY_BYTES_IN_FLIGHT).",
            registry=registry,
        )
        self.intake_faults = Counter(
            "ingestor_intake_faults_total",
            "Records the intake had to fetch again or hold: kind is gap_refetch (offsets never "
            "seen), stale_batch (fetched before a rebalance), intake_error (a bug while taking "
            "a batch) or handler_error (a bug while processing; the message is tried again).",
            ["kind"],
            registry=registry,
        )
        self.consumer_lag = Gauge(
            "ingestor_consumer_lag",
            "Records between the committed offset and the end of each input partition.",
            ["topic", "partition"],
            registry=registry,
        )
        # --- Reconciler (service/reconciler/) ---
        self.reconcile_pending = Gauge(
            "ingestor_reconcile_pending_users",
            "Users waiting for reconciliation (state not final, not too old), by user state "
            "(known states by name, other, none); updated by the active replica each round.",
            ["state"],
            registry=registry,
        )
        self.reconcile_checks = Counter(
            "ingestor_reconcile_checks_total",
            "Reconciler checks by outcome (unchanged, changed, deleted, failed, unavailable).",
            ["outcome"],
            registry=registry,
        )
        self.reconcile_changes = Counter(
            "ingestor_reconcile_changes_total",
            "Changes the reconciler found and recorded (a new snapshot with no input event).",
            registry=registry,
        )
        self.reconcile_oldest_due_age = Gauge(
            "ingestor_reconcile_oldest_due_age_seconds",
            "How long the most overdue reconciliation check has been due (0 when none).",
            registry=registry,
        )

    def observe_alice_call(self, endpoint: str, status: int | None, seconds: float) -> None:
        """Record one Alice HTTP call (the client's on_call hook)."""
        status_class = f"{status // 100}xx" if status else "error"
        self.alice_latency.labels(endpoint, status_class).observe(seconds)

    def observe_alice_retry(self, endpoint: str) -> None:
        """Record one retry of an Alice call (the client's on_retry hook)."""
        self.alice_retries.labels(endpoint).inc()

    # --- the Alice budget's observer (service.budget.BudgetObserver) ---------------------------

    def limiter_waited(self, priority: str, seconds: float) -> None:
        """An Alice request waited `seconds` for the client's budget."""
        self.alice_limiter_waits.labels(priority).inc()
        self.alice_limiter_wait_seconds.labels(priority).inc(max(0.0, seconds))

    def concurrency_limit(self, limit: int) -> None:
        """The adaptive concurrency limit changed."""
        self.alice_concurrency_limit.set(limit)

    def breaker_state(self, state: BreakerState) -> None:
        """The circuit breaker changed state."""
        if state.value == 2:  # told on changes only
            self.alice_breaker_opened.inc()
        self.alice_breaker_state.set(state.value)

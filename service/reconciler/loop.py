"""The reconciler loop: re-checks users not in a final state, one replica at a time.

Every RECONCILE_INTERVAL_S one round runs under a transaction-scoped advisory lock (the relay's
pattern, with its own key), so only one replica reconciles at a time. A round takes the due
users, the longest overdue first, and checks each: `GET /user/state` first; the full report
only when the state differs from the stored one or at every Nth check. A fetched report is
recorded by the ingest use case through the same `WriteBatcher` as an input message (same
transaction, derivation and outbox), under a message id of its own (`reconcile:{user}:{n}`).
Two 404s (state and report) mark the user deleted upstream and announce it once. A transient
failure (Alice or the database down) ends the round: the next one tries again.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

import structlog
from sqlalchemy import text

from service.errors import AliceUserNotFound, IngestorError, PermanentError, TransientError
from service.ingest import STORED, Fetched, Recorded, content_hash
from service.messages import USER_DELETED_UPSTREAM
from service.metrics import Metrics
from service.minimise import Minimiser
from service.reconciler import schedule
from service.reconciler.checks import AliceChecks
from service.reconciler.policy import (
    CHANGED,
    DELETED,
    FAILED,
    UNAVAILABLE,
    UNCHANGED,
    Backoff,
    needs_report,
    state_label,
)
from service.reconciler.schedule import Check, DueUser
from service.shutdown import stop_tasks
from service.store.database import Database

log = structlog.get_logger(__name__)

RECONCILE_LOCK_KEY = 0x52_45_43_4F  # "RECO": one reconciler at a time across replicas


class Recorder(Protocol):
    """Where fetched reports are recorded (the pipeline's `WriteBatcher`)."""

    async def record(self, item: Fetched) -> Recorded | IngestorError:
        """Record one fetched report; its outcome or the error that stopped it."""
        ...


class Reconciler:
    """Runs reconciliation rounds in the background."""

    def __init__(
        self,
        *,
        database: Database,
        alice: AliceChecks,
        recorder: Recorder,
        metrics: Metrics,
        output_topic: str,
        backoff: Backoff,
        interval_s: float,
        batch_size: int,
        max_age_days: int,
        full_report_every: int,
        on_committed: Callable[[], None],
        enabled: bool = True,
        minimiser: Minimiser | None = None,
    ) -> None:
        self._minimiser = minimiser or Minimiser(())
        self._enabled = enabled
        self._database = database
        self._alice = alice
        self._recorder = recorder
        self._metrics = metrics
        self._output_topic = output_topic
        self._backoff = backoff
        self._interval_s = interval_s
        self._batch_size = batch_size
        self._max_age_days = max_age_days
        self._full_report_every = full_report_every
        self._on_committed = on_committed
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Run rounds in the background every RECONCILE_INTERVAL_S."""
        self._task = asyncio.create_task(self._run(), name="reconciler")

    async def on_startup(self) -> None:
        """The app's start-up hook: start the loop unless RECONCILE_ENABLED is false."""
        if self._enabled:
            self.start()

    async def stop(self, timeout_s: float = 2.0) -> None:
        """Stop the loop (a check in progress is abandoned; it runs again next time), waiting
        at most `timeout_s` for it to end."""
        if self._task is not None:
            await stop_tasks([self._task], timeout_s=timeout_s, name="reconciler")
            self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval_s)
            try:
                # A full round means more may be due: go on at once, as the relay does.
                while (await self.run_once() or 0) >= self._batch_size:
                    pass
            except IngestorError as error:
                log.warning("reconciliation round failed", error=error.code, reason=error.reason)
            except Exception as exc:
                log.warning("reconciliation round failed", error=type(exc).__name__)

    async def run_once(self) -> int | None:
        """One round: check the due users; how many were checked, None if another replica
        holds the lock."""
        first_step_s = self._backoff.steps_s[0]
        async with self._database.transaction() as connection:
            locked = await connection.scalar(
                text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": RECONCILE_LOCK_KEY}
            )
            if not locked:
                # Another replica reconciles and reports the gauges; the dashboard takes the max.
                self._metrics.reconcile_pending.clear()
                self._metrics.reconcile_oldest_due_age.set(0)
                return None
            due = await schedule.due_users(
                connection,
                limit=self._batch_size,
                first_step_s=first_step_s,
                max_age_days=self._max_age_days,
            )
            checked = 0
            for user in due:
                checked += 1
                if await self.check(user) == UNAVAILABLE:
                    break  # an outage: stop asking, the next round tries again
            pending = await schedule.pending(
                connection, first_step_s=first_step_s, max_age_days=self._max_age_days
            )
        self._metrics.reconcile_pending.clear()
        for state, count in pending.by_state.items():
            self._metrics.reconcile_pending.labels(state_label(state)).inc(count)
        self._metrics.reconcile_oldest_due_age.set(pending.oldest_due_age_s)
        return checked

    async def check(self, user: DueUser) -> str | None:
        """Check one user at Alice; the outcome (None if the user left reconciliation)."""
        bound = log.bind(user_id=user.user_id)
        async with self._database.transaction() as connection:
            check = await schedule.begin_check(connection, user.user_id)
        if check is None:
            return None
        try:
            outcome = await self._check(check)
        except TransientError as error:
            bound.warning("reconcile check unavailable", error=error.code, status=error.status)
            outcome = UNAVAILABLE
        except PermanentError as error:
            bound.warning("reconcile check failed", error=error.code, reason=error.reason)
            outcome = FAILED
        except Exception as exc:
            bound.error("reconcile check failed", error_type=type(exc).__name__)
            outcome = FAILED
        self._metrics.reconcile_checks.labels(outcome).inc()
        if outcome == DELETED:
            return outcome
        steps = {CHANGED: 0, UNAVAILABLE: check.checks_without_change}
        streak = steps.get(outcome, check.checks_without_change + 1)
        with contextlib.suppress(IngestorError):  # not stored: the last due time stands
            async with self._database.transaction() as connection:
                await schedule.finish_check(
                    connection,
                    user.user_id,
                    checks_without_change=streak,
                    next_check_at=self._backoff.next_check(datetime.now(UTC), streak),
                )
        bound.debug("reconcile check", outcome=outcome, check_no=check.check_no)
        return outcome

    async def _check(self, check: Check) -> str:
        try:
            state = await self._alice.state(check.user_id)
        except AliceUserNotFound:
            return await self._gone_or_failed(check)
        if not needs_report(
            stored_state=check.state,
            alice_state=state,
            check_no=check.check_no,
            full_report_every=self._full_report_every,
        ):
            return UNCHANGED
        # Hashed minimised, as the pipeline does (service/minimise/): a report that differs
        # only in a part that is not stored is unchanged. Validated only if it changed.
        body = self._minimiser.body(await self._alice.report(check.user_id))
        recorded = await self._recorder.record(
            Fetched(check.ref, check.user_id, body, content_hash(body), None, datetime.now(UTC))
        )
        if isinstance(recorded, IngestorError):
            raise recorded
        if recorded.outcome != STORED:
            return UNCHANGED
        self._on_committed()
        self._metrics.reconcile_changes.inc()
        for event_type in recorded.derived:
            self._metrics.derived_events.labels(event_type).inc()
        return CHANGED

    async def _gone_or_failed(self, check: Check) -> str:
        """State 404: the user is deleted only when the report is 404 too."""
        try:
            await self._alice.report(check.user_id)
        except AliceUserNotFound:
            pass
        else:
            raise AliceUserNotFound("user state: 404 while the report answers", status=404)
        async with self._database.transaction() as connection:
            marked = await schedule.record_deletion(
                connection, check, output_topic=self._output_topic, observed_at=datetime.now(UTC)
            )
        if marked:
            self._on_committed()
            self._metrics.derived_events.labels(USER_DELETED_UPSTREAM).inc()
            log.info("user deleted upstream", user_id=check.user_id)
        return DELETED

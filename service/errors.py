"""The service's exceptions, each one transient or permanent where it is raised.

Adapters translate foreign errors (httpx, asyncpg, pydantic, aiokafka) into these at the boundary
(`raise OurError(...) from exc`), so that nothing above them sees a library exception. The
consumer maps the two branches to what happens to a message:

    IngestorError                      code: the dead-letter reason and metric label
    ├── TransientError                 retry with backoff, bounded; then dead-letter
    │   ├── AliceUnavailable           timeouts, connection errors, 5xx after retries
    │   │   └── AliceThrottled         429, or held by the client's own budget: never the
    │   │                              message's fault, so never counted towards its bound
    │   ├── StorageUnavailable         a failure worth retrying (serialization, lock, timeout,
    │   │   │                              an unknown SQLSTATE); counted like any transient error
    │   │   └── StorageOutage              the database cannot take anyone's writes (connection,
    │   │                                  authentication, privilege, read-only, schema, resources):
    │   │                                  never the message's fault, never counted, readiness false
    │   └── AliceAuthError             the API key is refused: a configuration fault that no
    │                                  message can fix, so it must never flush the topic to the DLQ
    └── PermanentError                 dead-letter at once, commit the offset
        ├── InvalidInputEvent          the Kafka message is not a valid onboarding-completed event
        │   └── HeaderKeyNotUtf8       a header key is not UTF-8 (the protocol says it must be)
        ├── InvalidUserId              a user id that is not a UUID (never put into a URL)
        ├── InvalidReport              the report failed validation (names the field)
        │   └── ReportForOtherUser     the report's user_id is not the user asked for
        ├── StorageRejected            PostgreSQL refused this message's data (never retried)
        ├── InternalError              a bug met while processing one message
        ├── UnreadableData             a sealed value or data key does not open (altered,
        │                              moved to another user, or its key shredded or absent)
        ├── AliceRejected              400/403/405/422: the request will never succeed as sent
        │   └── AliceUserNotFound      404: Alice does not know the user
        └── AliceResponseTooLarge      the body exceeds the configured cap

Messages carry a status and a short reason only: never a token, an API key, a name, a document
number or any part of a report body.
"""

from __future__ import annotations

from typing import ClassVar


class IngestorError(Exception):
    """Base of every error the service raises on purpose."""

    transient: ClassVar[bool] = False
    code: ClassVar[str] = "error"

    def __init__(self, reason: str, *, status: int | None = None) -> None:
        self.reason = sanitised_reason(reason)
        self.status = status
        super().__init__(f"{reason} (status {status})" if status is not None else reason)


class TransientError(IngestorError):
    """The same work may succeed later: retry with backoff, bounded."""

    transient = True
    code = "transient"


class PermanentError(IngestorError):
    """The same work will fail again: dead-letter it and move on."""

    transient = False
    code = "permanent"


class AliceUnavailable(TransientError):
    """Alice did not answer usefully in time (timeout, connection error, 429 or 5xx).

    `retry_after`: seconds Alice (or the client's breaker) asked to wait, when known.
    `outage`: the client's breaker judged Alice down for everyone during the call, so the
    failure is not this message's own.
    """

    code = "alice_unavailable"

    def __init__(
        self,
        reason: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        outage: bool = False,
    ) -> None:
        super().__init__(reason, status=status)
        self.retry_after = retry_after
        self.outage = outage


class AliceThrottled(AliceUnavailable):
    """Alice answered 429, or the client's own budget held the request: wait, never count."""

    code = "alice_throttled"


class StorageUnavailable(TransientError):
    """PostgreSQL could not be reached or the transaction must be retried."""

    code = "storage_unavailable"


class StorageOutage(StorageUnavailable):
    """PostgreSQL cannot take writes from anyone: wait it out, never dead-letter because of it."""

    code = "storage_outage"


class InvalidInputEvent(PermanentError):
    """The input message is not a valid onboarding-completed event."""

    code = "invalid_input"


class HeaderKeyNotUtf8(InvalidInputEvent):
    """A header key of the record is not UTF-8 (see `service.record_batches`): dead-lettered,
    with the key's bytes kept in the dead letter."""

    code = "header_key_not_utf8"


class InvalidUserId(PermanentError):
    """A user id that is not UUID-shaped; it never reaches a URL."""

    code = "invalid_user_id"


class InvalidReport(PermanentError):
    """The report body failed validation; `reason` names the offending field.

    `body` holds the raw body when the caller has it, so that it can be quarantined; it is
    never part of the message.
    """

    code = "invalid_report"

    def __init__(self, reason: str, *, status: int | None = None, body: bytes | None = None):
        super().__init__(reason, status=status)
        self.body = body


class ReportForOtherUser(InvalidReport):
    """The report names another user than the one asked for: never stored under the asked one.

    An `InvalidReport`, so it is quarantined with its body and dead-lettered the same way,
    with a code of its own. The message names neither user id.
    """

    code = "report_for_other_user"


class AliceRejected(PermanentError):
    """Alice refused the request in a way that retrying cannot fix (400/403/405/422)."""

    code = "alice_rejected"


class AliceUserNotFound(AliceRejected):
    """Alice answered 404: the user does not exist for these credentials."""

    code = "unknown_user"


class AliceAuthError(TransientError):
    """The API key is refused: nothing works until the secret is fixed, so messages wait."""

    code = "alice_auth"


class AliceResponseTooLarge(PermanentError):
    """The response body is larger than the configured cap."""

    code = "alice_response_too_large"


class StorageRejected(PermanentError):
    """PostgreSQL refused this one message's data (a constraint or a value it cannot store)."""

    code = "storage_rejected"


class InternalError(PermanentError):
    """A bug met while processing a message: dead-lettered so that nothing is lost."""

    code = "internal_error"


class UnreadableData(PermanentError):
    """Stored ciphertext that does not decrypt: altered, moved, or its key destroyed or absent."""

    code = "unreadable_data"


MAX_REASON_CHARS = 300


def sanitised_reason(reason: str) -> str:
    """A reason fit for logs, headers and any text column: no control characters (NUL
    included), no lone surrogates, at most MAX_REASON_CHARS characters."""
    cleaned = "".join(
        " " if ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F else c for c in reason[:MAX_REASON_CHARS]
    )
    return cleaned.encode("utf-8", "replace").decode("utf-8")


def error_location(error: BaseException) -> str:
    """Where an unexpected error was raised (`module.py:line`), for logs.

    Unexpected errors are logged by type and place only, never with their message or
    traceback text: those may quote the data being handled (a report's names or numbers).
    """
    tb = error.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is None:
        return "unknown"
    code = tb.tb_frame.f_code
    return f"{code.co_filename.rsplit('/', 1)[-1]}:{tb.tb_lineno} in {code.co_name}"

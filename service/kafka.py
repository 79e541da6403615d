"""Kafka connection settings, shared by FastStream's broker and the relay's aiokafka producer."""

from __future__ import annotations

import ssl
from typing import Any

from faststream.security import (
    BaseSecurity,
    SASLPlaintext,
    SASLScram256,
    SASLScram512,
)

from service.settings import Settings


def ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """A TLS context when the protocol uses SSL, with the configured CA and client cert."""
    if not settings.kafka_security_protocol.endswith("SSL"):
        return None
    context = ssl.create_default_context(cafile=settings.kafka_ssl_cafile)
    if settings.kafka_ssl_certfile:
        context.load_cert_chain(settings.kafka_ssl_certfile, settings.kafka_ssl_keyfile)
    return context


def faststream_security(settings: Settings) -> BaseSecurity | None:
    """The FastStream security object for KAFKA_SECURITY_PROTOCOL and the SASL settings."""
    context = ssl_context(settings)
    protocol = settings.kafka_security_protocol
    if protocol.startswith("SASL_"):
        user = settings.kafka_sasl_username or ""
        password = (
            settings.kafka_sasl_password.get_secret_value() if settings.kafka_sasl_password else ""
        )
        use_ssl = protocol == "SASL_SSL"
        kind = {
            "PLAIN": SASLPlaintext,
            "SCRAM-SHA-256": SASLScram256,
            "SCRAM-SHA-512": SASLScram512,
        }
        return kind[settings.kafka_sasl_mechanism or "PLAIN"](
            user, password, ssl_context=context, use_ssl=use_ssl
        )
    if protocol == "SSL":
        return BaseSecurity(ssl_context=context, use_ssl=True)
    return None


def client_options(settings: Settings) -> dict[str, Any]:
    """aiokafka client keyword arguments (producer, admin) for the same connection."""
    options: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap_servers,
        "client_id": settings.kafka_client_id,
        "security_protocol": settings.kafka_security_protocol,
    }
    context = ssl_context(settings)
    if context is not None:
        options["ssl_context"] = context
    if settings.kafka_security_protocol.startswith("SASL_"):
        options["sasl_mechanism"] = settings.kafka_sasl_mechanism
        options["sasl_plain_username"] = settings.kafka_sasl_username
        if settings.kafka_sasl_password is not None:
            options["sasl_plain_password"] = settings.kafka_sasl_password.get_secret_value()
    return options


class KafkaPublisher:
    """The relay's idempotent aiokafka producer, created when started.

    aiokafka clients must be created inside the running event loop; the composition root builds
    the service before the loop runs, so this wrapper creates the producer in `start()`.
    """

    def __init__(self, settings: Settings) -> None:
        self._options = client_options(settings)
        self._producer: Any = None

    async def start(self) -> None:
        """Create and connect the producer (idempotent, acks=all)."""
        from aiokafka import AIOKafkaProducer  # noqa: PLC0415 - created in the loop only

        self._producer = AIOKafkaProducer(
            **self._options, enable_idempotence=True, acks="all", linger_ms=2
        )
        await self._producer.start()

    async def send(
        self,
        topic: str,
        value: bytes | None = None,
        key: bytes | None = None,
        headers: Any = None,
    ) -> Any:
        """Queue a record; the returned future resolves when the broker acknowledged it."""
        if self._producer is None:
            raise RuntimeError("the Kafka producer is not started")
        return await self._producer.send(topic, value=value, key=key, headers=headers)

    async def reset(self) -> None:
        """Replace the producer by a new one (a new producer id and sequence numbers).

        aiokafka's idempotent producer does not recover a partition after the broker refused
        one of its batches (OutOfOrderSequenceNumber on every later batch): the relay calls
        this then. The old producer is stopped (flushed) after the new one started.
        """
        old = self._producer
        try:
            await self.start()
        except Exception:
            self._producer = old  # keep the one that works as well as it did
            raise
        if old is not None:
            await old.stop()

    async def stop(self) -> None:
        """Flush and close the producer."""
        if self._producer is not None:
            await self._producer.stop()

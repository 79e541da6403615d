"""The service's one settings object, read from the environment by pydantic-settings.

Built once at the entry point (`Settings()`) and passed down; never a module-level instance.
Top-level names are the documented contract (`KAFKA_BOOTSTRAP_SERVERS`, `DATABASE_URL`, ...);
each group below is a view of them that one adapter needs.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AnyHttpUrl, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from service.crypto.keyring import parse_keys
from service.history.tokens import parse_tokens
from service.memory import BODY_MEMORY_FACTOR
from service.minimise import parse_rules

ALICE_PRODUCTION_URL = "https://apis.alicebiometrics.com/onboarding"
ALICE_SANDBOX_URL = "https://apis.sandbox.alicebiometrics.com/onboarding"

KafkaSecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]


class Settings(BaseSettings):
    """Every setting of the service; see the README's table for what each one does."""

    # hide_input_in_errors: a refused secret (ENCRYPTION_KEYS, DATABASE_URL) is never echoed.
    model_config = SettingsConfigDict(
        env_file=None, extra="ignore", case_sensitive=False, frozen=True, hide_input_in_errors=True
    )

    # --- Kafka -------------------------------------------------------------------------------
    kafka_bootstrap_servers: str = "localhost:9092"
    kafka_input_topic: str = "alice.onboarding.completed"
    kafka_output_topic: str = "alice.onboarding.state-changes"
    kafka_dlq_topic: str = "alice.onboarding.completed.dlq"
    kafka_group_id: str = "alice-report-ingestor"
    kafka_client_id: str = "alice-report-ingestor"
    kafka_security_protocol: KafkaSecurityProtocol = "PLAINTEXT"
    kafka_sasl_mechanism: SaslMechanism | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: str | None = None
    kafka_ssl_certfile: str | None = None
    kafka_ssl_keyfile: str | None = None
    kafka_max_poll_records: int = Field(default=500, ge=1)
    kafka_create_topics: bool = False
    kafka_commit_interval_s: float = Field(default=0.5, gt=0)
    kafka_topic_partitions: int = Field(default=6, ge=1)
    kafka_session_timeout_ms: int = Field(default=45_000, ge=6_000)

    # --- PostgreSQL ----------------------------------------------------------------------------
    database_url: SecretStr = SecretStr(
        "postgresql+asyncpg://ingestor@localhost:5432/alice_report_ingestor"
    )
    database_sslmode: Literal["disable", "prefer", "require", "verify-ca", "verify-full"] | None = (
        None
    )
    database_ssl_rootcert: str | None = None
    database_pool_size: int = Field(default=10, ge=1)
    database_statement_timeout_ms: int = Field(default=30_000, ge=100)

    # --- Alice ---------------------------------------------------------------------------------
    alice_api_url: AnyHttpUrl = AnyHttpUrl(ALICE_PRODUCTION_URL)
    # Development only (a local emulator on http://127.0.0.1): reports and tokens would cross
    # the network in clear, so anything but https:// is refused unless this is set.
    allow_insecure_alice_url: bool = False
    alice_api_key: SecretStr
    alice_connect_timeout_s: float = Field(default=3.0, gt=0)
    alice_read_timeout_s: float = Field(default=10.0, gt=0)
    alice_max_response_bytes: int = Field(default=1024 * 1024, ge=1024)
    alice_max_concurrency: int = Field(default=128, ge=1)
    alice_min_concurrency: int = Field(default=8, ge=1)
    alice_max_requests_per_s: float = Field(default=0.0, ge=0)
    alice_breaker_failures: int = Field(default=20, ge=0)
    alice_breaker_window_s: float = Field(default=10.0, gt=0)
    alice_breaker_probe_interval_s: float = Field(default=2.0, gt=0)
    alice_retry_attempts: int = Field(default=4, ge=1)
    alice_retry_timeout_s: float = Field(default=30.0, gt=0)
    alice_token_refresh_margin_s: float = Field(default=120.0, ge=0)
    alice_token_cache_size: int = Field(default=10_000, ge=1)

    # --- Pipeline --------------------------------------------------------------------------------
    max_in_flight: int = Field(default=256, ge=1)
    max_body_bytes_in_flight: int = Field(default=384 * 1024 * 1024, ge=1024 * 1024)
    db_batch_size: int = Field(default=32, ge=1)
    db_writers: int = Field(default=2, ge=1)
    transient_max_attempts: int = Field(default=8, ge=1)
    transient_backoff_initial_s: float = Field(default=0.5, gt=0)
    transient_backoff_max_s: float = Field(default=60.0, gt=0)
    liveness_threshold: float = Field(default=50.0, ge=0, le=100)
    face_matching_threshold: float = Field(default=50.0, ge=0, le=100)
    check_threshold: float = Field(default=50.0, ge=0, le=100)
    document_expiry_warning_days: int = Field(default=90, ge=0, le=3650)
    shutdown_timeout_s: float = Field(default=20.0, gt=0)
    relay_batch_size: int = Field(default=500, ge=1)
    relay_poll_interval_s: float = Field(default=1.0, gt=0)
    inbox_retention_days: int = Field(default=30, ge=1)

    # --- Reconciler ----------------------------------------------------------------------------
    reconcile_enabled: bool = True
    reconcile_interval_s: float = Field(default=30.0, gt=0)
    reconcile_batch: int = Field(default=100, ge=1)
    reconcile_max_age_days: int = Field(default=30, ge=1)
    reconcile_full_report_every: int = Field(default=4, ge=1)
    # Comma-separated seconds ("60,300,1800,21600,86400"), not JSON: read by the validator.
    reconcile_backoff_s: Annotated[tuple[float, ...], NoDecode] = Field(
        default=(60.0, 300.0, 1800.0, 21600.0, 86400.0), min_length=1
    )

    # --- Personal data (service/privacy/, README "Personal data") ------------------------------
    erasure_delete_in_alice: bool = False
    erasure_tombstone_hours: float = Field(default=24.0, ge=0)
    snapshot_retention_days: int = Field(default=90, ge=1)
    quarantine_retention_days: int = Field(default=30, ge=1)
    user_event_retention_days: int = Field(default=365, ge=1)
    privacy_retention_interval_s: float = Field(default=3600.0, gt=0)
    # Key-encryption keys (service/crypto/): "id:base64-of-32-bytes,..."; the last one listed
    # wraps new data keys, the others still unwrap. Without any, production refuses to start.
    encryption_keys: SecretStr | None = None
    encryption_key_cache_size: int = Field(default=10_000, ge=1)
    environment: Literal["production", "development"] = "production"
    # Comma-separated rule names (service/minimise/rules.py), or "none": read by the validator.
    # Off by default: minimising re-encodes every changed report, about 20 % more CPU per event
    # in `make bench`, over the 10 % a new capability may cost; README "Minimisation".
    report_minimisation: Annotated[tuple[str, ...], NoDecode] = ()

    # --- HTTP, logs, tracing -------------------------------------------------------------------
    http_host: str = "0.0.0.0"  # noqa: S104 - a pod must accept probes on its own IP
    http_port: int = Field(default=8080, ge=0, le=65535)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    liveness_stall_s: float = Field(default=120.0, gt=0)
    otel_exporter_otlp_endpoint: str | None = None
    otel_service_name: str = "alice-report-ingestor"

    # --- Per-user history API (service/history/, README "Per-user history") --------------------
    history_api_port: int = Field(default=0, ge=0, le=65535)
    # Comma-separated `name:token` entries (the name is who the audit row names on a reveal).
    history_api_tokens: SecretStr | None = None

    @field_validator("alice_api_key")
    @classmethod
    def _refuse_empty_key(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().strip():
            raise ValueError("ALICE_API_KEY is empty")
        return value

    @field_validator("database_url")
    @classmethod
    def _asyncpg_url(cls, value: SecretStr) -> SecretStr:
        url = value.get_secret_value()
        if url.startswith("postgresql://") or url.startswith("postgres://"):
            url = "postgresql+asyncpg://" + url.split("://", 1)[1]
        if not url.startswith("postgresql+asyncpg://"):
            raise ValueError("DATABASE_URL must be a postgresql:// or postgresql+asyncpg:// URL")
        return SecretStr(url)

    @field_validator("encryption_keys")
    @classmethod
    def _keys_well_formed(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        parse_keys(value.get_secret_value())  # raises ValueError naming the id, never a key
        return value

    @model_validator(mode="after")
    def _one_body_fits_the_memory_budget(self) -> Settings:
        worst = self.alice_max_response_bytes * BODY_MEMORY_FACTOR
        if self.max_body_bytes_in_flight < worst:
            raise ValueError(
                f"MAX_BODY_BYTES_IN_FLIGHT must hold one report at the cap: at least "
                f"{worst} ({BODY_MEMORY_FACTOR} x ALICE_MAX_RESPONSE_BYTES)"
            )
        return self

    @field_validator("reconcile_backoff_s", mode="before")
    @classmethod
    def _steps_from_text(cls, value: object) -> object:
        if isinstance(value, str):  # also takes "(1.0, 2.0)" and "[1, 2]", as Python prints them
            return tuple(float(p) for p in value.strip("()[] ").split(",") if p.strip())
        return value

    @field_validator("reconcile_backoff_s")
    @classmethod
    def _positive_steps(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if any(step <= 0 for step in value):
            raise ValueError("RECONCILE_BACKOFF_S steps must be positive seconds")
        return value

    @field_validator("report_minimisation", mode="before")
    @classmethod
    def _rules_from_text(cls, value: object) -> object:
        if isinstance(value, str):
            return parse_rules(value)
        if isinstance(value, (list, tuple, set, frozenset)):
            return parse_rules(",".join(str(v) for v in value))
        return value

    @model_validator(mode="after")
    def _alice_over_https(self) -> Settings:
        if self.alice_api_url.scheme != "https" and not self.allow_insecure_alice_url:
            raise ValueError(
                "ALICE_API_URL must be an https:// URL; ALLOW_INSECURE_ALICE_URL=true permits "
                "http:// for a local emulator only"
            )
        return self

    @model_validator(mode="after")
    def _sasl_complete(self) -> Settings:
        if self.kafka_security_protocol.startswith("SASL_") and not (
            self.kafka_sasl_mechanism and self.kafka_sasl_username and self.kafka_sasl_password
        ):
            raise ValueError(
                "KAFKA_SECURITY_PROTOCOL=SASL_* needs KAFKA_SASL_MECHANISM, "
                "KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD"
            )
        return self

    @model_validator(mode="after")
    def _history_api_guarded(self) -> Settings:
        if not self.history_api_port:
            return self
        if self.history_api_port == self.http_port:
            raise ValueError("HISTORY_API_PORT must differ from HTTP_PORT")
        if not parse_tokens(self.history_api_tokens):
            raise ValueError("HISTORY_API_PORT is set: HISTORY_API_TOKENS needs a name:token")
        return self

    @property
    def alice_base_url(self) -> str:
        """The Alice base URL without a trailing slash."""
        return str(self.alice_api_url).rstrip("/")

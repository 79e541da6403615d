"""Settings: secure connections are expressible, bad combinations are refused at start-up."""

from __future__ import annotations

import ssl

import pytest
from faststream.security import SASLScram512
from pydantic import ValidationError

from service.kafka import client_options, faststream_security
from service.settings import Settings
from service.store.database import connect_args


def _settings(**values: object) -> Settings:
    return Settings(alice_api_key="k", **values)  # type: ignore[arg-type]


def test_sasl_ssl_with_scram_reaches_both_kafka_clients() -> None:
    """SASL_SSL + SCRAM-SHA-512 configures FastStream's broker and the relay's producer alike."""
    settings = _settings(
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_sasl_username="svc",
        kafka_sasl_password="s3cret",
    )
    security = faststream_security(settings)
    assert isinstance(security, SASLScram512)
    assert security.use_ssl
    options = client_options(settings)
    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert options["sasl_plain_username"] == "svc"
    assert options["sasl_plain_password"] == "s3cret"
    assert isinstance(options["ssl_context"], ssl.SSLContext)


def test_sasl_without_credentials_is_refused() -> None:
    """A SASL protocol without mechanism, user and password fails validation, naming them."""
    with pytest.raises(ValidationError, match="KAFKA_SASL_MECHANISM"):
        _settings(kafka_security_protocol="SASL_PLAINTEXT")


def test_plaintext_kafka_has_no_security_object() -> None:
    """The default PLAINTEXT protocol adds no TLS or SASL options."""
    settings = _settings()
    assert faststream_security(settings) is None
    assert "ssl_context" not in client_options(settings)


@pytest.mark.parametrize(
    ("mode", "verifies_host", "verifies_cert"),
    [("require", False, False), ("verify-ca", False, True), ("verify-full", True, True)],
)
def test_database_ssl_modes_build_the_expected_tls_context(
    mode: str, verifies_host: bool, verifies_cert: bool
) -> None:
    """DATABASE_SSLMODE maps to a TLS context that checks what the libpq mode checks."""
    context = connect_args(_settings(database_sslmode=mode))["ssl"]
    assert isinstance(context, ssl.SSLContext)
    assert context.check_hostname is verifies_host
    assert (context.verify_mode == ssl.CERT_REQUIRED) is verifies_cert


def test_libpq_style_urls_are_accepted_and_others_refused() -> None:
    """postgresql:// URLs are turned into asyncpg URLs; other schemes are refused."""
    settings = _settings(database_url="postgresql://u:p@db:5432/x")
    assert settings.database_url.get_secret_value().startswith("postgresql+asyncpg://")
    with pytest.raises(ValidationError, match="DATABASE_URL"):
        _settings(database_url="mysql://u:p@db/x")


def test_empty_api_key_is_refused() -> None:
    """An empty ALICE_API_KEY fails at start-up instead of at the first report."""
    with pytest.raises(ValidationError, match="ALICE_API_KEY"):
        Settings(alice_api_key="  ")  # type: ignore[arg-type]


def test_plain_http_alice_url_is_refused_by_default() -> None:
    """An http:// ALICE_API_URL fails at start-up unless ALLOW_INSECURE_ALICE_URL is set."""
    with pytest.raises(ValidationError, match="ALLOW_INSECURE_ALICE_URL"):
        _settings(alice_api_url="http://alice.internal/onboarding")
    assert not Settings.model_fields["allow_insecure_alice_url"].default


def test_plain_http_alice_url_is_accepted_when_explicitly_allowed() -> None:
    """ALLOW_INSECURE_ALICE_URL=true lets a local emulator on http://127.0.0.1 be used."""
    settings = _settings(alice_api_url="http://127.0.0.1:8081", allow_insecure_alice_url=True)
    assert settings.alice_base_url == "http://127.0.0.1:8081"


def test_https_alice_url_needs_no_allowance() -> None:
    """The sandbox's https:// URL is accepted with the insecure allowance left off."""
    settings = _settings(alice_api_url="https://apis.sandbox.alicebiometrics.com/onboarding")
    assert settings.alice_api_url.scheme == "https"

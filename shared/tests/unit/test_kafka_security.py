"""The Kafka security settings as aiokafka and FastStream take them."""

from __future__ import annotations

import os
import ssl

import pytest
from customer_agent_shared.messaging.security import faststream_security, kafka_client_options
from customer_agent_shared.settings import KafkaSecuritySettings, ServiceSettings
from faststream.security import BaseSecurity, SASLScram256, SASLScram512
from pydantic import SecretStr, ValidationError


@pytest.fixture(autouse=True)
def _no_ambient_kafka_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings come from each test's values alone: not from the shell, nor from an integration session's
    SCRAM user (``testing.kafka_identity``)."""
    for name in list(os.environ):
        if name.startswith("KAFKA_"):
            monkeypatch.delenv(name)


def settings(**values: object) -> KafkaSecuritySettings:
    return KafkaSecuritySettings.model_validate(values)


def test_plaintext_stays_the_default_and_adds_nothing() -> None:
    assert kafka_client_options(ServiceSettings()) == {}
    assert kafka_client_options(None) == {}
    assert faststream_security(ServiceSettings()) is None


def test_scram_over_plaintext_sends_the_user_and_password() -> None:
    chosen = settings(
        KAFKA_SECURITY_PROTOCOL="SASL_PLAINTEXT", KAFKA_SASL_USERNAME="routing", KAFKA_SASL_PASSWORD="s3cret"
    )
    assert kafka_client_options(chosen) == {
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "routing",
        "sasl_plain_password": "s3cret",
    }
    security = faststream_security(chosen)
    assert isinstance(security, SASLScram512)
    assert (security.username, security.password, security.use_ssl) == ("routing", "s3cret", False)


def test_scram_over_tls_carries_an_ssl_context() -> None:
    chosen = settings(
        KAFKA_SECURITY_PROTOCOL="SASL_SSL",
        KAFKA_SASL_MECHANISM="SCRAM-SHA-256",
        KAFKA_SASL_USERNAME="billing",
        KAFKA_SASL_PASSWORD=SecretStr("pw"),
    )
    options = kafka_client_options(chosen)
    assert options["security_protocol"] == "SASL_SSL"
    assert isinstance(options["ssl_context"], ssl.SSLContext)
    assert options["ssl_context"].verify_mode == ssl.CERT_REQUIRED
    security = faststream_security(chosen)
    assert isinstance(security, SASLScram256)
    assert security.use_ssl


def test_tls_alone_is_a_plain_security_object() -> None:
    security = faststream_security(settings(KAFKA_SECURITY_PROTOCOL="SSL"))
    assert type(security) is BaseSecurity
    assert security.use_ssl
    assert isinstance(security.ssl_context, ssl.SSLContext)


def test_the_password_never_shows_in_the_settings() -> None:
    chosen = settings(
        KAFKA_SECURITY_PROTOCOL="SASL_PLAINTEXT", KAFKA_SASL_USERNAME="routing", KAFKA_SASL_PASSWORD="s3cret"
    )
    assert "s3cret" not in repr(chosen)


@pytest.mark.parametrize(
    "values",
    [
        {"KAFKA_SECURITY_PROTOCOL": "SASL_SSL"},
        {"KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT", "KAFKA_SASL_USERNAME": "routing"},
        {"KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT", "KAFKA_SASL_USERNAME": "routing", "KAFKA_SASL_PASSWORD": ""},
        {"KAFKA_SECURITY_PROTOCOL": "SSL", "KAFKA_SSL_CERTFILE": "/tls/client.crt"},
        {"KAFKA_SECURITY_PROTOCOL": "SASL_MD5"},
    ],
)
def test_incomplete_settings_are_refused_at_start_up(values: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        settings(**values)

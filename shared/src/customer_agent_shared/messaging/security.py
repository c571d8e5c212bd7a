"""Kafka client security: the settings turned into aiokafka keyword arguments or a FastStream security object."""

from __future__ import annotations

import ssl
from typing import Any

from faststream.security import BaseSecurity, SASLScram256, SASLScram512

from customer_agent_shared.settings import KafkaSecuritySettings


def _ssl_context(settings: KafkaSecuritySettings) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=settings.kafka_ssl_cafile)
    if settings.kafka_ssl_certfile is not None:
        context.load_cert_chain(settings.kafka_ssl_certfile, settings.kafka_ssl_keyfile)
    return context


def kafka_client_options(settings: KafkaSecuritySettings | None) -> dict[str, Any]:
    """Keyword arguments of every aiokafka client (producer, consumer, admin); none for PLAINTEXT."""
    if settings is None or settings.kafka_security_protocol == "PLAINTEXT":
        return {}
    protocol = settings.kafka_security_protocol
    options: dict[str, Any] = {"security_protocol": protocol}
    if protocol in ("SSL", "SASL_SSL"):
        options["ssl_context"] = _ssl_context(settings)
    if protocol.startswith("SASL_"):
        password = settings.kafka_sasl_password
        options["sasl_mechanism"] = settings.kafka_sasl_mechanism
        options["sasl_plain_username"] = settings.kafka_sasl_username
        options["sasl_plain_password"] = password.get_secret_value() if password is not None else None
    return options


def faststream_security(settings: KafkaSecuritySettings | None) -> BaseSecurity | None:
    """The same settings as FastStream's ``KafkaBroker(security=...)`` wants them."""
    options = kafka_client_options(settings)
    if not options:
        return None
    ssl_context = options.get("ssl_context")
    if "sasl_mechanism" not in options:
        return BaseSecurity(ssl_context=ssl_context, use_ssl=True)
    scram = SASLScram512 if options["sasl_mechanism"] == "SCRAM-SHA-512" else SASLScram256
    return scram(
        options["sasl_plain_username"],
        options["sasl_plain_password"],
        ssl_context=ssl_context,
        use_ssl=ssl_context is not None,
    )

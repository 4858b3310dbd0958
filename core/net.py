"""Small network helpers shared by the stack, the ingestor and the SQL client."""

from __future__ import annotations

import socket
from collections.abc import Mapping
from typing import Any

from core.errors import ServiceUnavailable


def port_open(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def split_hostport(address: str) -> tuple[str, int]:
    """``host:port`` or ``[ipv6]:port`` as (host, port)."""
    host, _, port = address.strip().rpartition(":")
    return host.removeprefix("[").removesuffix("]"), int(port)


# How long a program on the Kafka port has to answer Kafka's own handshake.
KAFKA_HANDSHAKE_S = 5.0


def require_kafka(
    bootstrap: str,
    handshake_s: float = KAFKA_HANDSHAKE_S,
    security: Mapping[str, Any] | None = None,
) -> None:
    """Fail at once, in one sentence, when no broker listens (clients retry for 30 s),
    and within ``handshake_s`` when what listens does not speak Kafka. ``security``:
    kafka-python's TLS / SASL options (``Endpoints.kafka_security``)."""
    if not any(port_open(*split_hostport(a)) for a in bootstrap.split(",")):
        raise ServiceUnavailable(
            f"No Kafka broker answers at {bootstrap}.", setting="kafka.bootstrap_servers"
        )
    from kafka.admin import KafkaAdminClient
    from kafka.errors import KafkaError

    try:
        KafkaAdminClient(
            bootstrap_servers=bootstrap,
            bootstrap_timeout_ms=int(handshake_s * 1000),
            **(security or {}),
        ).close()
    except KafkaError as exc:
        raise ServiceUnavailable(
            f"Something listens at {bootstrap} but does not answer as a Kafka broker within "
            f"{handshake_s:.0f} s ({type(exc).__name__}): check the address, its security "
            "settings or the broker's log.",
            setting="kafka.bootstrap_servers",
        ) from None

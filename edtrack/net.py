"""Small network helpers shared by the stack, the ingestor and the SQL client."""

from __future__ import annotations

import socket

from edtrack.errors import ServiceUnavailable


def port_open(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def split_hostport(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host, int(port)


def require_kafka(bootstrap: str) -> None:
    """Fail at once, in one sentence, when no broker listens (clients retry for 30 s)."""
    if not any(port_open(*split_hostport(a.strip())) for a in bootstrap.split(",")):
        raise ServiceUnavailable(
            f"No Kafka broker answers at {bootstrap}: start the stack with 'edtrack stack up'."
        )

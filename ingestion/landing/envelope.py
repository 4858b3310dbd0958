"""A landed row: the message with its Kafka coordinates and landing time (the envelope),
and for a quarantined message its exact bytes and the reason."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

import orjson


def iso_ms(epoch_ms: int) -> str:
    moment = dt.datetime.fromtimestamp(epoch_ms / 1000, tz=dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{epoch_ms % 1000:03d}Z"


def partition_date(epoch_ms: int) -> str:
    """The raw table's partition value: the UTC date of the Kafka timestamp."""
    return dt.datetime.fromtimestamp(epoch_ms / 1000, tz=dt.UTC).strftime("%Y-%m-%d")


def envelope(message: Any, payload: str | None, error: str | None, ingested_at: str) -> bytes:
    """One JSON Lines row of the raw table (or, with ``error``, of the quarantine)."""
    key = message.key
    row: dict[str, Any] = {
        "kafka_topic": message.topic,
        "kafka_partition": message.partition,
        "kafka_offset": message.offset,
        "kafka_timestamp": iso_ms(message.timestamp),
        "kafka_key": key.decode("utf-8", "replace") if key is not None else None,
        "ingested_at": ingested_at,
    }
    if error is None:
        row["payload"] = payload
    else:
        value = message.value
        row["payload"] = value.decode("utf-8", "replace") if value is not None else None
        # The exact bytes, whatever they are: nothing is lost in quarantine.
        row["payload_base64"] = base64.b64encode(value).decode() if value is not None else None
        row["error"] = error
    return orjson.dumps(row) + b"\n"

"""A landed row: the message with its Kafka coordinates and landing time (the envelope),
and for a quarantined message its exact bytes and the reason."""

from __future__ import annotations

import base64
import datetime as dt
import functools
from typing import Any

import orjson

DAY_MS = 86_400_000
EPOCH = dt.date(1970, 1, 1)


@functools.lru_cache(maxsize=4096)
def _date(day: int) -> str:
    """The date ``day`` days after 1970-01-01. A topic's messages span few days, so two
    per message (partition and timestamp) cost a cache lookup, not a strftime each."""
    return (EPOCH + dt.timedelta(days=day)).strftime("%Y-%m-%d")


def iso_ms(epoch_ms: int) -> str:
    """``epoch_ms`` as UTC ISO 8601 to the millisecond (``2018-01-23T14:24:02.735Z``)."""
    day, ms = divmod(epoch_ms, DAY_MS)
    seconds, ms = divmod(ms, 1000)
    minutes, second = divmod(seconds, 60)
    hour, minute = divmod(minutes, 60)
    return f"{_date(day)}T{hour:02d}:{minute:02d}:{second:02d}.{ms:03d}Z"


def partition_date(epoch_ms: int) -> str:
    """The raw table's partition value: the UTC date of the Kafka timestamp."""
    return _date(epoch_ms // DAY_MS)


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

"""Pure pieces of landing: quarantine decisions, envelopes, and landed-file names.

A landed file's name carries topic, partition, the first and last offset of the batch
it belongs to, and which part of that batch it is:
``<topic>+<partition>+<first>+<last>.<part>of<parts>.jsonl``. One batch of one Kafka
partition becomes one file per (table, date) it touches, so a batch of attempts from
many days is a few files, not one per message. Offsets are zero-padded to 20 digits so
names sort in offset order. The lander recovers each partition's next offset from these
names alone (HDFS is the source of truth for what has landed); a batch counts as landed
only when all its parts are there.
"""

from __future__ import annotations

import base64
import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

import orjson

RAW = "raw"
QUARANTINE = "quarantine"
# The largest message, by default, for every side: the publisher rejects larger records,
# the lander quarantines larger messages, and Kafka's own default (message.max.bytes)
# is 1 MiB plus a batch header. EDTRACK_MAX_MESSAGE_BYTES changes it for both commands.
MAX_MESSAGE_BYTES = 1024 * 1024
MAX_MESSAGE_BYTES_ENV = "EDTRACK_MAX_MESSAGE_BYTES"
OFFSET_DIGITS = 20
_NAME = re.compile(
    r"^(?P<topic>.+)\+(?P<partition>\d+)\+(?P<first>\d+)\+(?P<last>\d+)"
    r"\.(?P<part>\d+)of(?P<parts>\d+)\.jsonl$"
)


@dataclass(frozen=True)
class LandedFile:
    topic: str
    partition: int
    first: int  # first offset of the batch
    last: int  # last offset of the batch
    part: int = 1  # 1-based
    parts: int = 1

    def __post_init__(self) -> None:
        if not (0 <= self.first <= self.last and 1 <= self.part <= self.parts):
            raise ValueError(f"inconsistent landed file {self}")

    @property
    def name(self) -> str:
        return (
            f"{self.topic}+{self.partition}+{self.first:0{OFFSET_DIGITS}d}"
            f"+{self.last:0{OFFSET_DIGITS}d}.{self.part}of{self.parts}.jsonl"
        )

    @property
    def batch(self) -> tuple[str, int, int, int]:
        return self.topic, self.partition, self.first, self.last

    @classmethod
    def parse(cls, name: str) -> LandedFile | None:
        match = _NAME.match(name)
        if match is None:
            return None
        try:
            return cls(
                match["topic"],
                int(match["partition"]),
                int(match["first"]),
                int(match["last"]),
                int(match["part"]),
                int(match["parts"]),
            )
        except ValueError:
            return None


def classify(value: bytes | None, max_bytes: int) -> tuple[str | None, str | None]:
    """Decide where a message goes: ``(payload_text, None)`` or ``(None, error)``."""
    if value is None:
        return None, "empty message (null value)"
    if len(value) > max_bytes:
        return None, f"message of {len(value):,} bytes exceeds the {max_bytes:,}-byte limit"
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, f"not UTF-8 ({exc.reason} at byte {exc.start})"
    if not text.strip():
        return None, "empty message"
    try:
        parsed = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        return None, f"not JSON ({exc})"
    if not isinstance(parsed, dict):
        kind = "null" if parsed is None else type(parsed).__name__
        return None, f"JSON {kind}, not an object"
    keen_id = parsed.get("keen_id")
    if not isinstance(keen_id, str) or not keen_id:
        return None, "no keen_id (missing, empty or not a string)"
    return text, None


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

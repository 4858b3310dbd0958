"""Publish attempts to Kafka, one message per attempt.

Delivery semantics: at-least-once into Kafka, with the idempotent producer (``acks=all``,
``enable_idempotence``) so broker-side retries add no duplicates. Every send's result is
checked; records that failed are reported by index and the command exits non-zero.
Duplicates from publishing the same file twice are kept by Kafka and removed downstream
(staging keeps one row per ``keen_id``). A run that failed part-way (some deliveries
failed, or the process died) is resumed with ``resume``: the topic is read once and
only records whose (file name, index) pair is not on it yet are sent.

Message: key = ``keen_id``, value = the record's compact JSON, headers ``source_file``
and ``record_index``, timestamp = the attempt's ``keen_timestamp`` (event time), so the
raw table partitions by when attempts happened and a replay lands in the same place.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Container
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edtrack.errors import UserError
from edtrack.net import require_kafka
from ingestion.source import Input, InputRecord, compact

DEFAULT_TOPIC = "assessment-attempts"
# ``progress`` is called every this many records: reading the input position is a
# system call that also hands the GIL to the producer's I/O thread (~10 % of the
# publish time when done per record).
PROGRESS_EVERY = 1000


@dataclass(frozen=True)
class PublishConfig:
    bootstrap: str
    topic: str = DEFAULT_TOPIC
    partitions: int = 3
    strict: bool = False
    rejects_path: Path | None = None
    linger_ms: int = 20
    batch_size: int = 512 * 1024
    max_request_size: int = 10 * 1024 * 1024


@dataclass
class PublishSummary:
    records: int = 0
    published: int = 0
    rejected: int = 0
    skipped: int = 0  # already on the topic (resume)
    bytes: int = 0
    seconds: float = 0.0
    failed: list[int] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.published / self.seconds if self.seconds else 0.0

    def line(self) -> str:
        return (
            f"published {self.published:,} of {self.records:,} records "
            f"({self.bytes / 1e6:.1f} MB) in {self.seconds:.1f} s, {self.rate:,.0f} records/s; "
            f"rejected {self.rejected:,}; failed {len(self.failed):,}"
            + (f"; {self.skipped:,} already on the topic" if self.skipped else "")
        )


def event_time_ms(record: dict[str, Any]) -> int | None:
    try:
        return int(float(record["keen_timestamp"]) * 1000)
    except (KeyError, TypeError, ValueError):
        return None


def ensure_topic(bootstrap: str, topic: str, partitions: int) -> None:
    """Create the topic when absent: ``partitions`` partitions, kept forever."""
    from kafka.admin import KafkaAdminClient, NewTopic
    from kafka.errors import TopicAlreadyExistsError

    require_kafka(bootstrap)
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15000)
    try:
        if topic in admin.list_topics():
            return
        # Attempts carry 2017-2018 event timestamps: time-based retention would delete
        # them at once, and the topic is the replayable source of truth anyway.
        new = NewTopic(topic, partitions, 1, topic_configs={"retention.ms": "-1"})
        with contextlib.suppress(TopicAlreadyExistsError):
            admin.create_topics([new])
    finally:
        admin.close()


def make_producer(config: PublishConfig):
    from kafka import KafkaProducer

    require_kafka(config.bootstrap)
    return KafkaProducer(
        bootstrap_servers=config.bootstrap,
        acks="all",
        enable_idempotence=True,
        linger_ms=config.linger_ms,
        batch_size=config.batch_size,
        max_request_size=config.max_request_size,
        retries=10,
    )


def source_name(path: str | Path) -> str:
    """What the ``source_file`` header holds for ``path``: its file name."""
    return "stdin" if str(path) == "-" else Path(path).name


def already_published(bootstrap: str, topic: str, source: str) -> set[int]:
    """Indexes of the records of ``source`` that are on ``topic`` (read once, no group).

    Memory: one int per record of that file already on the topic.
    """
    from kafka import KafkaConsumer, TopicPartition

    require_kafka(bootstrap)
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_bytes=64 * 1024 * 1024
    )
    found: set[int] = set()
    wanted = source.encode()
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        ends = consumer.end_offsets(tps)
        open_tps = {tp for tp in tps if consumer.position(tp) < ends[tp]}
        while open_tps:
            for tp, messages in consumer.poll(timeout_ms=1000, max_records=10_000).items():
                for message in messages:
                    headers = dict(message.headers or ())
                    if headers.get("source_file") == wanted and "record_index" in headers:
                        found.add(int(headers["record_index"]))
                if consumer.position(tp) >= ends[tp]:
                    open_tps.discard(tp)
    finally:
        consumer.close()
    return found


def publish(
    path: str | Path,
    config: PublishConfig,
    producer=None,
    progress: Callable[[int, int], None] | None = None,
    skip: Container[int] = frozenset(),
) -> PublishSummary:
    """Publish every object of ``path`` whose index is not in ``skip``; reject (or,
    strict, stop at) anything that is not an object."""
    summary = PublishSummary()
    t0 = time.monotonic()
    with Input(path) as source:
        if producer is None:
            ensure_topic(config.bootstrap, config.topic, config.partitions)
            producer = make_producer(config)
        name = source_name(source.name).encode()
        rejects = None
        failures: list[tuple[int, str]] = []
        try:
            for item in source.records():
                summary.records += 1
                if not item.ok:
                    if config.strict:
                        raise UserError(
                            f"Record {item.index} of {source.name}: {item.error} "
                            "(--strict stops at the first bad record)."
                        )
                    summary.rejected += 1
                    rejects = rejects or _open_rejects(config, source.name)
                    rejects.write(
                        json.dumps({"index": item.index, "error": item.error, "raw": item.raw})
                        + "\n"
                    )
                    continue
                if item.index in skip:
                    summary.skipped += 1
                    continue
                _send(producer, config.topic, item, name, failures, summary)
                if progress is not None and summary.records % PROGRESS_EVERY == 0:
                    progress(summary.records, source.bytes_read)
            producer.flush()
        finally:
            if rejects is not None:
                rejects.close()
            producer.close()
    summary.failed = sorted(index for index, _ in failures)
    summary.published -= len(summary.failed)
    summary.seconds = time.monotonic() - t0
    if failures:
        first = ", ".join(f"{i} ({err})" for i, err in failures[:5])
        raise PublishFailed(
            summary,
            f"{len(failures)} record(s) were not delivered: {first}; run the same command "
            "with --resume to publish only what is missing.",
        )
    return summary


class PublishFailed(UserError):
    def __init__(self, summary: PublishSummary, message: str) -> None:
        super().__init__(message)
        self.summary = summary


def _open_rejects(config: PublishConfig, source: str):
    path = config.rejects_path or Path(source_name(source) + ".rejects.jsonl")
    return open(path, "w", encoding="utf-8")


def _send(
    producer,
    topic: str,
    item: InputRecord,
    name: bytes,
    failures: list[tuple[int, str]],
    summary: PublishSummary,
) -> None:
    record = item.value
    value = compact(record)
    key = record.get("keen_id")
    summary.published += 1
    try:
        future = producer.send(
            topic,
            value=value,
            key=key.encode() if isinstance(key, str) else None,
            headers=[("source_file", name), ("record_index", str(item.index).encode())],
            timestamp_ms=event_time_ms(record),
        )
    except Exception as exc:  # e.g. MessageSizeTooLargeError is raised before sending
        failures.append((item.index, repr(exc)))
        return
    summary.bytes += len(value)
    future.add_errback(lambda exc, index=item.index: failures.append((index, repr(exc))))

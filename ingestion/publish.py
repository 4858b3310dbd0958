"""Publish attempts to Kafka, one message per attempt.

Delivery semantics: at-least-once into Kafka, with the idempotent producer (``acks=all``,
``enable_idempotence``) so broker-side retries add no duplicates. Every send's result is
checked; records that failed are reported by index and the command exits non-zero.
Duplicates from publishing the same file twice are kept by Kafka and removed downstream
(staging keeps one row per ``keen_id``). A run that failed part-way (some deliveries
failed, or the process died) is resumed with ``resume``: the topic is read once, each
record of the file at an index already on it must have the same bytes there (its
digest), and only the records not on it yet are sent. A file whose records differ from
those published under its name is refused, never skipped.

Message: key = ``keen_id``, value = the record's compact JSON, headers ``source_file``,
``record_index`` and ``record_blake2b`` (the value's 16-byte BLAKE2b digest), timestamp =
the attempt's ``keen_timestamp`` (event time), so the raw table partitions by when
attempts happened and a replay lands in the same place.

What does not become a message goes to the rejects file, with its index, the reason
and its exact bytes (``raw``, or ``raw_base64`` when they are not UTF-8): elements that
are not objects, lines that are not JSON, records over the message size limit. An
input with no record, or with no object at all, is an error.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import time
from collections.abc import Callable, Container, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import UserError
from core.net import require_kafka
from ingestion.source import Input, InputBroken, InputRecord, compact
from ingestion.topic import DEFAULT_TOPIC, MAX_MESSAGE_BYTES, read_topic

# ``progress`` is called every this many records: reading the input position is a
# system call that also hands the GIL to the producer's I/O thread (~10 % of the
# publish time when done per record).
PROGRESS_EVERY = 1000
DIGEST_HEADER = "record_blake2b"
# Room above the largest record for its record batch's own header and headers.
BATCH_HEADER = 64 * 1024
# The topic takes messages up to this size at least (the local broker's own limit), so
# a message another producer sends above edtrack's limit reaches the lander's
# quarantine instead of being refused by the broker.
TOPIC_MESSAGE_BYTES = 10 * 1024 * 1024


def record_digest(value: bytes) -> bytes:
    """What identifies a message's content for --resume: 16 bytes of BLAKE2b."""
    return hashlib.blake2b(value, digest_size=16).digest()


@dataclass(frozen=True)
class PublishConfig:
    bootstrap: str
    topic: str = DEFAULT_TOPIC
    partitions: int = 3
    strict: bool = False
    rejects_path: Path | None = None
    # The records are the array at this key of a top-level JSON object (--path).
    array_path: str | None = None
    linger_ms: int = 20
    batch_size: int = 512 * 1024
    # A larger record is rejected (rejects file), not sent: the broker would refuse it.
    max_message_bytes: int = MAX_MESSAGE_BYTES
    # kafka-python's TLS / SASL options for every client (Endpoints.kafka_security).
    security: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class PublishSummary:
    records: int = 0
    published: int = 0
    rejected: int = 0
    skipped: int = 0  # already on the topic (resume)
    bytes: int = 0
    seconds: float = 0.0
    failed: list[int] = field(default_factory=list)
    rejects_path: Path | None = None

    @property
    def rate(self) -> float:
        return self.published / self.seconds if self.seconds else 0.0

    def line(self) -> str:
        return (
            f"published {self.published:,} of {self.records:,} records "
            f"({self.bytes / 1e6:.1f} MB) in {self.seconds:.1f} s, {self.rate:,.0f} records/s; "
            f"rejected {self.rejected:,}; failed {len(self.failed):,}"
            + (f"; {self.skipped:,} already on the topic" if self.skipped else "")
            + (f"; rejects in {self.rejects_path}" if self.rejects_path else "")
        )


def event_time_ms(record: dict[str, Any]) -> int | None:
    try:
        return int(float(record["keen_timestamp"]) * 1000)
    except (KeyError, TypeError, ValueError):
        return None


def ensure_topic(
    bootstrap: str,
    topic: str,
    partitions: int,
    max_message_bytes: int = MAX_MESSAGE_BYTES,
    security: Mapping[str, Any] | None = None,
) -> None:
    """Create the topic when absent: ``partitions`` partitions replicated as the brokers'
    default says, kept forever, taking messages up to ``max_message_bytes`` (plus a batch
    header) and at least 10 MiB."""
    from kafka.admin import KafkaAdminClient, NewTopic
    from kafka.errors import TopicAlreadyExistsError

    require_kafka(bootstrap, security=security)
    admin = KafkaAdminClient(
        bootstrap_servers=bootstrap, request_timeout_ms=15000, **(security or {})
    )
    try:
        if topic in admin.list_topics():
            return
        # Attempts carry 2017-2018 event timestamps: time-based retention would delete
        # them at once, and the topic is the replayable source of truth anyway.
        largest = max(max_message_bytes + BATCH_HEADER, TOPIC_MESSAGE_BYTES)
        configs = {"retention.ms": "-1", "max.message.bytes": str(largest)}
        # The brokers' replication factor (-1: default.replication.factor), and their
        # min.insync.replicas: one copy on one broker, three on a cluster.
        new = NewTopic(topic, partitions, -1, topic_configs=configs)
        with contextlib.suppress(TopicAlreadyExistsError):
            admin.create_topics([new])
    finally:
        admin.close()


def make_producer(config: PublishConfig):
    from kafka import KafkaProducer

    require_kafka(config.bootstrap, security=config.security)
    return KafkaProducer(
        bootstrap_servers=config.bootstrap,
        **config.security,
        acks="all",
        enable_idempotence=True,
        linger_ms=config.linger_ms,
        batch_size=config.batch_size,
        max_request_size=config.max_message_bytes + BATCH_HEADER,
        retries=10,
    )


def source_name(path: str | Path) -> str:
    """What the ``source_file`` header holds for ``path``: its file name."""
    return "stdin" if str(path) == "-" else Path(path).name


def already_published(
    bootstrap: str, topic: str, source: str, security: Mapping[str, Any] | None = None
) -> dict[int, bytes | None]:
    """The records of ``source`` on ``topic``: index -> content digest (None when the
    message has none, published before digests were added). Read once, no group.

    Memory: an int and 16 bytes per record of that file already on the topic.
    """
    require_kafka(bootstrap, security=security)
    found: dict[int, bytes | None] = {}
    wanted = source.encode()
    for message in read_topic(bootstrap, topic, security=security):
        headers = dict(message.headers or ())
        if headers.get("source_file") == wanted and "record_index" in headers:
            found[int(headers["record_index"])] = headers.get(DIGEST_HEADER)
    return found


def plan_resume(
    path: str | Path,
    topic: str,
    on_topic: dict[int, bytes | None],
    array_path: str | None = None,
) -> set[int]:
    """The indexes of ``path`` to skip: those on the topic with the same content.

    Refuses (one sentence, nothing sent) when a record on the topic under this file's
    name differs from the file's record at that index: it is another file.
    """
    name = source_name(path)
    if str(path) == "-":
        raise UserError("--resume needs a file: standard input cannot be compared with the topic.")
    if not on_topic:
        return set()
    if any(digest is None for digest in on_topic.values()):
        raise UserError(
            f"The records of {name} on {topic} carry no content digest (published by an "
            "earlier edtrack), so --resume cannot tell whether this is the same file: "
            "publish it without --resume (staging keeps one row per attempt)."
        )
    skip: set[int] = set()
    last = max(on_topic)
    with Input(path, array_path) as source:
        for item in source.records():
            if item.index > last:
                break
            if item.index not in on_topic:
                continue
            same = item.ok and record_digest(compact(item.value)) == on_topic[item.index]
            if not same:
                raise UserError(
                    f"{name} is not the file published to {topic} under that name: its record "
                    f"{item.index} differs from the one on the topic. Publish it without "
                    "--resume to send all its records, or under another file name."
                )
            skip.add(item.index)
    missing = sorted(set(on_topic) - skip)
    if missing:
        raise UserError(
            f"{name} has fewer records than were published under its name to {topic} "
            f"(record {missing[0]} is on the topic, not in the file): it is another file. "
            "Publish it without --resume, or under another file name."
        )
    return skip


def publish(
    path: str | Path,
    config: PublishConfig,
    producer=None,
    progress: Callable[[int, int], None] | None = None,
    skip: Container[int] = frozenset(),
) -> PublishSummary:
    """Publish every object of ``path`` whose index is not in ``skip``; reject (or,
    strict, stop at) anything that is not an object or is too large to send."""
    summary = PublishSummary()
    t0 = time.monotonic()
    with Input(path, config.array_path) as source:
        if source.layout == "empty":
            raise UserError(f"{source.name} is empty: there is nothing to publish.")
        if producer is None:
            ensure_topic(
                config.bootstrap,
                config.topic,
                config.partitions,
                config.max_message_bytes,
                config.security,
            )
            producer = make_producer(config)
        name = source_name(source.name).encode()
        rejects = Rejects(config, source.name)
        failures: list[tuple[int, str]] = []
        broken: InputBroken | None = None
        try:
            for item in source.records():
                summary.records += 1
                if item.index == 0 and item.ok:
                    _refuse_a_wrapper(source.name, item.value)
                value = compact(item.value) if item.ok else None
                error = item.error
                if value is not None and len(value) > config.max_message_bytes:
                    error = (
                        f"record is {len(value):,} bytes, over the {config.max_message_bytes:,}"
                        "-byte message limit (--max-message-bytes)"
                    )
                if error is not None:
                    if config.strict:
                        raise UserError(
                            f"Record {item.index} of {source.name}: {error} "
                            "(--strict stops at the first bad record)."
                        )
                    summary.rejected += 1
                    rejects.write(item, error)
                    continue
                if item.index in skip:
                    summary.skipped += 1
                    continue
                _send(producer, config.topic, item, value, name, failures, summary)
                if progress is not None and summary.records % PROGRESS_EVERY == 0:
                    progress(summary.records, source.bytes_read)
            producer.flush()
        except InputBroken as exc:
            producer.flush()  # what was sent before the break is counted below
            broken = exc
        finally:
            rejects.close()
            producer.close()  # waits for every delivery still in flight
    summary.rejects_path = rejects.path
    summary.failed = sorted(index for index, _ in failures)
    summary.published -= len(summary.failed)
    summary.seconds = time.monotonic() - t0
    if broken is not None:
        raise PublishFailed(
            summary,
            f"{broken} {summary.published:,} record(s) before it were sent: once the file is "
            "whole, publish it again with --resume to send only the rest.",
        )
    if failures:
        first = ", ".join(f"{i} ({err})" for i, err in failures[:5])
        too_large = any("MessageSizeTooLarge" in err for _, err in failures)
        advice = (
            "the topic takes smaller messages than --max-message-bytes: lower it (larger "
            "records then go to the rejects file) or raise the topic's max.message.bytes, "
            "then run the same command with --resume."
            if too_large
            else "run the same command with --resume to publish only what is missing."
        )
        raise PublishFailed(
            summary, f"{len(failures)} record(s) were not delivered: {first}; {advice}"
        )
    if summary.records == summary.rejected:
        raise PublishFailed(
            summary,
            f"None of the {summary.records:,} record(s) of {source.name} could be published "
            f"({rejects.first_error}); they are in {rejects.path}.",
        )
    return summary


def _refuse_a_wrapper(name: str, record: dict[str, Any]) -> None:
    """A one-line JSON object that holds the attempts (``{"data": [{"keen_id": ...}]}``)
    would otherwise become one message, quarantined later for lacking a keen_id."""
    if "keen_id" in record:
        return
    for key, value in record.items():
        if (
            isinstance(value, list)
            and value
            and isinstance(value[0], dict)
            and "keen_id" in value[0]
        ):
            raise UserError(
                f"{name} is one JSON object holding {len(value):,} records under {key!r}, "
                f"not the records themselves: publish them with --path {key}."
            )


class PublishFailed(UserError):
    def __init__(self, summary: PublishSummary, message: str) -> None:
        super().__init__(message)
        self.summary = summary


class Rejects:
    """The rejects file: opened on the first reject, beside the input (FILE.rejects.jsonl,
    or the --rejects path), never over an existing file (FILE.rejects.1.jsonl, ...).
    Each line: index, reason and the record's exact bytes."""

    def __init__(self, config: PublishConfig, source: str) -> None:
        if config.rejects_path is not None:
            self.wanted = config.rejects_path
        elif source == "-":
            self.wanted = Path("stdin.rejects.jsonl")
        else:
            self.wanted = Path(source).with_name(Path(source).name + ".rejects.jsonl")
        self.path: Path | None = None
        self.first_error: str | None = None
        self._file = None

    def _free_path(self) -> Path:
        path, n = self.wanted, 0
        stem = self.wanted.name.removesuffix(".jsonl")
        while path.exists():
            n += 1
            path = self.wanted.with_name(f"{stem}.{n}.jsonl")
        return path

    def write(self, item: InputRecord, error: str) -> None:
        if self._file is None:
            self.path = self._free_path()
            self._file = open(self.path, "x", encoding="utf-8")  # noqa: SIM115 - close()
            self.first_error = error
        line: dict[str, Any] = {"index": item.index, "error": error}
        raw = item.raw if item.raw is not None else compact(item.value)
        try:
            line["raw"] = raw.decode("utf-8")
        except UnicodeDecodeError:
            line["raw_base64"] = base64.b64encode(raw).decode("ascii")
        self._file.write(json.dumps(line, ensure_ascii=False) + "\n")

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


def _send(
    producer,
    topic: str,
    item: InputRecord,
    value: bytes,
    name: bytes,
    failures: list[tuple[int, str]],
    summary: PublishSummary,
) -> None:
    record = item.value
    key = record.get("keen_id")
    summary.published += 1
    headers = [
        ("source_file", name),
        ("record_index", str(item.index).encode()),
        (DIGEST_HEADER, record_digest(value)),
    ]
    try:
        future = producer.send(
            topic,
            value=value,
            key=key.encode() if isinstance(key, str) else None,
            headers=headers,
            timestamp_ms=event_time_ms(record),
        )
    except Exception as exc:  # e.g. MessageSizeTooLargeError is raised before sending
        failures.append((item.index, repr(exc)))
        return
    summary.bytes += len(value)
    future.add_errback(lambda exc, index=item.index: failures.append((index, repr(exc))))

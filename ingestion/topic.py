"""The topic publish writes and the lander reads: its name, the largest message either
side accepts, and reading it whole (its size, its offsets, every message).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

DEFAULT_TOPIC = "assessment-attempts"
# The largest message, by default, for every side: the publisher rejects larger records,
# the lander quarantines larger messages, and Kafka's own default (message.max.bytes)
# is 1 MiB plus a batch header. EDTRACK_MAX_MESSAGE_BYTES changes it for both commands.
MAX_MESSAGE_BYTES = 1024 * 1024
MAX_MESSAGE_BYTES_ENV = "EDTRACK_MAX_MESSAGE_BYTES"


def partition_offsets(
    bootstrap: str, topic: str, security: Mapping[str, Any] | None = None
) -> dict[int, tuple[int, int]]:
    """Per partition of ``topic``: its first offset and the offset after its last
    message (``{}`` when the topic does not exist)."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, **(security or {}))
    try:
        partitions = sorted(consumer.partitions_for_topic(topic) or ())
        tps = [TopicPartition(topic, p) for p in partitions]
        if not tps:
            return {}
        starts, ends = consumer.beginning_offsets(tps), consumer.end_offsets(tps)
        return {tp.partition: (starts[tp], ends[tp]) for tp in tps}
    finally:
        consumer.close()


def topic_size(bootstrap: str, topic: str, security: Mapping[str, Any] | None = None) -> int:
    """Messages in ``topic``, all partitions together (0 when it does not exist)."""
    offsets = partition_offsets(bootstrap, topic, security)
    return sum(end - start for start, end in offsets.values())


def read_topic(
    bootstrap: str,
    topic: str,
    fetch_max_bytes: int = 64 * 1024 * 1024,
    security: Mapping[str, Any] | None = None,
) -> Iterator:
    """Every message on ``topic``, from each partition's first offset up to its end when
    called; no consumer group, nothing committed. Nothing when the topic does not exist."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        fetch_max_bytes=fetch_max_bytes,
        **(security or {}),
    )
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        if not tps:
            return
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        ends = consumer.end_offsets(tps)
        unread = {tp for tp in tps if consumer.position(tp) < ends[tp]}
        while unread:
            for tp, messages in consumer.poll(timeout_ms=1000, max_records=10_000).items():
                yield from (m for m in messages if m.offset < ends[tp])
                if consumer.position(tp) >= ends[tp]:
                    unread.discard(tp)
    finally:
        consumer.close()

"""Inputs of the reliability scenarios: generated attempts and the bad-input corpus."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from ingestion.generate import generate, write
from tests.reliability.corpus import CASES

# Every corpus case on one date: one raw partition to build.
CORPUS_TIMESTAMP_MS = 1516717442735
MAX_REQUEST_BYTES = 8 * 1024 * 1024  # the corpus's 5 MiB case; the broker takes 10 MiB


def attempts_file(folder: Path, name: str, count: int, seed: int, day: int = 0) -> Path:
    """``count`` generated attempts over three days from ``day`` days after 2018-01-10."""
    start = dt.datetime(2018, 1, 10, tzinfo=dt.UTC) + dt.timedelta(days=day)
    path = folder / f"{name}.jsonl"
    write(generate(count, seed=seed, start=start, days=3), path)
    return path


def publish_corpus(bootstrap: str, topic: str) -> dict[str, tuple[int, int]]:
    """Send every corpus case as it is (value, key or none), one at a time so that a
    duplicate reaches its partition after its original; each case's (partition, offset)."""
    from kafka import KafkaProducer

    producer = KafkaProducer(
        bootstrap_servers=bootstrap, acks="all", max_request_size=MAX_REQUEST_BYTES
    )
    where = {}
    try:
        for case in CASES:
            sent = producer.send(
                topic, value=case.value, key=case.key, timestamp_ms=CORPUS_TIMESTAMP_MS
            ).get(timeout=60)
            where[case.id] = (sent.partition, sent.offset)
    finally:
        producer.close()
    return where

"""Reconciliation: every message on a topic against the rows the lander wrote.

Each message must be in the raw table or in the quarantine table (with a reason), once,
with its exact bytes. ``Ledger`` adds up the faults injected and the reconciliations over
a test session; the suite prints its summary line at the end.
"""

from __future__ import annotations

import collections
import hashlib
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path

from core import sql
from ingestion.topic import read_topic


@dataclass(frozen=True)
class Place:
    """Where a lander reads and writes: topic, HDFS root, metastore schema."""

    topic: str = "assessment-attempts"
    root: str = "/edtrack/raw"
    schema: str = "raw"

    @property
    def args(self) -> tuple[str, ...]:
        return ("--topic", self.topic, "--root", self.root, "--schema", self.schema)


@dataclass(frozen=True)
class Reconciliation:
    place: Place
    on_topic: int
    raw: int
    quarantined: int
    lost: list[tuple[int, int]]
    duplicated: list[tuple[int, int]]  # one entry per extra copy
    strangers: list[tuple[int, int]]  # rows whose message is not on the topic
    altered: list[tuple[int, int]]  # bytes differ from the message's, or no reason given

    @property
    def ok(self) -> bool:
        return not (self.lost or self.duplicated or self.strangers or self.altered)

    def describe(self) -> str:
        return (
            f"{self.place.topic} -> {self.place.schema}: {self.on_topic} on the topic, "
            f"{self.raw} raw, {self.quarantined} quarantined; lost {self.lost[:10]}, "
            f"duplicated {self.duplicated[:10]}, not on the topic {self.strangers[:10]}, "
            f"altered {self.altered[:10]}"
        )


def sha256(value: bytes | None) -> str | None:
    return None if value is None else hashlib.sha256(value).hexdigest()


def topic_messages(bootstrap: str, topic: str) -> dict[tuple[int, int], str | None]:
    """(partition, offset) -> sha256 of the value, for every message on ``topic``."""
    return {(m.partition, m.offset): sha256(m.value) for m in read_topic(bootstrap, topic)}


def landed_rows(host: str, port: int, place: Place) -> dict[str, list[tuple]]:
    """The rows of both raw tables of ``place``: (partition, offset, sha256[, error])."""
    connection = sql.connect(host, port)
    try:
        where = f"where kafka_topic = '{place.topic}'"
        raw = sql.run(
            connection,
            "select kafka_partition, kafka_offset, sha2(cast(payload as binary), 256) "
            f"from {place.schema}.assessment_attempts {where}",
        ).rows
        quarantine = sql.run(
            connection,
            "select kafka_partition, kafka_offset, sha2(unbase64(payload_base64), 256), error "
            f"from {place.schema}.assessment_attempts_quarantine {where}",
        ).rows
    finally:
        connection.close()
    return {"raw": [tuple(r) for r in raw], "quarantine": [tuple(r) for r in quarantine]}


def reconcile(config, place: Place) -> Reconciliation:
    """Compare ``place``'s topic with its raw tables on the stack of ``config``."""
    messages = topic_messages(config.kafka_bootstrap, place.topic)
    rows = landed_rows(config.host, config.ports["thrift"], place)
    copies: collections.Counter = collections.Counter()
    altered = []
    for table, found in rows.items():
        for row in found:
            where = (row[0], row[1])
            copies[where] += 1
            bad_reason = table == "quarantine" and not (row[3] or "").strip()
            if where in messages and (messages[where] != row[2] or bad_reason):
                altered.append(where)
    return Reconciliation(
        place=place,
        on_topic=len(messages),
        raw=len(rows["raw"]),
        quarantined=len(rows["quarantine"]),
        lost=sorted(w for w in messages if copies[w] == 0),
        duplicated=sorted(w for w, n in copies.items() if w in messages for _ in range(n - 1)),
        strangers=sorted(w for w in copies if w not in messages),
        altered=sorted(altered),
    )


@dataclass
class Ledger:
    """Faults and reconciliations of one test session."""

    faults: int = 0
    lost: int = 0
    duplicated: int = 0
    reconciliations: int = 0
    records: dict[str, int] = field(default_factory=dict)  # per topic: messages reconciled
    scenarios: list[dict] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def fault(self, what: str, count: int = 1) -> None:
        with self._lock:
            self.faults += count
        print(f"[reliability] fault #{self.faults}: {what}", flush=True)

    def add(self, scenario: str, result: Reconciliation, faults: int) -> None:
        with self._lock:
            self.reconciliations += 1
            self.lost += len(result.lost) + len(result.altered)
            self.duplicated += len(result.duplicated) + len(result.strangers)
            # Messages, not rows: a topic landed into two places counts once.
            topic = result.place.topic
            self.records[topic] = max(self.records.get(topic, 0), result.on_topic)
            self.scenarios.append(
                {
                    "scenario": scenario,
                    "faults": faults,
                    "on_topic": result.on_topic,
                    "raw": result.raw,
                    "quarantined": result.quarantined,
                    "lost": len(result.lost) + len(result.altered),
                    "duplicated": len(result.duplicated) + len(result.strangers),
                }
            )
        print(f"[reliability] {scenario}: {result.describe()}", flush=True)

    def line(self) -> str:
        return (
            f"faults={self.faults} records={sum(self.records.values())} "
            f"lost={self.lost} duplicated={self.duplicated}"
        )

    def write(self, path: Path, **extra: object) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        state = {
            "faults": self.faults,
            "records": sum(self.records.values()),
            "lost": self.lost,
            "duplicated": self.duplicated,
            "reconciliations": self.reconciliations,
            "records_per_topic": self.records,
            "scenarios": self.scenarios,
        }
        path.write_text(json.dumps({"summary": self.line(), **state, **extra}, indent=2) + "\n")


LEDGER = Ledger()

"""Land Kafka messages on HDFS as JSON Lines, exactly once.

Delivery semantics (the order of steps is the guarantee):

1. Consume with auto-commit off; buffer each partition's messages until a batch is
   full by records, bytes or age.
2. Split the batch by target (table and partition date; rows keep offset order),
   write each part to a temporary HDFS file, then rename each (atomic in HDFS) to
   ``<table>/kafka_date=<D>/<topic>+<partition>+<first>+<last>.<k>of<n>.jsonl``.
3. Register new partitions in the metastore, then commit ``last + 1`` to Kafka, so
   Kafka's own group tools show true lag.

HDFS is the source of truth for offsets: on start the lander deletes orphaned
temporary files, deletes the landed parts of a batch whose parts are not all there (a
crash between two renames), and resumes each partition after the last complete batch.
A crash before the last rename of a batch leaves it to be landed again whole; a crash
after it leaves a complete batch that the restart skips past. Neither loses nor
duplicates a row. Every message lands in exactly one of the raw table or the
quarantine table.

Replay (``edtrack replay``) deletes a partition's landed batches from an offset on
(whole batches, so it may start a little earlier) and lands them again from Kafka:
the same messages, the same dates, the same rows. One lander per topic and root runs
at a time: a lock file in the stack's run dir refuses a second one.

Memory is bounded by the batch settings, not by the topic: each partition buffers at
most one batch (``batch_records`` / ``batch_bytes`` of envelopes) plus one poll
(``POLL_RECORDS`` messages); the consumer holds at most ``fetch_max_bytes`` of fetched
data; a flush holds one more copy of the batches it writes while it stages them. So
RSS <= baseline + 2 x partitions x batch + fetch_max_bytes. With the defaults, 3
partitions and ~2.6 KB attempts (a batch of 20,000 is ~60 MB of envelopes) that is
about 100 + 360 + 64 MB; ``bench/ingest.py`` measures it, and plots RSS over the
run, which levels off after the first batches (~0.6 GB peak).

An HDFS write refused for good (a space quota, a full disk, permissions) stops the
lander with one sentence before anything of the batch is committed; started again, it
resumes after the last complete batch. A transient one (a NameNode or DataNode
restarting) writes the batch's parts again under the retry policy, and a Kafka broker
that is away (a restart) delays polls and the offset commit the same way.

For the reliability suite, a fault point (``FaultPoint``, off unless
``LandConfig.fault`` is set: ``EDTRACK_LANDER_FAULT`` in the CLI) SIGKILLs the lander the
n-th time it reaches a named step of a flush.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import io
import json
import os
import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from edtrack.errors import ServiceUnavailable, UserError
from edtrack.net import require_kafka
from ingestion.catalog import (
    DEFAULT_ROOT,
    QUARANTINE_TABLE,
    RAW_TABLE,
    SCHEMA,
    Catalog,
    Tables,
    transient_registration_failure,
)
from ingestion.envelope import (
    MAX_MESSAGE_BYTES,
    LandedFile,
    classify,
    envelope,
    partition_date,
)
from ingestion.publish import DEFAULT_TOPIC

PARTITION_DIR_PREFIX = "kafka_date="
# Named steps of a flush where a fault point can kill the lander, in flush order.
FAULT_STEPS = (
    "writing",  # half of a part's bytes written to its temporary file
    "staged",  # every part staged, none renamed
    "renamed-one",  # the first part renamed, the others not (crash between two renames)
    "renamed",  # every part renamed, no partition registered
    "registering",  # the raw table's dates registered, the quarantine's not yet
    "registered",  # every date registered, offsets not committed
    "committed",  # offsets committed
)
# Messages taken per poll: a partition's buffer overshoots its batch by at most this.
POLL_RECORDS = 2000


@dataclass(frozen=True)
class FaultPoint:
    """Kill the lander (SIGKILL, no clean-up) the ``hit``-th time it reaches ``step``.

    Parsed from ``step`` or ``step:hit`` (``EDTRACK_LANDER_FAULT=renamed:3``).
    """

    step: str
    hit: int = 1

    def __post_init__(self) -> None:
        if self.step not in FAULT_STEPS:
            raise UserError(
                f"Unknown lander fault step {self.step!r}; steps: {', '.join(FAULT_STEPS)}."
            )
        if self.hit < 1:
            raise UserError(f"A fault point's hit count starts at 1, not {self.hit}.")

    @classmethod
    def parse(cls, text: str) -> FaultPoint:
        step, _, hit = text.strip().partition(":")
        if hit and not hit.isdigit():
            raise UserError(f"Lander fault {text!r}: the hit count must be a whole number.")
        return cls(step, int(hit) if hit else 1)


class Faults:
    """Counts the steps a lander reaches; acts when the configured one comes up."""

    def __init__(self, point: FaultPoint | None, act: Callable[[], None] | None = None) -> None:
        self.point = point
        self.act = act or (lambda: os.kill(os.getpid(), signal.SIGKILL))
        self.hits: dict[str, int] = {}
        self._lock = threading.Lock()

    def reach(self, step: str) -> None:
        if self.point is None or step != self.point.step:
            return
        with self._lock:
            self.hits[step] = self.hits.get(step, 0) + 1
            fire = self.hits[step] == self.point.hit
        if fire:
            self.act()


class HdfsWriteFailed(UserError):
    """HDFS refused a write: nothing of the batch was committed."""

    # Refusals that last until someone acts; anything else (a NameNode in safe mode or
    # restarting, no DataNode yet) is worth writing again after a while.
    LASTING = ("quota", "accesscontrolexception", "permission denied", "no space left", "read-only")

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason

    @property
    def transient(self) -> bool:
        return not any(word in self.reason.lower() for word in self.LASTING)


@dataclass(frozen=True)
class Away:
    """A service the lander waits for while it restarts: which errors say it is away, and
    what to tell the operator when it stays away."""

    name: str  # "Kafka at 127.0.0.1:9092"
    retriable: Callable[[BaseException], bool]
    advice: str


def kafka_away(bootstrap: str) -> Away:
    """Kafka marks its transient errors ``retriable = True`` (connection refused,
    timeouts, no leader yet)."""
    return Away(
        f"Kafka at {bootstrap}",
        lambda exc: bool(getattr(exc, "retriable", False)),
        "Landed files are safe on HDFS: start the lander again once Kafka is back; "
        "it resumes from HDFS.",
    )


def metastore_away(connection: str) -> Away:
    """Registering a date goes through the Thrift Server to the metastore, which checks
    the folder on HDFS: a NameNode restarting fails it with a connection error."""
    return Away(
        f"The Thrift Server at {connection}",
        transient_registration_failure,
        "Landed files are safe on HDFS: start the lander again once HDFS and the "
        "Thrift Server are back; it registers every landed date at start.",
    )


@dataclass(frozen=True)
class RetryPolicy:
    """How the lander rides out a service that is away for a while (a restart).

    Only errors the service's ``Away`` calls retriable are retried, ``attempts`` times in
    all, waiting ``backoff_s`` doubled each time up to ``max_backoff_s`` (about two
    minutes with the defaults). ``sleep`` is injectable so tests never wait.
    """

    attempts: int = 30
    backoff_s: float = 0.5
    max_backoff_s: float = 5.0
    sleep: Callable[[float], None] = time.sleep

    def call(self, fn: Callable[[], object], what: str, report: Callable[[str], None], away: Away):
        wait = self.backoff_s
        waited = 0.0
        for attempt in range(1, self.attempts + 1):
            try:
                return fn()
            except Exception as exc:
                if not away.retriable(exc):
                    raise
                if attempt == self.attempts:
                    raise ServiceUnavailable(
                        f"{away.name} did not answer for {waited:.0f} s while {what} "
                        f"({type(exc).__name__}). {away.advice}"
                    ) from exc
                report(
                    f"{away.name} unavailable while {what} ({type(exc).__name__}: "
                    f"{_first_line(exc)}); retry {attempt} in {wait:.1f} s"
                )
                self.sleep(wait)
                waited += wait
                wait = min(wait * 2, self.max_backoff_s)
        raise AssertionError("unreachable")


@dataclass(frozen=True)
class LandConfig:
    bootstrap: str
    topic: str = DEFAULT_TOPIC
    group_id: str = "edtrack-lander"
    batch_records: int = 20_000
    batch_bytes: int = 64 * 1024 * 1024
    batch_age_s: float = 10.0
    max_message_bytes: int = MAX_MESSAGE_BYTES
    # Parts are staged in parallel: each HDFS close waits ~0.5 s for the DataNode's
    # block report (hdfs-native's retry interval), so one thread would cap throughput.
    # A backfill batch has one part per date (~70 for ten weeks of attempts): enough
    # threads stage them all in one round of closes (threads start only when needed).
    write_threads: int = 128
    poll_timeout_ms: int = 500
    status_path: Path | None = None
    progress_every_s: float = 5.0
    fetch_max_bytes: int = 64 * 1024 * 1024
    fault: FaultPoint | None = None  # off: only the reliability suite sets one


@dataclass(frozen=True)
class Replay:
    """Land a partition again from an offset, or from the first message at or after a
    timestamp (ms since the epoch)."""

    partition: int
    offset: int | None = None
    timestamp_ms: int | None = None

    def __post_init__(self) -> None:
        if (self.offset is None) == (self.timestamp_ms is None):
            raise ValueError("a replay starts from an offset or from a timestamp, not both")


@dataclass
class Pending:
    """Messages of one partition waiting to land."""

    offsets: list[int] = field(default_factory=list)
    targets: list[tuple[str, str]] = field(default_factory=list)  # (table, date)
    lines: list[bytes] = field(default_factory=list)
    size: int = 0
    since: float = 0.0

    def add(self, offset: int, target: tuple[str, str], line: bytes, now: float) -> None:
        if not self.offsets:
            self.since = now
        self.offsets.append(offset)
        self.targets.append(target)
        self.lines.append(line)
        self.size += len(line)

    def full(self, config: LandConfig, now: float) -> bool:
        return bool(self.offsets) and (
            len(self.offsets) >= config.batch_records
            or self.size >= config.batch_bytes
            or now - self.since >= config.batch_age_s
        )

    def parts(self) -> list[tuple[tuple[str, str], list[bytes]]]:
        """Rows grouped by target (table, date), in target order; rows keep offset order."""
        groups: dict[tuple[str, str], list[bytes]] = {}
        for target, line in zip(self.targets, self.lines, strict=True):
            groups.setdefault(target, []).append(line)
        return sorted(groups.items())


@dataclass
class Stats:
    started: float = field(default_factory=time.monotonic)
    records: int = 0
    quarantined: int = 0
    files: int = 0
    last_commit: float | None = None
    lag: dict[int, int] = field(default_factory=dict)

    def snapshot(self) -> dict[str, object]:
        elapsed = time.monotonic() - self.started
        return {
            "records": self.records,
            "quarantined": self.quarantined,
            "files_committed": self.files,
            "records_per_s": round(self.records / elapsed, 1) if elapsed else 0.0,
            "last_commit_age_s": (
                round(time.monotonic() - self.last_commit, 1) if self.last_commit else None
            ),
            "lag": {str(p): lag for p, lag in sorted(self.lag.items())},
            "total_lag": sum(self.lag.values()),
        }


class HdfsStore:
    """Landed files on HDFS: write-then-rename, and offset recovery from names."""

    def __init__(self, client, tables: Tables, faults: Faults | None = None) -> None:
        self.client = client
        self.tables = tables
        self.faults = faults or Faults(None)

    def landed(self, table: str) -> Iterable[tuple[str, LandedFile]]:
        base = self.tables.dir(table)
        try:
            statuses = list(self.client.list_status(base, recursive=True))
        except FileNotFoundError:
            return
        for status in statuses:
            if status.isdir:
                continue
            parent, _, name = status.path.rpartition("/")
            landed = LandedFile.parse(name)
            folder = parent.rpartition("/")[2]
            if landed is not None and folder.startswith(PARTITION_DIR_PREFIX):
                yield folder[len(PARTITION_DIR_PREFIX) :], landed

    def path(self, table: str, date: str, landed: LandedFile) -> str:
        return f"{self.tables.dir(table)}/{PARTITION_DIR_PREFIX}{date}/{landed.name}"

    def recover(self, topic: str, report: Callable[[str], None] = lambda _: None) -> dict[int, int]:
        """Next offset per partition, after its last complete batch.

        Parts of incomplete batches (and, defensively, of any batch after the first
        incomplete one) are deleted: they will be landed again whole.
        """
        batches: dict[tuple[str, int, int, int], list[tuple[LandedFile, str]]] = {}
        for table in (RAW_TABLE, QUARANTINE_TABLE):
            for date, landed in self.landed(table):
                if landed.topic == topic:
                    batches.setdefault(landed.batch, []).append(
                        (landed, self.path(table, date, landed))
                    )
        resume: dict[int, int] = {}  # partition -> first offset of an incomplete batch
        for (_, partition, first, _), files in batches.items():
            parts = {f.part for f, _ in files}
            if parts != set(range(1, files[0][0].parts + 1)):
                resume[partition] = min(resume.get(partition, first), first)
        next_offsets: dict[int, int] = {}
        for (_, partition, first, last), files in sorted(batches.items()):
            if partition in resume and first >= resume[partition]:
                for _, path in files:
                    self.client.delete(path)
                report(
                    f"removed {len(files)} part(s) of unfinished batch {first}-{last} "
                    f"of partition {partition}"
                )
                continue
            next_offsets[partition] = max(next_offsets.get(partition, 0), last + 1)
        for partition, first in resume.items():
            next_offsets[partition] = first
        return next_offsets

    def discard_from(
        self, topic: str, partition: int, offset: int, report: Callable[[str], None]
    ) -> int | None:
        """Delete ``partition``'s landed batches that hold any offset >= ``offset``.

        Batches go whole, so landing starts again at the first offset of the earliest
        one deleted (<= ``offset``), which is returned; None when nothing was landed there.
        """
        doomed: dict[tuple[str, int, int, int], list[str]] = {}
        for table in (RAW_TABLE, QUARANTINE_TABLE):
            for date, landed in self.landed(table):
                if landed.batch[:2] == (topic, partition) and landed.last >= offset:
                    doomed.setdefault(landed.batch, []).append(self.path(table, date, landed))
        for paths in doomed.values():
            for path in paths:
                self.client.delete(path)
        if not doomed:
            return None
        start = min(first for _, _, first, _ in doomed)
        files = sum(len(paths) for paths in doomed.values())
        report(
            f"replay: removed {len(doomed)} batch(es), {files} file(s) of partition "
            f"{partition} from offset {start} on"
        )
        return start

    def prepare(self) -> int:
        """Create both tables' folders and the temporary folder; delete temporary files
        an earlier run left behind and return how many. The table folders exist before
        the first message lands, so listing a table's files (dbt's changed_partitions)
        finds an empty table, not a missing path."""
        try:
            orphans = [s for s in self.client.list_status(self.tables.tmp_dir) if not s.isdir]
        except FileNotFoundError:
            orphans = []
        for status in orphans:
            self.client.delete(status.path)
        for folder in (self.tables.tmp_dir, *map(self.tables.dir, (RAW_TABLE, QUARANTINE_TABLE))):
            self.client.mkdirs(folder, create_parent=True)
        return len(orphans)

    def stage(self, landed: LandedFile, lines: list[bytes]) -> str:
        """Write a part to a temporary file; return its path."""
        tmp = f"{self.tables.tmp_dir}/{landed.name}.{uuid.uuid4().hex}"
        data = b"".join(lines)
        writer = self.client.create(tmp)
        try:
            half = len(data) // 2
            writer.write(data[:half])
            self.faults.reach("writing")
            writer.write(data[half:])
        finally:
            try:
                writer.close()
            finally:
                mark_closed(writer)
        return tmp

    def commit(self, tmp: str, table: str, date: str, landed: LandedFile) -> str:
        """Rename a staged part to its final name (atomic in HDFS)."""
        final = self.path(table, date, landed)
        self.client.mkdirs(final.rpartition("/")[0], create_parent=True)
        self.client.rename(tmp, final, overwrite=True)
        return final


class Lander:
    def __init__(
        self,
        config: LandConfig,
        consumer,
        store: HdfsStore,
        catalog: Catalog,
        clock: Callable[[], float] = time.monotonic,
        report: Callable[[str], None] | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.config = config
        self.retry = retry or RetryPolicy()
        self._kafka_away = kafka_away(config.bootstrap)
        self._metastore_away = metastore_away(catalog.where)
        self.consumer = consumer
        self.store = store
        self.catalog = catalog
        self.clock = clock
        self.report = report or (lambda line: print(line, file=sys.stderr, flush=True))
        self.pending: dict[int, Pending] = {}
        self.stats = Stats()
        self.stopping = False
        self._partitions: list = []
        self._pool = ThreadPoolExecutor(config.write_threads, thread_name_prefix="stage")

    # .. start-up ........................................................................
    def start(self, replays: Iterable[Replay] = ()) -> None:
        from kafka import TopicPartition

        removed = self.store.prepare()
        if removed:
            self.report(f"removed {removed} orphaned temporary file(s)")
        partitions = self.consumer.partitions_for_topic(self.config.topic)
        if not partitions:
            raise UserError(
                f"Topic {self.config.topic!r} does not exist yet: publish "
                "attempts first ('edtrack publish FILE')."
            )
        self._partitions = [TopicPartition(self.config.topic, p) for p in sorted(partitions)]
        self.consumer.assign(self._partitions)
        for replay in replays:
            self._discard(replay, partitions)
        next_offsets = self.store.recover(self.config.topic, self.report)
        for tp in self._partitions:
            if tp.partition in next_offsets:
                self.consumer.seek(tp, next_offsets[tp.partition])
            else:
                self.consumer.seek_to_beginning(tp)
        self.catalog.ensure_tables()
        # A crash between rename and registration leaves a landed, unregistered date.
        for table in (RAW_TABLE, QUARANTINE_TABLE):
            self._register(table, [date for date, _ in self.store.landed(table)])
        self.report(
            f"resuming {self.config.topic} at offsets "
            f"{ {p: next_offsets.get(p, 0) for p in sorted(partitions)} }"
        )

    def _discard(self, replay: Replay, partitions: set[int]) -> None:
        from kafka import TopicPartition

        if replay.partition not in partitions:
            raise UserError(
                f"Topic {self.config.topic!r} has no partition {replay.partition} "
                f"(it has {', '.join(map(str, sorted(partitions)))})."
            )
        offset = replay.offset
        if offset is None:
            tp = TopicPartition(self.config.topic, replay.partition)
            found = self.consumer.offsets_for_times({tp: replay.timestamp_ms})[tp]
            if found is None:
                self.report(f"replay: partition {replay.partition} has no message that late")
                return
            offset = found.offset
        self.store.discard_from(self.config.topic, replay.partition, offset, self.report)

    # .. the loop ........................................................................
    def consume_once(self) -> int:
        polled = self._kafka(
            "polling",
            lambda: self.consumer.poll(
                timeout_ms=self.config.poll_timeout_ms,
                max_records=min(self.config.batch_records, POLL_RECORDS),
            ),
        )
        now = self.clock()
        ingested_at = _now_iso()
        count = 0
        for tp, messages in polled.items():
            pending = self.pending.setdefault(tp.partition, Pending())
            for message in messages:
                payload, error = classify(message.value, self.config.max_message_bytes)
                table = RAW_TABLE if error is None else QUARANTINE_TABLE
                target = (table, partition_date(message.timestamp))
                pending.add(
                    message.offset, target, envelope(message, payload, error, ingested_at), now
                )
                count += 1
        self.flush([p for p, pending in self.pending.items() if pending.full(self.config, now)])
        return count

    def flush(self, partitions: Iterable[int]) -> None:
        """Land the pending batches of ``partitions`` together: stage every part in one
        parallel round (each HDFS close waits ~0.5 s), rename each, register new dates,
        then commit each partition's next offset."""
        from kafka import TopicPartition
        from kafka.structs import OffsetAndMetadata

        batches = {p: self.pending[p] for p in partitions if self.pending.get(p, Pending()).offsets}
        if not batches:
            return
        jobs = []
        for partition, pending in batches.items():
            first, last = pending.offsets[0], pending.offsets[-1]
            parts = pending.parts()
            jobs.extend(
                (LandedFile(self.config.topic, partition, first, last, k, len(parts)), t, d, lines)
                for k, ((t, d), lines) in enumerate(parts, start=1)
            )
        faults = self.store.faults
        self._write_parts(jobs)
        self.stats.files += len(jobs)
        for _, table, _, lines in jobs:
            self.stats.records += len(lines)
            if table == QUARANTINE_TABLE:
                self.stats.quarantined += len(lines)
        faults.reach("renamed")
        for table in (RAW_TABLE, QUARANTINE_TABLE):
            self._register(table, [date for _, t, date, _ in jobs if t == table])
            if table == RAW_TABLE:
                faults.reach("registering")
        faults.reach("registered")
        offsets = {
            TopicPartition(self.config.topic, p): OffsetAndMetadata(b.offsets[-1] + 1, "", -1)
            for p, b in batches.items()
        }
        # The files are in place: a broker away now only delays the commit (the retry
        # policy waits for it); if it stays away, a restart resumes from HDFS anyway.
        self._kafka("committing offsets", lambda: self.consumer.commit(offsets))
        faults.reach("committed")
        self.stats.last_commit = self.clock()
        for partition in batches:
            self.pending[partition] = Pending()

    def _write_parts(self, jobs: list) -> None:
        """Stage every part, then rename each to its final name. A transient HDFS error
        (a NameNode or DataNode restarting) writes the whole round again under the retry
        policy: final names are fixed, so a part renamed before the error is replaced by
        the same bytes, and temporary files left behind go at the next start. A lasting
        refusal (quota, permissions, disk full) stops the lander at once."""
        faults = self.store.faults
        wait = self.retry.backoff_s
        for attempt in range(1, self.retry.attempts + 1):
            try:
                with hdfs_writes(self.store.tables.root):
                    tmps = list(self._pool.map(lambda job: self.store.stage(job[0], job[3]), jobs))
                    faults.reach("staged")
                    for i, (tmp, (landed, table, date, _)) in enumerate(
                        zip(tmps, jobs, strict=True)
                    ):
                        self.store.commit(tmp, table, date, landed)
                        if i == 0 and len(jobs) > 1:
                            faults.reach("renamed-one")
                return
            except HdfsWriteFailed as failed:
                if not failed.transient or attempt == self.retry.attempts:
                    raise
                self.report(
                    f"HDFS write failed ({failed.reason}); writing the batch again in {wait:.1f} s"
                )
                self.retry.sleep(wait)
                wait = min(wait * 2, self.retry.max_backoff_s)

    def flush_all(self) -> None:
        self.flush(list(self.pending))

    def _kafka(self, what: str, fn: Callable[[], object]):
        return self.retry.call(fn, what, self.report, self._kafka_away)

    def _register(self, table: str, dates: list[str]) -> None:
        """Register landed dates; ``add if not exists`` makes a retry harmless."""
        self.retry.call(
            lambda: self.catalog.add_partitions(table, dates),
            f"registering dates of {table}",
            self.report,
            self._metastore_away,
        )

    def lag(self) -> dict[int, int]:
        ends = self._kafka(
            "reading end offsets", lambda: self.consumer.end_offsets(self._partitions)
        )
        return {
            tp.partition: max(0, ends[tp] - self.consumer.position(tp)) for tp in self._partitions
        }

    def run(self, until_caught_up: bool = False, replays: Iterable[Replay] = ()) -> Stats:
        self.start(replays)
        last_report = self.clock()
        while not self.stopping:
            got = self.consume_once()
            now = self.clock()
            caught_up = False
            if got == 0 or now - last_report >= self.config.progress_every_s:
                self.stats.lag = self.lag()
                caught_up = sum(self.stats.lag.values()) == 0
            if now - last_report >= self.config.progress_every_s:
                self._progress()
                last_report = now
            if until_caught_up and caught_up:
                break
        self.flush_all()
        self._pool.shutdown()
        self.stats.lag = self.lag()
        self._progress()
        return self.stats

    def _progress(self) -> None:
        snap = self.stats.snapshot()
        rate, lag = snap["records_per_s"], snap["total_lag"]
        left = f", ~{lag / rate:,.0f} s left" if lag and rate else ""
        self.report(
            f"landed {snap['records']:,} ({snap['quarantined']:,} quarantined) in "
            f"{snap['files_committed']:,} files, {rate:,} records/s, lag {lag:,}{left}"
        )
        if self.config.status_path is not None:
            self.config.status_path.parent.mkdir(parents=True, exist_ok=True)
            self.config.status_path.write_text(
                json.dumps({"topic": self.config.topic, "updated_at": _now_iso(), **snap}, indent=2)
            )

    def stop(self, *_: object) -> None:
        self.stopping = True


def mark_closed(writer) -> None:
    """Close ``writer`` once only. hdfs-native's FileWriter is an ``io.RawIOBase`` whose
    ``close`` does not mark it closed, so garbage collection closes it again; after a
    close that failed (a DataNode gone mid-write) that second close can block the
    process at exit for good."""
    if isinstance(writer, io.IOBase):
        io.IOBase.close(writer)


@contextlib.contextmanager
def hdfs_writes(root: str) -> Iterator[None]:
    """Turn a refused HDFS write (quota, full disk, permissions, a stopped DataNode)
    into one sentence: the batch is not committed, and a restart lands it again."""
    try:
        yield
    except UserError:
        raise
    except Exception as exc:  # hdfs-native raises RuntimeError / OSError variants
        reason = _first_line(exc)
        raise HdfsWriteFailed(
            f"Landing stopped: HDFS refused a write under {root} ({reason}). Nothing of "
            "this batch was committed: fix the cause (space quota, disk space, "
            "permissions, a stopped DataNode) and start the lander again; it resumes "
            "after the last complete batch.",
            reason,
        ) from exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    line = text.splitlines()[0]
    return line if len(line) <= 300 else line[:297] + "..."


def _now_iso() -> str:
    now = dt.datetime.now(dt.UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def make_consumer(config: LandConfig):
    from kafka import KafkaConsumer

    require_kafka(config.bootstrap)
    return KafkaConsumer(
        bootstrap_servers=config.bootstrap,
        group_id=config.group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=max(config.max_message_bytes * 2, 1024 * 1024) * 8,
        fetch_max_bytes=config.fetch_max_bytes,
    )


def make_hdfs_client(hdfs_url: str):
    from hdfs_native import Client

    return Client(hdfs_url)


def install_signal_handlers(lander: Lander) -> None:
    signal.signal(signal.SIGTERM, lander.stop)
    signal.signal(signal.SIGINT, lander.stop)


@contextlib.contextmanager
def exclusive(lock_path: Path | None, topic: str) -> Iterator[None]:
    """Hold the lander lock of a topic for the duration; refuse when another holds it."""
    if lock_path is None:
        yield
        return
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            holder = lock.read().strip() or "unknown"
            raise UserError(
                f"A lander for topic {topic!r} is already running (pid {holder}); stop it "
                "first (it flushes and commits on SIGTERM), then run this again."
            ) from None
        lock.seek(0)
        lock.truncate()
        lock.write(str(os.getpid()))
        lock.flush()
        yield


def lock_path(run_dir: Path, topic: str, root: str) -> Path:
    return run_dir / f"lander-{topic}-{root.strip('/').replace('/', '_')}.lock"


def status_path(run_dir: Path, topic: str, root: str) -> Path:
    """Where a lander writes its progress report: one file per topic and root."""
    return lock_path(run_dir, topic, root).with_suffix(".status.json")


def run(
    config: LandConfig,
    hdfs_url: str,
    thrift_host: str,
    thrift_port: int,
    root: str = DEFAULT_ROOT,
    schema: str = SCHEMA,
    until_caught_up: bool = False,
    report: Callable[[str], None] | None = None,
    handle_signals: bool = False,
    replays: Iterable[Replay] = (),
    lock: Path | None = None,
    login=None,
) -> Stats:
    """Wire a lander to the real Kafka, HDFS and Thrift Server, run it, close it all.

    ``login``: an :class:`edtrack.sql.Login` for a Thrift Server with LDAP auth on.
    """
    with exclusive(lock, config.topic):
        return _run(
            config,
            Tables(hdfs_url, root, schema),
            thrift_host,
            thrift_port,
            until_caught_up,
            report,
            handle_signals,
            replays,
            login,
        )


def _run(
    config: LandConfig,
    tables: Tables,
    thrift_host: str,
    thrift_port: int,
    until_caught_up: bool,
    report: Callable[[str], None] | None,
    handle_signals: bool,
    replays: Iterable[Replay],
    login=None,
) -> Stats:
    from edtrack import sql

    login = login or sql.Login()
    connection = sql.connect(thrift_host, thrift_port, login.user, login.password)
    try:
        consumer = make_consumer(config)
        try:
            store = HdfsStore(make_hdfs_client(tables.hdfs_url), tables, Faults(config.fault))
            lander = Lander(
                config,
                consumer,
                store,
                Catalog(connection, tables, f"{thrift_host}:{thrift_port}"),
                report=report,
            )
            if handle_signals:
                install_signal_handlers(lander)
            return lander.run(until_caught_up=until_caught_up, replays=replays)
        finally:
            consumer.close()
    finally:
        connection.close()


def holder(lock: Path) -> int | None:
    """The pid of the lander holding ``lock``, or None when no lander runs."""
    if not lock.exists():
        return None
    with open(lock) as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            text = handle.read().strip()
            return int(text) if text.isdigit() else -1
    return None


def status(config: LandConfig, lock: Path | None = None) -> dict[str, object]:
    """Per-partition lag of the lander's consumer group, from Kafka's committed offsets,
    with the running lander's own figures (rate, files, quarantined) when it reports."""
    from kafka import KafkaConsumer, TopicPartition

    require_kafka(config.bootstrap)
    consumer = KafkaConsumer(
        bootstrap_servers=config.bootstrap, group_id=config.group_id, enable_auto_commit=False
    )
    try:
        partitions = sorted(consumer.partitions_for_topic(config.topic) or ())
        tps = [TopicPartition(config.topic, p) for p in partitions]
        starts = consumer.beginning_offsets(tps) if tps else {}
        ends = consumer.end_offsets(tps) if tps else {}
        rows = []
        for tp in tps:
            committed = consumer.committed(tp)
            done = starts[tp] if committed is None else committed
            rows.append(
                {
                    "partition": tp.partition,
                    "committed": committed,
                    "end": ends[tp],
                    "lag": max(0, ends[tp] - done),
                }
            )
    finally:
        consumer.close()
    pid = holder(lock) if lock is not None else None
    report = None
    if config.status_path is not None and config.status_path.exists():
        report = json.loads(config.status_path.read_text())
    return {
        "topic": config.topic,
        "group": config.group_id,
        "running": pid is not None,
        "pid": pid,
        "partitions": rows,
        "total_lag": sum(r["lag"] for r in rows),
        "last_report": report,
    }

"""Land Kafka messages on HDFS as JSON Lines, exactly once, with one lander or several.

Delivery semantics (the order of steps is the guarantee):

1. Claim each partition on HDFS before landing it (``fence``): the claim fences every
   earlier owner, then the next offset is recovered from the landed files' names.
2. Consume with auto-commit off; buffer each partition's messages until a batch is
   full by records, bytes or age.
3. Split the batch by target (table and partition date; rows keep offset order),
   write each part to a temporary file in the claim's staging folder, then rename each
   (atomic in HDFS) to
   ``<table>/kafka_date=<D>/<topic>+<partition>+<first>+<last>.<k>of<n>.jsonl``.
4. Register new partitions in the metastore, check the claims still hold, then commit
   ``last + 1`` to Kafka, so Kafka's own group tools show true lag.

HDFS is the source of truth for offsets: when it claims a partition the lander deletes
the partition's leftover temporary files, deletes the landed parts of a batch whose
parts are not all there (a crash between two renames), and resumes after the last
complete batch, committing that offset. A crash before the last rename of a batch
leaves it to be landed again whole; a crash after it leaves a complete batch that the
restart skips past. Neither loses nor duplicates a row. Every message lands in exactly
one of the raw table or the quarantine table.

**Several landers** (``LandConfig.group``, ``edtrack land --group`` on one machine or
many, or ``--processes N``) join one Kafka consumer group, which spreads the topic's
partitions over them and hands a partition on when its lander stops, dies or stays
silent past its session timeout; partitions added to the topic are handed out too.
On revocation a lander lands its open batches of those partitions (it still owns
them); when the group already moved on without it (``on_partitions_lost``) it drops
them. On assignment it claims the partitions and recovers them from HDFS as above.
Recovery and clean-up touch only the partitions being claimed. A lander that wakes up
after a long pause finds its claims fenced: HDFS refuses its writes and renames, it
drops those batches and commits nothing for them (``fence`` states the protocol, and
why no row of a fenced lander can land). Without a group, one lander lands every
partition; a second one on the same topic and root fences the first, which stops with
one sentence. On one machine a lock file in the stack's run dir refuses that second
lander up front.

Replay (``edtrack replay``) deletes a partition's landed batches from an offset on
(whole batches, so it may start a little earlier) and lands them again from Kafka:
the same messages, the same dates, the same rows. It runs alone, outside a group.

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

The parts of landing, each in its module: the lander's loop, batches and rebalances
here; the files on HDFS in ``store``; the per-partition claims in ``fence``; the retry
policy in ``retry``; the one-machine lock in ``lock``; its status in ``status``; the
fault points of the reliability suite in ``faults``; and ``wiring``, the one place that
connects a lander to the real services.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import UserError
from ingestion.catalog import DEFAULT_ROOT, QUARANTINE_TABLE, RAW_TABLE, SCHEMA, Catalog
from ingestion.landing.envelope import envelope, partition_date
from ingestion.landing.faults import FaultPoint
from ingestion.landing.fence import Claim, Fenced, Fences
from ingestion.landing.quarantine import classify
from ingestion.landing.retry import (
    HDFS_ERRORS,
    RetryPolicy,
    hdfs_away,
    kafka_away,
    metastore_away,
)
from ingestion.landing.stall import stall_deadline
from ingestion.landing.store import HdfsStore, LandedFile, hdfs_writes
from ingestion.topic import DEFAULT_TOPIC, MAX_MESSAGE_BYTES

# Messages taken per poll: a partition's buffer overshoots its batch by at most this.
POLL_RECORDS = 2000


def _help(text: str) -> dict[str, str]:
    """A setting's help, shown by the CLI options derived from it."""
    return {"help": text}


@dataclass(frozen=True)
class LandConfig:
    """A lander's settings; every default is declared here once (the CLI's options and
    their help come from these fields)."""

    bootstrap: str
    topic: str = field(default=DEFAULT_TOPIC, metadata=_help("Kafka topic to land."))
    # kafka-python's TLS / SASL options for its consumer (Endpoints.kafka_security).
    security: Mapping[str, Any] = field(default_factory=dict)
    root: str = field(default=DEFAULT_ROOT, metadata=_help("HDFS folder of the raw tables."))
    schema: str = field(default=SCHEMA, metadata=_help("Metastore database of the raw tables."))
    group: bool = field(
        default=False,
        metadata=_help(
            "Join the consumer group and share the topic's partitions with its other "
            "landers, on this machine or others (default: land every partition)."
        ),
    )
    group_id: str = field(
        default="edtrack-lander", metadata=_help("Kafka consumer group of the landers.")
    )
    session_timeout_s: float = field(
        default=10.0,
        metadata=_help(
            "In a group: how long Kafka waits for a silent lander before giving its "
            "partitions to the others (at least the broker's minimum, 6 s by default)."
        ),
    )
    # How often the consumer refreshes the topic's metadata: partitions added to the
    # topic are landed within this long.
    metadata_max_age_ms: int = 10_000
    batch_records: int = field(
        default=20_000, metadata=_help("A partition's batch lands at this many messages.")
    )
    batch_bytes: int = field(
        default=64 * 1024 * 1024, metadata=_help("...or at this many bytes of envelopes.")
    )
    batch_age_s: float = field(
        default=10.0, metadata=_help("...or this many seconds after its first message.")
    )
    max_message_bytes: int = field(
        default=MAX_MESSAGE_BYTES,
        metadata=_help(
            "Larger messages are quarantined (default: 1 MiB, or EDTRACK_MAX_MESSAGE_BYTES "
            "as for publish)."
        ),
    )
    stall_timeout_s: float = field(
        default=300.0,
        metadata=_help(
            "A write of a batch to HDFS that has not returned after this many seconds ends "
            "the lander with exit code 75, to be started again: nothing of the batch is "
            "committed (an HDFS client stuck after a DataNode failure); 0: wait forever."
        ),
    )
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

    @property
    def poll_max_records(self) -> int:
        """Messages asked for per poll."""
        return min(self.batch_records, POLL_RECORDS)


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
    """What a lander has done, for its progress lines and status file. Times come from
    the lander's clock."""

    started: float
    records: int = 0
    quarantined: int = 0
    files: int = 0
    last_commit: float | None = None
    lag: dict[int, int] = field(default_factory=dict)

    def snapshot(self, now: float) -> dict[str, object]:
        elapsed = now - self.started
        return {
            "records": self.records,
            "quarantined": self.quarantined,
            "files_committed": self.files,
            "records_per_s": round(self.records / elapsed, 1) if elapsed else 0.0,
            "last_commit_age_s": (
                round(now - self.last_commit, 1) if self.last_commit is not None else None
            ),
            "lag": {str(p): lag for p, lag in sorted(self.lag.items())},
            "total_lag": sum(self.lag.values()),
        }


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
        fences: Fences | None = None,
    ) -> None:
        self.config = config
        self.retry = retry or RetryPolicy()
        self._kafka_away = kafka_away(config.bootstrap)
        self._metastore_away = metastore_away(catalog.where)
        self._hdfs_away = hdfs_away(store.tables.root)
        self.consumer = consumer
        self.store = store
        self.catalog = catalog
        self.clock = clock
        self.report = report or (lambda line: print(line, file=sys.stderr, flush=True))
        self.fences = fences or Fences(store.client, store.tables)
        self.claims: dict[int, Claim] = {}  # the partitions this lander owns
        self.next_offset: dict[int, int | None] = {}  # per owned partition (None: its start)
        self.pending: dict[int, Pending] = {}
        self.stats = Stats(started=clock())
        self.stopping = False
        self._resumed: dict[int, int] = {}  # recovered in a rebalance, committed after it
        self._rejoin = False  # fenced in a group: join again at the next poll
        self._pool = ThreadPoolExecutor(config.write_threads, thread_name_prefix="stage")

    # .. start-up ........................................................................
    def start(self, replays: Iterable[Replay] = ()) -> None:
        self.store.prepare()
        partitions = self._topic_partitions()
        self.catalog.ensure_tables()
        # A crash between rename and registration leaves a landed, unregistered date.
        for table in (RAW_TABLE, QUARANTINE_TABLE):
            self._register(table, [date for date, _ in self.store.landed(table)])
        if self.config.group:
            if replays:
                raise UserError("A replay runs alone: stop the group's landers, then replay.")
            from ingestion.landing.rebalance import Rebalance

            self.consumer.subscribe(topics=[self.config.topic], listener=Rebalance(self))
            self.report(
                f"joined group {self.config.group_id!r} on {self.config.topic}: Kafka "
                "assigns its partitions"
            )
            return
        self.consumer.assign([self._tp(p) for p in sorted(partitions)])
        self._commit_resumed(self.take(sorted(partitions), replays, verb="resuming"))

    def _topic_partitions(self) -> set[int]:
        partitions = self._kafka(
            "reading the topic's partitions",
            lambda: self.consumer.partitions_for_topic(self.config.topic),
        )
        if not partitions:
            raise UserError(
                f"Topic {self.config.topic!r} does not exist yet: publish "
                "attempts first ('edtrack publish FILE')."
            )
        return set(partitions)

    # .. owning partitions (fence) .......................................................
    def take(
        self, partitions: list[int], replays: Iterable[Replay] = (), verb: str = "took"
    ) -> dict[int, int]:
        """Claim ``partitions`` on HDFS (fencing their earlier owners), delete their
        leftovers, recover each one's next offset from the landed files and seek there.
        Runs inside Kafka's rebalance callback in a group: no blocking consumer calls."""

        topic = self.config.topic
        with hdfs_writes(self.store.tables.root):
            claims, overtaken = {}, []
            # One claim per partition, all at once: each waits on its claim file's close
            # (about 0.5 s with hdfs-native), and claims of two partitions never meet.
            acquiring = {p: self._pool.submit(self.fences.acquire, topic, p) for p in partitions}
            for p, future in acquiring.items():
                try:
                    claims[p] = future.result()
                except Fenced:  # a newer claim appeared while this one was taken
                    overtaken.append(p)
            if overtaken:
                self._fenced(overtaken)  # outside a group: one sentence, stop
                partitions = [p for p in partitions if p not in overtaken]
            loose = sum(self.store.remove_loose_temporaries(topic, p) for p in partitions)
            if loose:
                self.report(f"removed {loose} orphaned temporary file(s)")
            for replay in replays:
                self._discard(replay, set(partitions))
            next_offsets = self.store.recover(topic, partitions, self.report)
        for p in partitions:
            tp = self._tp(p)
            if p in next_offsets:
                self.consumer.seek(tp, next_offsets[p])
            else:
                self.consumer.seek_to_beginning(tp)
            self.consumer.resume(tp)  # paused when fenced before: kafka-python keeps that
            self.claims[p] = claims[p]
            self.next_offset[p] = next_offsets.get(p)
            self.pending[p] = Pending()
        epochs = ", ".join(f"{p}: {c.epoch}" for p, c in sorted(claims.items()))
        self.report(
            f"{verb} partition(s) {', '.join(map(str, partitions))} of {topic} at offsets "
            f"{ {p: next_offsets.get(p, 0) for p in partitions} } (claims {epochs})"
        )
        return next_offsets

    def assigned(self, partitions: list[int]) -> None:
        """Kafka handed these partitions to this lander: take the new ones; their
        recovered offsets are committed when the poll returns."""
        new = [p for p in partitions if p not in self.claims]
        if new:
            self._resumed.update(self.take(new))

    def give_up(self, partitions: list[int], finish: bool) -> None:
        """Partitions Kafka takes away: land their batches first when this lander still
        owns them (``finish``; the offsets are committed by the next owner, which
        recovers them from HDFS), or drop them when the group already moved on."""
        mine = [p for p in partitions if p in self.claims]
        if not mine:
            return
        if finish:
            self.flush(mine, commit=False)
        for p in mine:
            claim = self.claims.pop(p, None)
            self.pending.pop(p, None)
            self.next_offset.pop(p, None)
            if finish and claim is not None:
                self.fences.release(claim)
        listed = ", ".join(map(str, mine))
        if finish:
            self.report(f"gave up partition(s) {listed} of {self.config.topic}")
        else:
            self.report(
                f"lost partition(s) {listed} of {self.config.topic}: this lander left the "
                "group (paused past its session timeout?); their unlanded messages are "
                "dropped here and landed by their new owner"
            )

    def _fenced(self, partitions: list[int]) -> None:
        """Another lander claimed ``partitions`` since this one did: drop their batches
        and stop landing them (outside a group, stop: two landers were started)."""
        listed = ", ".join(map(str, sorted(partitions)))
        if not self.config.group:
            raise UserError(
                f"Another lander took partition(s) {listed} of topic {self.config.topic!r} "
                f"under {self.store.tables.root} (a second 'edtrack land' on this topic "
                "and root, maybe on another machine). This one stops without landing "
                "their open batches: run one lander, or several with --group."
            )
        for p in partitions:
            self.claims.pop(p, None)
            self.pending.pop(p, None)
            self.next_offset.pop(p, None)
        self.consumer.pause(*(self._tp(p) for p in partitions))
        self._rejoin = True
        self.report(
            f"fenced: another lander took partition(s) {listed} of {self.config.topic}; "
            "their unlanded batches are dropped here (the new owner lands them), and "
            "this lander joins the group again"
        )

    def check_claims(self, partitions: Iterable[int] | None = None) -> list[int]:
        """Ask HDFS whether this lander still owns ``partitions`` (default: all it
        claimed): after a long pause Kafka may not have told it yet that the group
        moved on, the claims say so. Drops the lost ones (``_fenced``); returns them."""
        wanted = sorted(self.claims) if partitions is None else list(partitions)
        lost = [p for p in wanted if not self._holds(p)]
        if lost:
            self._fenced(lost)
        return lost

    def _rejoin_group(self) -> None:
        """Leave the group and join it again as a new member, so Kafka hands out the
        partitions afresh (kafka-python may take long to notice it was evicted)."""
        from ingestion.landing.rebalance import Rebalance

        self.give_up(sorted(self.claims), finish=True)
        self.consumer.unsubscribe()
        self.consumer.subscribe(topics=[self.config.topic], listener=Rebalance(self))
        self.report(f"rejoined group {self.config.group_id!r}: Kafka assigns its partitions")

    def _tp(self, partition: int):
        from kafka import TopicPartition

        return TopicPartition(self.config.topic, partition)

    def _commit_resumed(self, next_offsets: dict[int, int]) -> None:
        """Commit the offsets recovered from HDFS, so Kafka's lag is true from the start
        (a lander killed between rename and commit left them behind)."""
        from kafka.structs import OffsetAndMetadata

        offsets = {
            self._tp(p): OffsetAndMetadata(o, "", -1)
            for p, o in next_offsets.items()
            if p in self.claims
        }
        if offsets:
            self._commit(offsets)

    def _discard(self, replay: Replay, partitions: set[int]) -> None:
        if replay.partition not in partitions:
            raise UserError(
                f"Topic {self.config.topic!r} has no partition {replay.partition} "
                f"(it has {', '.join(map(str, sorted(partitions)))})."
            )
        offset = replay.offset
        if offset is None:
            tp = self._tp(replay.partition)
            found = self.consumer.offsets_for_times({tp: replay.timestamp_ms})[tp]
            if found is None:
                self.report(f"replay: partition {replay.partition} has no message that late")
                return
            offset = found.offset
        self.store.discard_from(self.config.topic, replay.partition, offset, self.report)

    # .. the loop ........................................................................
    def consume_once(self) -> int:
        polled = self._poll()
        now = self.clock()
        ingested_at = _now_iso()
        count = 0
        for tp, messages in polled.items():
            if tp.partition not in self.claims:  # not claimed (yet): not ours to land
                continue
            pending = self.pending[tp.partition]
            expected = self.next_offset.get(tp.partition)
            for message in messages:
                if expected is not None and message.offset < expected:
                    continue  # already in this batch or landed: a fetch from before a seek
                expected = message.offset + 1
                payload, error = classify(message.value, self.config.max_message_bytes)
                table = RAW_TABLE if error is None else QUARANTINE_TABLE
                target = (table, partition_date(message.timestamp))
                pending.add(
                    message.offset, target, envelope(message, payload, error, ingested_at), now
                )
                count += 1
            self.next_offset[tp.partition] = expected
        self.flush([p for p, pending in self.pending.items() if pending.full(self.config, now)])
        return count

    def _poll(self) -> dict:
        """One poll; in a group, rebalances run inside it (``Rebalance``), and what they
        raised comes out here as it was raised."""
        from kafka.errors import KafkaError

        self._resumed = {}
        if self._rejoin:
            self._rejoin = False
            self._rejoin_group()
        try:
            polled = self._kafka(
                "polling",
                lambda: self.consumer.poll(
                    timeout_ms=self.config.poll_timeout_ms,
                    max_records=self.config.poll_max_records,
                ),
            )
        except KafkaError as exc:
            if isinstance(exc.__cause__, Exception) and not isinstance(exc.__cause__, KafkaError):
                raise exc.__cause__ from None
            raise
        if self._resumed:
            self._commit_resumed(self._resumed)
        return polled

    def flush(self, partitions: Iterable[int], commit: bool = True) -> None:
        """Land the pending batches of ``partitions`` together: stage every part in one
        parallel round (each HDFS close waits ~0.5 s), rename each, register new dates,
        then commit each partition's next offset."""
        from kafka.structs import OffsetAndMetadata

        batches = {
            p: self.pending[p]
            for p in partitions
            if p in self.claims and self.pending.get(p, Pending()).offsets
        }
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
        try:
            self._write_parts(jobs)
        except Fenced as fenced:
            self._fenced(fenced.partitions)
            self.flush([p for p in batches if p not in fenced.partitions], commit)
            return
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
        for partition in batches:
            self.pending[partition] = Pending()
        if not commit:
            return
        # Nothing is committed for a partition another lander took meanwhile: its
        # files are in place (renamed before the fence), its new owner commits.
        lost = self.check_claims(batches)
        offsets = {
            self._tp(p): OffsetAndMetadata(b.offsets[-1] + 1, "", -1)
            for p, b in batches.items()
            if p not in lost
        }
        # The files are in place: a broker away now only delays the commit (the retry
        # policy waits for it); if it stays away, a restart resumes from HDFS anyway.
        self._commit(offsets)
        faults.reach("committed")
        self.stats.last_commit = self.clock()

    def _holds(self, partition: int) -> bool:
        return self.retry.call(
            lambda: self.fences.holds(self.claims[partition]),
            "checking the partition's claim",
            self.report,
            self._hdfs_away,
        )

    def _commit(self, offsets: dict) -> None:
        """Commit offsets to Kafka. In a group, a commit the group refuses (it is
        rebalancing, or moved on without this lander) is skipped: HDFS holds what
        landed, and the partitions' next owner commits from there."""
        from kafka.errors import (
            CommitFailedError,
            IllegalGenerationError,
            RebalanceInProgressError,
            UnknownMemberIdError,
        )

        refused = (
            CommitFailedError,
            IllegalGenerationError,
            RebalanceInProgressError,
            UnknownMemberIdError,
        )

        def commit() -> BaseException | None:
            try:
                self.consumer.commit(offsets)
            except refused as exc:
                if not self.config.group:
                    raise
                return exc
            return None

        if not offsets:
            return
        refusal = self._kafka("committing offsets", commit)
        if refusal is not None:
            self.report(
                f"offsets not committed, the group is rebalancing ({type(refusal).__name__}): "
                "the partitions' next owner commits them from HDFS"
            )

    def _write_parts(self, jobs: list) -> None:
        """Stage every part, then rename each to its final name. A transient HDFS error
        (a NameNode or DataNode restarting) writes the whole round again under the retry
        policy: final names are fixed, so a part renamed before the error is replaced by
        the same bytes, and temporary files left behind go at the next claim. A lasting
        refusal (quota, permissions, disk full) stops the lander at once. An error
        because another lander claimed a partition raises ``Fenced`` for those."""
        faults = self.store.faults

        def stage(job) -> str:
            landed = job[0]
            return self.store.stage(self.claims[landed.partition].staging, landed, job[3])

        def write_round() -> None:
            try:
                with stall_deadline(self.config.stall_timeout_s, "Writing a batch", self.report):
                    tmps = list(self._pool.map(stage, jobs))
                    faults.reach("staged")
                    for i, (tmp, job) in enumerate(zip(tmps, jobs, strict=True)):
                        landed, table, date, _ = job
                        self.store.commit(tmp, table, date, landed)
                        if i == 0 and len(jobs) > 1:
                            faults.reach("renamed-one")
            except HDFS_ERRORS:
                partitions = sorted({job[0].partition for job in jobs})
                lost = [p for p in partitions if not self.fences.holds(self.claims[p])]
                if lost:
                    raise Fenced(lost) from None
                raise

        with hdfs_writes(self.store.tables.root):
            self.retry.call(write_round, "writing a batch", self.report, self._hdfs_away)

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
        """Messages behind the end, per partition this lander owns."""
        tps = [self._tp(p) for p in sorted(self.claims)]
        if not tps:
            return {}
        ends = self._kafka("reading end offsets", lambda: self.consumer.end_offsets(tps))
        return {tp.partition: max(0, ends[tp] - self.consumer.position(tp)) for tp in tps}

    def group_caught_up(self) -> bool:
        """In a group: every partition of the topic committed up to its end (the other
        landers' too), and nothing pending here."""
        if any(p.offsets for p in self.pending.values()):
            return False
        tps = [self._tp(p) for p in sorted(self._topic_partitions())]
        ends = self._kafka("reading end offsets", lambda: self.consumer.end_offsets(tps))
        starts = self._kafka("reading first offsets", lambda: self.consumer.beginning_offsets(tps))
        for tp in tps:
            committed = self._kafka(
                "reading committed offsets", lambda tp=tp: self.consumer.committed(tp)
            )
            if (starts[tp] if committed is None else committed) < ends[tp]:
                return False
        return True

    def _adopt_new_partitions(self) -> None:
        """Outside a group, partitions added to the topic are claimed and landed too (a
        group's rebalance hands them out by itself)."""
        known = set(self.claims)
        new = sorted(self._topic_partitions() - known)
        if not new:
            return
        self.consumer.assign([self._tp(p) for p in sorted(known | set(new))])
        self._commit_resumed(self.take(new))

    def run(self, until_caught_up: bool = False, replays: Iterable[Replay] = ()) -> Stats:
        self.start(replays)
        last_report = self.clock()
        while not self.stopping:
            got = self.consume_once()
            now = self.clock()
            caught_up = False
            idle_or_due = got == 0 or now - last_report >= self.config.progress_every_s
            if idle_or_due:
                if not self.config.group:
                    self._adopt_new_partitions()
                self.stats.lag = self.lag()
                caught_up = sum(self.stats.lag.values()) == 0
            if now - last_report >= self.config.progress_every_s:
                self.check_claims()
                self._progress()
                last_report = now
            if until_caught_up and caught_up:
                if not self.config.group:
                    break
                self.flush_all()  # the others' partitions count too: land ours now
                if self.group_caught_up():
                    break
        self.flush_all()
        self._pool.shutdown()
        self.stats.lag = self.lag()
        self._progress()
        return self.stats

    def _progress(self) -> None:
        snap = self.stats.snapshot(self.clock())
        rate, lag = snap["records_per_s"], snap["total_lag"]
        left = f", ~{lag / rate:,.0f} s left" if lag and rate else ""
        self.report(
            f"landed {snap['records']:,} ({snap['quarantined']:,} quarantined) in "
            f"{snap['files_committed']:,} files, {rate:,} records/s, lag {lag:,}{left}"
        )
        if self.config.status_path is not None:
            self.config.status_path.parent.mkdir(parents=True, exist_ok=True)
            self.config.status_path.write_text(
                json.dumps(
                    {
                        "topic": self.config.topic,
                        "pid": os.getpid(),
                        "partitions": sorted(self.claims),
                        "updated_at": _now_iso(),
                        **snap,
                    },
                    indent=2,
                )
            )

    def stop(self, *_: object) -> None:
        self.stopping = True


def _now_iso() -> str:
    now = dt.datetime.now(dt.UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"

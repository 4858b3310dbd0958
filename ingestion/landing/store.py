"""Landed files on HDFS: write to a temporary file, rename to a name that says which
offsets it holds, and recover the next offset of each partition from those names.

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

import contextlib
import io
import re
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from hdfs_native import WriteOptions

from core.errors import UserError
from ingestion.catalog import QUARANTINE_TABLE, RAW_TABLE, Tables
from ingestion.landing.faults import Faults
from ingestion.landing.retry import HDFS_ERRORS, first_line, hdfs_refusal_lasts

PARTITION_DIR_PREFIX = "kafka_date="
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


class HdfsWriteFailed(UserError):
    """HDFS refused a write: nothing of the batch was committed."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason

    @property
    def transient(self) -> bool:
        return not hdfs_refusal_lasts(self.reason)


@contextlib.contextmanager
def hdfs_writes(root: str) -> Iterator[None]:
    """Turn an HDFS error that ends landing (quota, full disk, permissions, a stopped
    DataNode) into one sentence: the batch is not committed, and a restart lands it
    again. Errors that are not HDFS's (a bug) pass through as they are."""
    try:
        yield
    except HDFS_ERRORS as exc:
        reason = first_line(exc)
        raise HdfsWriteFailed(
            f"Landing stopped: HDFS refused a write under {root} ({reason}). Nothing of "
            "this batch was committed: fix the cause (space quota, disk space, "
            "permissions, a stopped DataNode) and start the lander again; it resumes "
            "after the last complete batch.",
            reason,
        ) from exc


def mark_closed(writer) -> None:
    """Close ``writer`` once only. hdfs-native's FileWriter is an ``io.RawIOBase`` whose
    ``close`` does not mark it closed, so garbage collection closes it again; after a
    close that failed (a DataNode gone mid-write) that second close can block the
    process at exit for good."""
    if isinstance(writer, io.IOBase):
        io.IOBase.close(writer)


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

    def recover(
        self,
        topic: str,
        partitions: Iterable[int],
        report: Callable[[str], None] = lambda _: None,
    ) -> dict[int, int]:
        """Next offset of each of ``partitions``, after its last complete batch.

        Parts of their incomplete batches (and, defensively, of any batch after the first
        incomplete one) are deleted: they will be landed again whole. Other partitions'
        files are not touched: another lander may be writing them.
        """
        wanted = set(partitions)
        batches: dict[tuple[str, int, int, int], list[tuple[LandedFile, str]]] = {}
        for table in (RAW_TABLE, QUARANTINE_TABLE):
            for date, landed in self.landed(table):
                if landed.topic == topic and landed.partition in wanted:
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

    def prepare(self) -> None:
        """Create both tables' folders and the temporary folder. The table folders exist
        before the first message lands, so listing a table's files (dbt's
        changed_partitions) finds an empty table, not a missing path. Temporary files go
        per partition, when a lander claims it (``fence``)."""
        for folder in (self.tables.tmp_dir, *map(self.tables.dir, (RAW_TABLE, QUARANTINE_TABLE))):
            self.client.mkdirs(folder, create_parent=True)

    def remove_loose_temporaries(self, topic: str, partition: int) -> int:
        """Delete the partition's temporary files that an earlier version left directly in
        the temporary folder (before staging folders per claim); return how many."""
        try:
            statuses = list(self.client.list_status(self.tables.tmp_dir))
        except FileNotFoundError:
            return 0
        removed = 0
        for status in statuses:
            name = status.path.rpartition("/")[2].rpartition(".")[0]
            landed = None if status.isdir else LandedFile.parse(name)
            if landed is not None and (landed.topic, landed.partition) == (topic, partition):
                self.client.delete(status.path)
                removed += 1
        return removed

    def stage(self, staging: str, landed: LandedFile, lines: list[bytes]) -> str:
        """Write a part to a temporary file in ``staging`` (a claim's folder); return its
        path. The folder is not created here: once a newer claim deleted it, this
        lander can write nothing more for the partition (``fence``)."""
        tmp = f"{staging}/{landed.name}.{uuid.uuid4().hex}"
        data = b"".join(lines)
        writer = self.client.create(tmp, WriteOptions(create_parent=False))
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

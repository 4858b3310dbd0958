"""Who lands a partition: per-partition claims on HDFS that fence a lander which lost it.

Several landers can share a topic (a consumer group, on one machine or many). Kafka
decides which lander owns which partition, but only for the group's current
generation: a lander paused past its session timeout (a long GC pause, a SIGSTOP, a
network partition) wakes up still holding batches of partitions another lander has
since taken. Kafka refuses its offset commit, but landing is decided by the files on
HDFS, so HDFS must refuse its files too. The protocol:

1. **Claim.** Before landing partition ``p`` a lander takes the next *epoch*: it lists
   ``<root>/_owners/<topic>+<p>/``, and creates the file named by the largest epoch plus
   one with overwrite off. HDFS creates a file atomically, so two landers never hold
   the same epoch; the loser tries the next one. The file names its holder.
2. **Stage under the claim.** The claim's staging folder is
   ``<root>/_tmp/<topic>+<p>/<epoch>/``. Every part of a batch is written there (with
   parent creation off) and renamed from there to its final name.
3. **Fence.** Right after its claim, the new owner deletes every staging folder of
   ``p`` with a smaller epoch, then checks that no larger claim appeared meanwhile
   (else it gives the partition up). From that instant no older owner can create a
   file (the folder is gone) or rename one (its source is gone); a file it was
   writing fails at close.
4. **Recover.** Only then does the new owner list ``p``'s landed files and resume
   after the last complete batch, deleting the parts of an incomplete one. Any
   rename of an older owner happened before the fence (HDFS orders namespace
   operations), so the listing is final: a batch the older owner finished is kept
   and skipped, one it half renamed is landed again whole.
5. **Before committing**, a lander checks that its claim is still the newest and
   commits nothing for a partition it lost; a lander that finds itself fenced drops
   that partition's unlanded batch (the new owner lands those messages).

An older owner can therefore leave at most an unregistered empty date folder behind,
never a row. Nothing here relies on clocks, leases or Kafka: a lander outside any group
(the default, one lander for the whole topic) takes its claims the same way, so a
second lander started by mistake on another machine fences the first, which stops
with one sentence instead of landing beside it.
"""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import dataclass

from hdfs_native import WriteOptions

from ingestion.catalog import Tables
from ingestion.landing.store import mark_closed

EPOCH_DIGITS = 20
MAX_CLAIM_TRIES = 100


@dataclass(frozen=True)
class Claim:
    """A lander's hold on one partition: the epoch it took and where it stages."""

    topic: str
    partition: int
    epoch: int
    staging: str  # folder of this claim's temporary files


class Fenced(Exception):
    """Another lander took these partitions since this one claimed them."""

    def __init__(self, partitions: list[int]) -> None:
        super().__init__(f"partitions {partitions} were taken by another lander")
        self.partitions = partitions


def holder() -> str:
    """What a claim file says about its lander, for an operator reading it."""
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return json.dumps({"host": socket.gethostname(), "pid": os.getpid(), "claimed_at": started})


class Fences:
    """Claims and staging folders of a topic's partitions under one raw root."""

    def __init__(self, client, tables: Tables) -> None:
        self.client = client
        self.tables = tables

    def _key(self, topic: str, partition: int) -> str:
        return f"{topic}+{partition}"

    def owners_dir(self, topic: str, partition: int) -> str:
        return f"{self.tables.root}/_owners/{self._key(topic, partition)}"

    def staging_root(self, topic: str, partition: int) -> str:
        return f"{self.tables.tmp_dir}/{self._key(topic, partition)}"

    def _epochs(self, folder: str) -> list[tuple[int, str]]:
        """(epoch, path) of the entries of ``folder`` named by an epoch."""
        try:
            statuses = list(self.client.list_status(folder))
        except FileNotFoundError:
            return []
        found = []
        for status in statuses:
            name = status.path.rstrip("/").rpartition("/")[2]
            if name.isdigit():
                found.append((int(name), status.path))
        return sorted(found)

    def newest(self, topic: str, partition: int) -> int:
        """The largest epoch claimed for the partition (0: never claimed)."""
        epochs = self._epochs(self.owners_dir(topic, partition))
        return epochs[-1][0] if epochs else 0

    def acquire(self, topic: str, partition: int) -> Claim:
        """Claim the partition (steps 1-3 of the protocol); Fenced when a newer claim
        appeared while this one was being taken."""
        owners = self.owners_dir(topic, partition)
        epoch = self.newest(topic, partition) + 1
        for _ in range(MAX_CLAIM_TRIES):
            try:
                writer = self.client.create(
                    f"{owners}/{epoch:0{EPOCH_DIGITS}d}",
                    WriteOptions(overwrite=False, create_parent=True),
                )
            except FileExistsError:
                epoch += 1
                continue
            try:
                writer.write(holder().encode())
            finally:
                writer.close()
                mark_closed(writer)
            break
        else:
            raise RuntimeError(f"could not claim partition {partition} of {topic}")
        root = self.staging_root(topic, partition)
        staging = f"{root}/{epoch:0{EPOCH_DIGITS}d}"
        self.client.mkdirs(staging, create_parent=True)
        for older, path in self._epochs(root):
            if older < epoch:
                self.client.delete(path, recursive=True)
        if self.newest(topic, partition) != epoch:
            raise Fenced([partition])
        # Older claim files are history now; the newest stays as the fence.
        for older, path in self._epochs(owners):
            if older < epoch:
                self.client.delete(path)
        return Claim(topic, partition, epoch, staging)

    def holds(self, claim: Claim) -> bool:
        """True while no newer claim exists for the claim's partition."""
        return self.newest(claim.topic, claim.partition) == claim.epoch

    def release(self, claim: Claim) -> None:
        """Give a partition up cleanly: its staging folder goes (a newer owner would
        delete it anyway); the claim file stays as the epoch to count from."""
        if self.holds(claim):
            self.client.delete(claim.staging, recursive=True)

"""Several landers on one topic, with fakes: rebalances, claims on HDFS, and every
decision of the fence (``ingestion.landing.fence``)."""

from __future__ import annotations

import collections
import json
import signal
import threading

import pytest
from kafka import TopicPartition
from kafka.errors import CommitFailedError

from core.errors import UserError
from ingestion.catalog import QUARANTINE_TABLE, RAW_TABLE, Tables
from ingestion.landing.fence import Claim, Fenced, Fences
from ingestion.landing.lander import LandConfig, Lander
from ingestion.landing.processes import (
    child_command,
    exit_status,
    run_landers,
    without_processes,
)
from ingestion.landing.rebalance import Rebalance
from ingestion.landing.store import HdfsStore

from .fakes import FakeCatalog, FakeConsumer, FakeHdfs

TOPIC = "assessment-attempts"
DAY = 1516717442735  # 2018-01-23
TABLES = Tables("hdfs://test", "/edtrack/raw")


def messages(partitions: int = 3, each: int = 10) -> dict[int, list[tuple[int, bytes]]]:
    return {
        p: [(DAY + i, json.dumps({"keen_id": f"{p}-{i}"}).encode()) for i in range(each)]
        for p in range(partitions)
    }


class GroupConsumer(FakeConsumer):
    """A consumer of a group: ``subscribe`` keeps the listener; the test hands out
    partitions with ``rebalance`` (or evicts with ``lose``), which the next poll runs
    through the listener as kafka-python does (eager: revoke all, assign all)."""

    def __init__(self, topic, messages, committed: dict | None = None) -> None:
        super().__init__(topic, messages)
        self.assigned: list = []
        self.listener = None
        self.paused: set[int] = set()
        self.committed_offsets = {} if committed is None else committed  # shared by a group
        self._next: tuple[str, list[int]] | None = None
        self.refuse_commits = False

    def subscribe(self, topics, listener):
        assert topics == [self.topic]
        self.listener = listener
        self.subscriptions = getattr(self, "subscriptions", 0) + 1

    def unsubscribe(self):  # leaves the group: no listener call, nothing assigned
        self.assigned = []

    def rebalance(self, partitions: list[int]) -> None:
        self._next = ("assign", partitions)

    def lose(self) -> None:
        self._next = ("lose", [])

    def pause(self, *tps):  # kept across rebalances, as kafka-python does
        self.paused.update(tp.partition for tp in tps)

    def resume(self, *tps):
        self.paused.difference_update(tp.partition for tp in tps)

    def poll(self, timeout_ms=0, max_records=500):
        if self._next is not None:
            kind, partitions = self._next
            self._next = None
            current = set(self.assigned)
            if kind == "lose":
                self.listener.on_partitions_lost(current)
                self.assigned = []
            else:
                self.listener.on_partitions_revoked(current)
                self.assigned = [TopicPartition(self.topic, p) for p in partitions]
                self.listener.on_partitions_assigned(set(self.assigned))
        live = [tp for tp in self.assigned if tp.partition not in self.paused]
        everything, self.assigned = self.assigned, live
        try:
            return super().poll(timeout_ms, max_records)
        finally:
            self.assigned = everything

    def commit(self, offsets):
        if self.refuse_commits:
            raise CommitFailedError("the group has rebalanced")
        super().commit(offsets)
        for tp, om in offsets.items():
            self.committed_offsets[tp.partition] = om.offset

    def committed(self, tp):
        return self.committed_offsets.get(tp.partition)

    def beginning_offsets(self, tps):
        return {tp: 0 for tp in tps}


def lander(consumer, fs, lines: list[str] | None = None, group=True, **config) -> Lander:
    config.setdefault("batch_records", 4)
    config.setdefault("write_threads", 2)
    config = LandConfig(bootstrap="unused", topic=TOPIC, group=group, **config)
    log = lines if lines is not None else []
    return Lander(config, consumer, HdfsStore(fs, TABLES), FakeCatalog(), report=log.append)


def member(
    topic: dict, fs: FakeHdfs, partitions: list[int] | None = None, **config
) -> tuple[GroupConsumer, Lander, list[str]]:
    """A started lander of a group (its consumer and report lines); with ``partitions``,
    the group hands it those at its next poll."""
    consumer = GroupConsumer(TOPIC, topic, config.pop("committed", None))
    lines: list[str] = []
    one = lander(consumer, fs, lines, **config)
    one.start()
    if partitions is not None:
        consumer.rebalance(partitions)
    return consumer, one, lines


def landed(fs: FakeHdfs) -> collections.Counter:
    """(partition, offset) -> copies, over both tables."""
    copies: collections.Counter = collections.Counter()
    for path, data in fs.files.items():
        if path.startswith((f"{TABLES.dir(RAW_TABLE)}/", f"{TABLES.dir(QUARANTINE_TABLE)}/")):
            for line in data.splitlines():
                row = json.loads(line)
                copies[(row["kafka_partition"], row["kafka_offset"])] += 1
    return copies


def every_message_once(fs: FakeHdfs, topic_messages: dict) -> None:
    copies = landed(fs)
    expected = {(p, o) for p, ms in topic_messages.items() for o in range(len(ms))}
    assert set(copies) == expected, sorted(expected - set(copies))
    assert max(copies.values()) == 1, [k for k, n in copies.items() if n > 1]


def drain(*landers: Lander, rounds: int = 10) -> None:
    for _ in range(rounds):
        for one in landers:
            one.consume_once()
    for one in landers:
        one.flush_all()


# .. claims ............................................................................
def test_each_claim_takes_the_next_epoch_and_fences_the_older_staging_folder():
    fs = FakeHdfs()
    fences = Fences(fs, TABLES)
    first = fences.acquire(TOPIC, 0)
    fs.files[f"{first.staging}/part.jsonl.abc"] = b"half"
    second = fences.acquire(TOPIC, 0)
    assert (first.epoch, second.epoch) == (1, 2)
    assert not fs.is_dir(first.staging) and fs.is_dir(second.staging)
    assert fences.holds(second) and not fences.holds(first)
    # The older claim file is history; the newest is the fence.
    owners = [p.rpartition("/")[2] for p in fs.files if "/_owners/" in p]
    assert owners == [f"{2:020d}"]
    assert json.loads(fs.files[f"{fences.owners_dir(TOPIC, 0)}/{2:020d}"])["pid"] > 0
    assert fences.acquire(TOPIC, 1).epoch == 1  # partitions are claimed one by one


def test_a_claim_lost_in_a_race_takes_the_next_epoch():
    fs = FakeHdfs()
    fences = Fences(fs, TABLES)
    racing = fs.create

    def someone_else_first(path, write_options=None):
        if path.endswith(f"/{1:020d}") and path not in fs.files:
            racing(path, write_options).close()  # another lander created epoch 1 first
        return racing(path, write_options)

    fs.create = someone_else_first
    assert fences.acquire(TOPIC, 0).epoch == 2


def test_a_claim_overtaken_while_it_was_taken_is_refused():
    fs = FakeHdfs()
    fences = Fences(fs, TABLES)
    mkdirs = fs.mkdirs

    def newer_claim_meanwhile(path, create_parent=False):
        mkdirs(path, create_parent)
        if path.endswith(f"/{1:020d}"):
            fs.files[f"{fences.owners_dir(TOPIC, 0)}/{2:020d}"] = b"{}"

    fs.mkdirs = newer_claim_meanwhile
    with pytest.raises(Fenced):
        fences.acquire(TOPIC, 0)


def test_releasing_a_claim_removes_its_staging_folder_but_not_a_newer_owners():
    fs = FakeHdfs()
    fences = Fences(fs, TABLES)
    old = fences.acquire(TOPIC, 0)
    new = fences.acquire(TOPIC, 0)
    fences.release(old)
    assert fs.is_dir(new.staging)
    fences.release(new)
    assert not fs.is_dir(new.staging)


# .. rebalances ........................................................................
def test_two_landers_of_a_group_share_the_partitions_and_land_each_message_once():
    topic, committed = messages(), {}
    fs = FakeHdfs()
    a_consumer = GroupConsumer(TOPIC, topic, committed)
    b_consumer = GroupConsumer(TOPIC, topic, committed)
    a, b = lander(a_consumer, fs), lander(b_consumer, fs)
    a.start(), b.start()
    a_consumer.rebalance([0, 1])
    b_consumer.rebalance([2])
    drain(a, b)
    every_message_once(fs, topic)
    assert sorted(a.claims) == [0, 1] and sorted(b.claims) == [2]
    assert committed == {0: 10, 1: 10, 2: 10}
    assert a.group_caught_up() and b.group_caught_up()


def test_a_revoked_partition_lands_its_open_batch_and_its_next_owner_resumes_after_it():
    topic, committed = messages(2, 10), {}
    fs = FakeHdfs()
    a_consumer = GroupConsumer(TOPIC, topic, committed)
    b_consumer = GroupConsumer(TOPIC, topic, committed)
    a_lines: list[str] = []
    a = lander(a_consumer, fs, a_lines, batch_records=6)
    b = lander(b_consumer, fs, batch_records=6)
    a.start(), b.start()
    a_consumer.rebalance([0, 1])
    a.consume_once()  # 0-5 of each partition landed
    a.consume_once()  # 6-9 of each pending
    assert a.pending[1].offsets == [6, 7, 8, 9]
    a_consumer.rebalance([0])  # partition 1 moves to b
    b_consumer.rebalance([1])
    a.consume_once()  # the revocation lands the open batches, then a takes 0 again
    assert any(line.startswith("gave up partition(s) 0, 1") for line in a_lines)
    # Inside the rebalance nothing is committed; a commits 0's recovered offset after it.
    assert a_consumer.commits == [{0: 6, 1: 6}, {0: 10}]
    b.consume_once()
    assert b.next_offset[1] == 10  # after a's batches, read from HDFS
    assert committed[1] == 10  # committed by its next owner, from HDFS
    drain(a, b)
    every_message_once(fs, topic)


def test_a_lander_evicted_from_the_group_drops_its_open_batches():
    topic = messages(1, 6)
    fs = FakeHdfs()
    consumer, one, lines = member(topic, fs, [0])
    one.consume_once()  # offsets 0-3 landed
    one.consume_once()  # 4-5 pending
    assert one.pending[0].offsets == [4, 5]
    consumer.lose()
    one.consume_once()
    assert one.claims == {} and one.pending == {}
    assert sorted(landed(fs)) == [(0, o) for o in range(4)]
    assert any(line.startswith("lost partition(s) 0") for line in lines)


def test_messages_of_a_partition_not_claimed_are_not_landed():
    topic = messages(2, 4)
    fs = FakeHdfs()
    consumer = GroupConsumer(TOPIC, topic)
    one = lander(consumer, fs)
    one.start()
    consumer.rebalance([0])
    consumer.assigned.append(TopicPartition(TOPIC, 1))  # fetched, but never claimed
    consumer.positions[1] = 0
    drain(one)
    assert {p for p, _ in landed(fs)} == {0}


def test_offsets_before_the_recovered_one_are_skipped():
    topic = messages(1, 8)
    fs = FakeHdfs()
    lander(FakeConsumer(TOPIC, topic), fs, group=False).run(until_caught_up=True)
    stale = FakeConsumer(TOPIC, topic)
    again = lander(stale, fs, group=False)
    again.start()
    stale.positions[0] = 2  # a fetch from before the seek
    drain(again)
    every_message_once(fs, topic)


# .. fencing: a lander that wakes up after its partitions moved on ....................
@pytest.mark.parametrize("moment", ["before-staging", "staged", "one-part-renamed"])
def test_a_zombie_lands_nothing_after_its_partition_was_claimed_again(moment):
    topic = {0: [(DAY + i * 86_400_000 * (i % 2), b'{"keen_id": "k%d"}' % i) for i in range(8)]}
    fs = FakeHdfs()
    zombie_consumer = GroupConsumer(TOPIC, topic)
    lines: list[str] = []
    zombie = lander(zombie_consumer, fs, lines, batch_records=100)
    zombie.start()
    zombie_consumer.rebalance([0])
    zombie.consume_once()  # 8 messages over two dates pending: a batch of two parts
    heir_consumer = GroupConsumer(TOPIC, topic)
    heir = lander(heir_consumer, fs, batch_records=100)
    heir.start()

    def take_over() -> None:  # the group moved on meanwhile
        heir_consumer.assigned = [TopicPartition(TOPIC, 0)]
        heir.assigned([0])

    if moment == "before-staging":
        take_over()
    else:
        stage, rename = zombie.store.stage, fs.rename
        renames = 0

        def stage_then(staging, landed_file, rows):
            path = stage(staging, landed_file, rows)
            if moment == "staged" and landed_file.part == landed_file.parts:
                take_over()
            return path

        def rename_then(src, dst, overwrite=False):
            nonlocal renames
            rename(src, dst, overwrite)
            renames += 1
            if moment == "one-part-renamed" and renames == 1:
                take_over()

        zombie.store.stage, fs.rename = stage_then, rename_then
    zombie.flush_all()
    assert any(line.startswith("fenced: another lander took partition(s) 0") for line in lines)
    assert zombie.claims == {} and zombie_consumer.commits == [] and 0 in zombie_consumer.paused
    # Nothing of the zombie's batch stays: the heir's recovery ran after the fence and
    # removed a half-renamed batch (and resumes at its first offset, 0), else found
    # nothing (and starts at the partition's beginning).
    assert landed(fs) == collections.Counter()
    assert heir.next_offset[0] == (0 if moment == "one-part-renamed" else None)
    fs.rename = FakeHdfs.rename.__get__(fs)
    drain(heir)
    every_message_once(fs, topic)


def test_a_zombie_that_renamed_everything_before_the_fence_keeps_its_batch_and_commits_nothing():
    topic = messages(1, 4)
    fs = FakeHdfs()
    zombie_consumer = GroupConsumer(TOPIC, topic)
    zombie = lander(zombie_consumer, fs)
    zombie.start()
    zombie_consumer.rebalance([0])
    heir = lander(GroupConsumer(TOPIC, topic), fs)
    heir.start()
    register = zombie.catalog.add_partitions

    def claimed_meanwhile(table, dates):  # after every rename, before the commit
        register(table, dates)
        if table == QUARANTINE_TABLE and 0 not in heir.claims:
            heir.assigned([0])

    zombie.catalog.add_partitions = claimed_meanwhile
    zombie.consume_once()  # a full batch of 4: renamed, then fenced before the commit
    assert zombie_consumer.commits == []
    assert heir.next_offset[0] == 4  # the heir resumes after the zombie's whole batch
    every_message_once(fs, topic)


def test_outside_a_group_a_second_lander_stops_the_first_with_one_sentence():
    topic = messages(1, 6)
    fs = FakeHdfs()
    first = lander(FakeConsumer(TOPIC, topic), fs, group=False)
    first.start()
    first.consume_once()  # 4 landed
    first.consume_once()  # 2 pending
    second = lander(FakeConsumer(TOPIC, topic), fs, group=False)
    second.start()
    with pytest.raises(UserError, match="Another lander took partition\\(s\\) 0 of topic"):
        first.flush_all()
    drain(second)
    every_message_once(fs, topic)


# .. commits ...........................................................................
def test_a_commit_the_group_refuses_is_reported_and_landing_goes_on():
    topic = messages(1, 4)
    fs = FakeHdfs()
    consumer, one, lines = member(topic, fs, [0])
    consumer.refuse_commits = True
    one.consume_once()
    assert any(line.startswith("offsets not committed, the group is rebalancing") for line in lines)
    every_message_once(fs, topic)


def test_outside_a_group_a_refused_commit_is_an_error():
    consumer = GroupConsumer(TOPIC, messages(1, 4))
    consumer.refuse_commits = True
    one = lander(consumer, FakeHdfs(), group=False)
    with pytest.raises(CommitFailedError):
        one.run(until_caught_up=True)


def test_offsets_recovered_from_hdfs_are_committed_at_once():
    topic = messages(1, 8)
    fs = FakeHdfs()
    lander(FakeConsumer(TOPIC, topic), fs, group=False).run(until_caught_up=True)
    restarted = FakeConsumer(TOPIC, topic)  # as after a kill between rename and commit
    lander(restarted, fs, group=False).start()
    assert restarted.commits == [{0: 8}]


def test_a_lander_without_a_group_lands_partitions_added_to_the_topic():
    topic = messages(1, 4)
    fs = FakeHdfs()
    consumer = FakeConsumer(TOPIC, topic)
    one = lander(consumer, fs, group=False)
    one.start()
    drain(one)
    topic[1] = messages(2, 3)[1]
    one.run(until_caught_up=True)
    every_message_once(fs, topic)
    assert isinstance(one.claims[1], Claim)


def test_a_replay_is_refused_in_a_group():
    one = lander(GroupConsumer(TOPIC, messages(1, 1)), FakeHdfs())
    from ingestion.landing.lander import Replay

    with pytest.raises(UserError, match="A replay runs alone"):
        one.start([Replay(0, offset=0)])


def test_the_listener_passes_partition_numbers_to_the_lander():
    calls = []

    class Recorder:
        claims: dict = {}

        def assigned(self, partitions):
            calls.append(("assigned", partitions))

        def give_up(self, partitions, finish):
            calls.append(("finish" if finish else "drop", partitions))

    listener = Rebalance(Recorder())
    tps = {TopicPartition(TOPIC, 2), TopicPartition(TOPIC, 0)}
    listener.on_partitions_assigned(tps)
    listener.on_partitions_revoked(tps)
    listener.on_partitions_lost(tps)
    assert calls == [("assigned", [0, 2]), ("finish", [0, 2]), ("drop", [0, 2])]


# .. --processes N .....................................................................
def test_processes_start_that_many_grouped_landers_with_the_same_options():
    argv = ["--port-offset", "5", "land", "--processes", "3", "--topic", "t"]
    assert without_processes(argv) == ["--port-offset", "5", "land", "--topic", "t"]
    assert without_processes(["land", "--processes=2"]) == ["land"]
    command = child_command(argv)
    assert command[1:] == ["-m", "edtrack", "--port-offset", "5", "land", "--topic", "t", "--group"]


def test_processes_pass_signals_on_and_exit_with_the_worst_code():
    class Child:
        def __init__(self, pid: int, code: int) -> None:
            self.pid, self.code, self.signals = pid, code, []

        def poll(self):
            return None

        def send_signal(self, signum):
            self.signals.append(signum)

        def wait(self):
            if self.pid == 1:  # the first child waits: a SIGTERM reaches the parent
                signal.raise_signal(signal.SIGTERM)
            return self.code

    made = [Child(1, 0), Child(2, 3)]
    children = iter(made)
    spawned = []

    def spawn(command):
        spawned.append(command)
        return next(children)

    lines: list[str] = []
    code = run_landers(2, ["land"], lines.append, spawn=spawn)
    assert code == 3 and len(spawned) == 2
    assert lines[0] == "started 2 landers in one group: pids 1, 2"
    assert lines[-1] == "lander 2 exited 3"
    assert [c.signals for c in made] == [[signal.SIGTERM], [signal.SIGTERM]]


def test_a_child_killed_by_a_signal_exits_as_a_shell_shows_it():
    assert [exit_status(code) for code in (0, 3, -15, -9)] == [0, 3, 143, 137]


def test_a_fenced_partition_handed_back_by_the_group_is_landed_again():
    topic = messages(1, 6)
    fs = FakeHdfs()
    consumer = GroupConsumer(TOPIC, topic)
    one = lander(consumer, fs)
    one.start()
    consumer.rebalance([0])
    one.consume_once()  # 0-3 landed
    one.consume_once()  # 4-5 pending
    Fences(fs, TABLES).acquire(TOPIC, 0)  # someone claimed it meanwhile, then went away
    one.flush_all()
    assert 0 in consumer.paused and one.claims == {}
    consumer.rebalance([0])
    drain(one)
    assert one.claims[0].epoch == 3 and 0 not in consumer.paused
    assert consumer.subscriptions == 2  # it left and joined the group again
    every_message_once(fs, topic)


def test_a_lander_that_kafka_has_not_told_yet_learns_from_its_claims_and_rejoins():
    topic = messages(2, 4)
    fs = FakeHdfs()
    consumer, one, lines = member(topic, fs, [0, 1])
    one.consume_once()  # both partitions landed, nothing pending
    Fences(fs, TABLES).acquire(TOPIC, 1)  # the group gave 1 to another lander meanwhile
    one.check_claims()
    assert sorted(one.claims) == [0] and 1 in consumer.paused
    assert any(line.startswith("fenced: another lander took partition(s) 1") for line in lines)
    one.consume_once()  # leaves (landing 0's open batch first) and joins again
    assert consumer.subscriptions == 2 and one.claims == {}
    assert lines[-1] == "rejoined group 'edtrack-lander': Kafka assigns its partitions"
    consumer.rebalance([0])
    drain(one)
    assert one.claims[0].epoch == 2
    every_message_once(fs, topic)


def test_a_claim_overtaken_while_a_group_lander_takes_it_leaves_that_partition_alone():
    topic = messages(2, 4)
    fs = FakeHdfs()
    consumer = GroupConsumer(TOPIC, topic)
    lines: list[str] = []
    one = lander(consumer, fs, lines)
    one.start()
    mkdirs = fs.mkdirs

    def newer_claim_of_partition_1(path, create_parent=False):
        mkdirs(path, create_parent)
        if path.endswith(f"{TOPIC}+1/{1:020d}"):
            fs.files[f"{one.fences.owners_dir(TOPIC, 1)}/{2:020d}"] = b"{}"

    fs.mkdirs = newer_claim_of_partition_1
    consumer.rebalance([0, 1])
    one.consume_once()
    assert sorted(one.claims) == [0] and 1 in consumer.paused
    assert {p for p, _ in landed(fs)} == {0}
    assert any(line.startswith("fenced: another lander took partition(s) 1") for line in lines)
    one.consume_once()  # joins the group again; the next assignment claims afresh
    assert one.claims == {} and consumer.subscriptions == 2
    consumer.rebalance([0, 1])
    drain(one)
    assert one.claims[1].epoch == 3
    every_message_once(fs, topic)


def test_a_lander_claims_its_partitions_at_once():
    # Each claim waits on its file's close (about 0.5 s with hdfs-native): taken one
    # after another, three partitions would cost 1.5 s of every start. Here each claim
    # waits at a barrier until all three are being taken; one at a time, it breaks.
    topic = messages(3, 4)
    fs = FakeHdfs()
    consumer = GroupConsumer(TOPIC, topic)
    one = lander(consumer, fs, write_threads=3)
    one.start()
    barrier = threading.Barrier(3, timeout=5)
    acquire = one.fences.acquire

    def meeting(topic_name: str, partition: int) -> Claim:
        barrier.wait()
        return acquire(topic_name, partition)

    one.fences.acquire = meeting
    consumer.rebalance([0, 1, 2])
    drain(one)
    assert sorted(one.claims) == [0, 1, 2]
    every_message_once(fs, topic)

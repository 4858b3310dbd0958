"""The lander's fault points and its stop on a refused HDFS write, against fakes.

A fault point's action here raises ``Killed`` (a BaseException, so no ``except
Exception`` in the lander catches it) instead of SIGKILL: the lander stops at that step
with nothing after it done, and a new lander over the same HDFS must land every message
exactly once.
"""

import json
import threading
import time

import pytest

from core.errors import ServiceUnavailable, UserError
from core.sql import QueryFailed
from ingestion.catalog import QUARANTINE_TABLE, RAW_TABLE, Tables
from ingestion.landing import stall
from ingestion.landing.faults import FAULT_STEPS, FaultPoint, Faults
from ingestion.landing.lander import LandConfig, Lander
from ingestion.landing.retry import RetryPolicy
from ingestion.landing.store import HdfsStore, HdfsWriteFailed, LandedFile

from .fakes import FakeCatalog, FakeConsumer, FakeHdfs

TOPIC = "assessment-attempts"
DAY1 = 1516717442735  # 2018-01-23
DAY2 = DAY1 + 86_400_000
TABLES = Tables("hdfs://test", "/edtrack/raw")


class Killed(BaseException):
    pass


def kill() -> None:
    raise Killed


def messages() -> dict[int, list[tuple[int, bytes | None]]]:
    """Two partitions, two dates, a quarantined message in each batch."""
    out: dict[int, list[tuple[int, bytes | None]]] = {}
    for p in (0, 1):
        out[p] = [
            (DAY1 if i % 3 else DAY2, json.dumps({"keen_id": f"{p}-{i}"}).encode())
            for i in range(10)
        ]
        out[p][4] = (DAY1, b"not json")
    return out


def lander(consumer, fs, fault: FaultPoint | None) -> Lander:
    config = LandConfig(bootstrap="unused", topic=TOPIC, write_threads=2, batch_records=4)
    store = HdfsStore(fs, TABLES, Faults(fault, act=kill))
    return Lander(config, consumer, store, FakeCatalog(), report=lambda _: None)


def landed(fs: FakeHdfs) -> list[tuple[str, int, int]]:
    rows = []
    for path, data in fs.files.items():
        for table in (RAW_TABLE, QUARANTINE_TABLE):
            if path.startswith(f"{TABLES.dir(table)}/"):
                rows += [
                    (table, r["kafka_partition"], r["kafka_offset"])
                    for r in map(json.loads, data.splitlines())
                ]
    return sorted(rows)


EXPECTED = sorted(
    (QUARANTINE_TABLE if i == 4 else RAW_TABLE, p, i) for p in (0, 1) for i in range(10)
)


@pytest.mark.parametrize("hit", [1, 2])
@pytest.mark.parametrize("step", FAULT_STEPS)
def test_a_lander_killed_at_a_step_is_resumed_without_loss_or_duplicates(step, hit):
    fs = FakeHdfs()
    consumer = FakeConsumer(TOPIC, messages())
    first = lander(consumer, fs, FaultPoint(step, hit))
    with pytest.raises(Killed):
        first.run(until_caught_up=True)
    # A SIGKILL stops every thread at once; here the other staging thread may still be
    # writing: let it finish, so its temporary file is there for the restart to remove.
    first._pool.shutdown(wait=True)
    before = landed(fs)
    assert before != EXPECTED  # the kill stopped it part-way
    lander(FakeConsumer(TOPIC, messages()), fs, None).run(until_caught_up=True)
    assert landed(fs) == EXPECTED
    assert not [p for p in fs.files if p.startswith(TABLES.tmp_dir)]


def test_without_a_fault_point_no_step_acts():
    faults = Faults(None, act=kill)
    for step in FAULT_STEPS:
        faults.reach(step)
    assert faults.hits == {}


def test_a_fault_point_acts_once_on_its_hit():
    calls = []
    faults = Faults(FaultPoint("renamed", 2), act=lambda: calls.append(1))
    for step in ("renamed", "staged", "renamed", "renamed"):
        faults.reach(step)
    assert calls == [1]


@pytest.mark.parametrize(
    ("text", "point"),
    [
        pytest.param("staged", FaultPoint("staged", 1), id="step"),
        pytest.param("registering:3", FaultPoint("registering", 3), id="step-and-hit"),
    ],
)
def test_fault_points_parse(text, point):
    assert FaultPoint.parse(text) == point


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("exploding", "Unknown lander fault step 'exploding'", id="unknown-step"),
        pytest.param("staged:x", "must be a whole number", id="bad-hit"),
        pytest.param("staged:0", "starts at 1", id="zero-hit"),
    ],
)
def test_a_bad_fault_point_is_one_sentence(text, message):
    with pytest.raises(UserError, match=message):
        FaultPoint.parse(text)


class QuotaHdfs(FakeHdfs):
    """Refuses new files while ``full``, as HDFS does over a space quota."""

    full = True

    def create(self, path: str, write_options=None):
        if self.full and path.startswith(TABLES.tmp_dir):  # data, not the lander's claims
            raise RuntimeError(
                "DSQuotaExceededException: The DiskSpace quota of /edtrack/raw is exceeded: "
                "quota = 1024 B = 1 KB but diskspace consumed = 134217728 B = 128 MB\n"
                "\tat org.apache.hadoop.hdfs.server.namenode.DirectoryWithQuotaFeature"
            )
        return super().create(path)


def test_a_refused_hdfs_write_stops_the_lander_with_one_sentence_and_commits_nothing():
    fs = QuotaHdfs()
    consumer = FakeConsumer(TOPIC, messages())
    with pytest.raises(HdfsWriteFailed) as failed:
        lander(consumer, fs, None).run(until_caught_up=True)
    message = str(failed.value)
    assert message.startswith("Landing stopped: HDFS refused a write under /edtrack/raw")
    assert "DiskSpace quota of /edtrack/raw is exceeded" in message
    assert "\n" not in message and "DirectoryWithQuotaFeature" not in message
    assert consumer.commits == [] and landed(fs) == []
    fs.full = False
    lander(FakeConsumer(TOPIC, messages()), fs, None).run(until_caught_up=True)
    assert landed(fs) == EXPECTED


def test_a_write_failure_after_some_batches_resumes_after_the_last_complete_one():
    fs = QuotaHdfs()
    fs.full = False
    consumer = FakeConsumer(TOPIC, messages())
    creates = 0
    create = fs.create

    def create_then_fill(path, write_options=None):
        nonlocal creates
        creates += path.startswith(TABLES.tmp_dir)
        if creates > 4:  # the first flush (two batches, two parts each) lands whole
            fs.full = True
        return create(path, write_options)

    fs.create = create_then_fill
    with pytest.raises(HdfsWriteFailed):
        lander(consumer, fs, None).run(until_caught_up=True)
    assert 0 < len(landed(fs)) < len(EXPECTED)
    fs.create = create
    fs.full = False
    lander(FakeConsumer(TOPIC, messages()), fs, None).run(until_caught_up=True)
    assert landed(fs) == EXPECTED


class BrokerAway(Exception):
    retriable = True  # as kafka-python marks KafkaConnectionError


class Refused(Exception):
    pass


class FlakyConsumer(FakeConsumer):
    """Commits fail while the broker is away (``away`` more calls), like a restart."""

    def __init__(self, *args, away: int, error=BrokerAway) -> None:
        super().__init__(*args)
        self.away = away
        self.error = error

    def commit(self, offsets):
        if self.away:
            self.away -= 1
            raise self.error("111 ECONNREFUSED")
        super().commit(offsets)


def test_a_broker_away_for_a_while_delays_the_commit_without_stopping_the_lander():
    fs = FakeHdfs()
    consumer = FlakyConsumer(TOPIC, messages(), away=3)
    sleeps: list[float] = []
    config = LandConfig(bootstrap="unused", topic=TOPIC, write_threads=2, batch_records=4)
    retry = RetryPolicy(attempts=5, backoff_s=0.5, max_backoff_s=1.0, sleep=sleeps.append)
    lines: list[str] = []
    store = HdfsStore(fs, TABLES)
    Lander(config, consumer, store, FakeCatalog(), report=lines.append, retry=retry).run(
        until_caught_up=True
    )
    assert landed(fs) == EXPECTED
    assert sleeps == [0.5, 1.0, 1.0]
    away = "Kafka at unused unavailable while committing offsets"
    assert sum(away in line for line in lines) == 3
    assert consumer.commits[-1] == {0: 10, 1: 10}


def test_a_broker_away_too_long_stops_the_lander_with_one_sentence_and_loses_nothing():
    fs = FakeHdfs()
    consumer = FlakyConsumer(TOPIC, messages(), away=100)
    config = LandConfig(bootstrap="127.0.0.1:9092", topic=TOPIC, write_threads=2, batch_records=4)
    retry = RetryPolicy(attempts=3, backoff_s=1.0, sleep=lambda _: None)
    store = HdfsStore(fs, TABLES)
    first = Lander(config, consumer, store, FakeCatalog(), report=lambda _: None, retry=retry)
    with pytest.raises(ServiceUnavailable, match=r"Kafka at 127.0.0.1:9092 did not answer for 3 s"):
        first.run(until_caught_up=True)
    assert consumer.commits == [] and landed(fs)  # the first batches are on HDFS
    lander(FakeConsumer(TOPIC, messages()), fs, None).run(until_caught_up=True)
    assert landed(fs) == EXPECTED


def test_an_error_kafka_does_not_call_retriable_is_not_retried():
    consumer = FlakyConsumer(TOPIC, messages(), away=1, error=Refused)
    config = LandConfig(bootstrap="unused", topic=TOPIC, write_threads=2, batch_records=4)
    retry = RetryPolicy(sleep=lambda _: pytest.fail("retried"))
    store = HdfsStore(FakeHdfs(), TABLES)
    with pytest.raises(Refused):
        Lander(config, consumer, store, FakeCatalog(), report=lambda _: None, retry=retry).run()


class RestartingMetastore(FakeCatalog):
    """Registrations fail ``down`` times with what the Thrift Server says while the
    NameNode behind the metastore restarts."""

    def __init__(self, down: int, text: str = "java.net.SocketException: Connection reset"):
        super().__init__()
        self.down, self.text, self.calls = down, text, 0

    def add_partitions(self, table: str, dates) -> None:
        dates = list(dates)
        self.calls += bool(dates)
        if self.down and dates:
            self.down -= 1
            raise QueryFailed(f"The query failed: {self.text}", server_text=self.text)
        super().add_partitions(table, dates)


def test_a_registration_failing_while_hdfs_restarts_is_retried_and_lands_everything():
    fs = FakeHdfs()
    catalog = RestartingMetastore(down=2)
    sleeps: list[float] = []
    lines: list[str] = []
    config = LandConfig(bootstrap="unused", topic=TOPIC, write_threads=2, batch_records=4)
    retry = RetryPolicy(attempts=5, backoff_s=0.5, max_backoff_s=1.0, sleep=sleeps.append)
    consumer = FakeConsumer(TOPIC, messages())
    store = HdfsStore(fs, TABLES)
    Lander(config, consumer, store, catalog, report=lines.append, retry=retry).run(
        until_caught_up=True
    )
    assert landed(fs) == EXPECTED
    assert sleeps == [0.5, 1.0]
    assert sorted(catalog.partitions) == sorted(
        [(RAW_TABLE, "2018-01-23"), (RAW_TABLE, "2018-01-24"), (QUARANTINE_TABLE, "2018-01-23")]
    )
    assert sum("Connection reset" in line for line in lines) == 2
    assert consumer.commits[-1] == {0: 10, 1: 10}


def test_a_registration_failing_for_good_stops_the_lander_before_the_commit():
    fs = FakeHdfs()
    consumer = FakeConsumer(TOPIC, messages())
    config = LandConfig(bootstrap="unused", topic=TOPIC, write_threads=2, batch_records=4)
    retry = RetryPolicy(attempts=3, backoff_s=1.0, sleep=lambda _: None)
    store = HdfsStore(fs, TABLES)
    first = Lander(config, consumer, store, RestartingMetastore(down=100), retry=retry)
    first.report = lambda _: None
    with pytest.raises(ServiceUnavailable) as stopped:
        first.run(until_caught_up=True)
    assert str(stopped.value).startswith(
        "The Thrift Server at thrift:10000 did not answer for 3 s while registering dates of "
    )
    assert "it registers every landed date at start" in str(stopped.value)
    assert consumer.commits == [] and landed(fs)
    catalog = FakeCatalog()
    again = Lander(config, FakeConsumer(TOPIC, messages()), store, catalog, report=lambda _: None)
    again.run(until_caught_up=True)
    assert landed(fs) == EXPECTED
    assert (RAW_TABLE, "2018-01-24") in catalog.partitions


def test_a_registration_the_server_refuses_is_not_retried():
    catalog = RestartingMetastore(down=1, text="[TABLE_OR_VIEW_NOT_FOUND] raw.x cannot be found")
    config = LandConfig(bootstrap="unused", topic=TOPIC, write_threads=2, batch_records=4)
    retry = RetryPolicy(sleep=lambda _: pytest.fail("retried"))
    store = HdfsStore(FakeHdfs(), TABLES)
    with pytest.raises(QueryFailed, match="TABLE_OR_VIEW_NOT_FOUND"):
        Lander(config, FakeConsumer(TOPIC, messages()), store, catalog, retry=retry).run()
    assert catalog.calls == 1


class RestartingHdfs(FakeHdfs):
    """Renames fail ``down`` times, as while a NameNode restarts."""

    def __init__(self, down: int) -> None:
        super().__init__()
        self.down = down

    def rename(self, src: str, dst: str, overwrite: bool = False) -> None:
        if self.down:
            self.down -= 1
            raise RuntimeError("RPC listener disconnected")
        super().rename(src, dst, overwrite)


def test_a_restarting_namenode_makes_the_lander_write_the_batch_again_not_stop():
    fs = RestartingHdfs(down=3)
    sleeps: list[float] = []
    lines: list[str] = []
    config = LandConfig(bootstrap="unused", topic=TOPIC, write_threads=2, batch_records=4)
    retry = RetryPolicy(attempts=5, backoff_s=0.5, max_backoff_s=1.0, sleep=sleeps.append)
    lander_ = Lander(
        config,
        FakeConsumer(TOPIC, messages()),
        HdfsStore(fs, TABLES),
        FakeCatalog(),
        report=lines.append,
        retry=retry,
    )
    stats = lander_.run(until_caught_up=True)
    assert landed(fs) == EXPECTED
    assert stats.records == len(EXPECTED)  # a batch written again is counted once
    assert sleeps == [0.5, 1.0, 1.0]
    assert sum("RPC listener disconnected" in line for line in lines) == 3


def test_a_quota_is_not_retried():
    fs = QuotaHdfs()
    config = LandConfig(bootstrap="unused", topic=TOPIC, write_threads=2, batch_records=4)
    retry = RetryPolicy(sleep=lambda _: pytest.fail("retried"))
    store = HdfsStore(fs, TABLES)
    lander_ = Lander(
        config, FakeConsumer(TOPIC, messages()), store, FakeCatalog(), report=print, retry=retry
    )
    with pytest.raises(HdfsWriteFailed) as failed:
        lander_.run(until_caught_up=True)
    assert not failed.value.transient


class FailingInner:
    """hdfs-native's raw writer when its DataNode died mid-write: close fails."""

    def __init__(self) -> None:
        self.closes = 0

    def write(self, buf) -> int:
        return len(buf)

    def close(self) -> None:
        self.closes += 1
        raise RuntimeError('OperationFailed("Failed to complete file in time")')


def test_a_failed_close_is_not_repeated_when_the_writer_is_collected():
    # A second close (from io.IOBase.__del__) of such a writer blocked a lander at exit.
    import gc

    from hdfs_native import FileWriter

    inner = FailingInner()
    fs = FakeHdfs()
    fs.create = lambda path, write_options=None: FileWriter(inner)
    store = HdfsStore(fs, TABLES)
    with pytest.raises(RuntimeError, match="Failed to complete file"):
        store.stage(f"{TABLES.tmp_dir}/{TOPIC}+0/1", LandedFile(TOPIC, 0, 0, 0), [b"{}\n"])
    gc.collect()
    assert inner.closes == 1


def test_hdfs_away_too_long_stops_the_lander_with_one_sentence_and_commits_nothing():
    fs = RestartingHdfs(down=100)
    consumer = FakeConsumer(TOPIC, messages())
    config = LandConfig(bootstrap="unused", topic=TOPIC, write_threads=2, batch_records=4)
    retry = RetryPolicy(attempts=3, backoff_s=1.0, sleep=lambda _: None)
    first = Lander(config, consumer, HdfsStore(fs, TABLES), FakeCatalog(), retry=retry)
    first.report = lambda _: None
    with pytest.raises(ServiceUnavailable) as stopped:
        first.run(until_caught_up=True)
    message = str(stopped.value)
    assert message.startswith(
        "HDFS under /edtrack/raw did not answer for 3 s while writing a batch (RuntimeError)."
    )
    assert "Nothing of this batch was committed" in message
    assert consumer.commits == [] and landed(fs) == []
    fs.down = 0
    Lander(config, FakeConsumer(TOPIC, messages()), HdfsStore(fs, TABLES), FakeCatalog()).run(
        until_caught_up=True
    )
    assert landed(fs) == EXPECTED


class BuggyHdfs(FakeHdfs):
    """A programming error in the write path (not an HDFS error)."""

    def rename(self, src: str, dst: str, overwrite: bool = False) -> None:
        raise TypeError("rename() got an unexpected keyword argument")


def test_a_bug_in_the_write_path_is_raised_at_once_not_retried_or_called_an_hdfs_refusal():
    fs = BuggyHdfs()
    consumer = FakeConsumer(TOPIC, messages())
    config = LandConfig(bootstrap="unused", topic=TOPIC, write_threads=2, batch_records=4)
    retry = RetryPolicy(sleep=lambda _: pytest.fail("retried"))
    lander_ = Lander(config, consumer, HdfsStore(fs, TABLES), FakeCatalog(), retry=retry)
    with pytest.raises(TypeError, match="unexpected keyword argument"):
        lander_.run(until_caught_up=True)
    assert consumer.commits == []


def test_the_landers_figures_come_from_its_clock():
    ticks = iter(range(0, 10_000, 2))  # every reading of the clock is 2 s later
    config = LandConfig(bootstrap="unused", topic=TOPIC, write_threads=2, batch_records=4)
    store = HdfsStore(FakeHdfs(), TABLES)
    consumer = FakeConsumer(TOPIC, messages())
    lander_ = Lander(
        config, consumer, store, FakeCatalog(), clock=lambda: next(ticks), report=lambda _: None
    )
    stats = lander_.run(until_caught_up=True)
    now = next(ticks)
    snapshot = stats.snapshot(now)
    assert stats.started == 0 and stats.records == 20
    assert snapshot["records_per_s"] == round(20 / now, 1)
    assert snapshot["last_commit_age_s"] == now - stats.last_commit > 0


class StuckHdfs(FakeHdfs):
    """The first landed part's write blocks until ``release`` is set, as hdfs-native's
    can after a DataNode dies in the middle of a block."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.stuck = False

    def create(self, path: str, write_options=None):
        writer = super().create(path, write_options)
        if not self.stuck and ".jsonl." in path:
            self.stuck = True
            self.release.wait(30)
        return writer


def test_a_write_that_never_returns_ends_the_lander_for_a_restart(monkeypatch):
    fs = StuckHdfs()
    ended: list[int] = []

    def end(code: int) -> None:  # the process would end here; the test lets it go on
        ended.append(code)
        fs.release.set()

    monkeypatch.setattr(stall, "_end", end)
    lines: list[str] = []
    config = LandConfig(
        bootstrap="unused", topic=TOPIC, write_threads=2, batch_records=4, stall_timeout_s=0.2
    )
    lander_ = Lander(
        config,
        FakeConsumer(TOPIC, messages()),
        HdfsStore(fs, TABLES),
        FakeCatalog(),
        report=lines.append,
    )
    lander_.run(until_caught_up=True)
    assert ended == [stall.STALL_EXIT_CODE]
    (said,) = [line for line in lines if "made no progress" in line]
    assert said.startswith("Writing a batch made no progress for 0.2 s")
    assert "exit code 75" in said


def test_a_write_round_in_time_leaves_the_lander_running(monkeypatch):
    ended: list[int] = []
    monkeypatch.setattr(stall, "_end", ended.append)
    with stall.stall_deadline(0.2, "Writing a batch", print):
        pass
    time.sleep(0.4)  # past the deadline: the timer was cancelled when the body returned
    with stall.stall_deadline(0, "Writing a batch", print):  # 0: no deadline at all
        time.sleep(0.05)
    assert ended == []

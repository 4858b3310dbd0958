import json
import os

import pytest

from core.errors import UserError
from ingestion.catalog import QUARANTINE_TABLE, RAW_TABLE, Tables
from ingestion.landing.lander import LandConfig, Lander, Pending, Replay
from ingestion.landing.lock import exclusive, holder, lock_path, status_path
from ingestion.landing.store import HdfsStore, LandedFile

from .fakes import FakeCatalog, FakeConsumer, FakeHdfs

TOPIC = "assessment-attempts"
DAY1 = 1516717442735  # 2018-01-23
DAY2 = DAY1 + 86_400_000  # 2018-01-24
TABLES = Tables("hdfs://test", "/edtrack/raw")


def attempt(i: int) -> bytes:
    return json.dumps({"keen_id": f"id{i}", "n": i}).encode()


def landed_rows(fs: FakeHdfs) -> dict[str, list[dict]]:
    rows: dict[str, list[dict]] = {RAW_TABLE: [], QUARANTINE_TABLE: []}
    for path, data in fs.files.items():
        for table in rows:
            if path.startswith(f"{TABLES.dir(table)}/"):
                rows[table].extend(json.loads(line) for line in data.splitlines())
    return rows


def table_files(fs: FakeHdfs) -> dict[str, bytes]:
    """The files of both raw tables (not the lander's claims or temporary files)."""
    folders = tuple(f"{TABLES.dir(t)}/" for t in (RAW_TABLE, QUARANTINE_TABLE))
    return {path: data for path, data in fs.files.items() if path.startswith(folders)}


def make_lander(consumer, fs, **config):
    config = LandConfig(bootstrap="unused", topic=TOPIC, write_threads=2, **config)
    return Lander(config, consumer, HdfsStore(fs, TABLES), FakeCatalog(), report=lambda _: None)


def test_every_message_lands_once_in_raw_or_quarantine_and_offsets_are_committed():
    messages = {
        0: [(DAY1, attempt(0)), (DAY1, b"not json"), (DAY2, attempt(2)), (DAY1, None)],
        1: [(DAY2, attempt(10)), (DAY2, b'{"no_key": 1}')],
    }
    consumer = FakeConsumer(TOPIC, messages)
    fs = FakeHdfs()
    lander = make_lander(consumer, fs)
    lander.run(until_caught_up=True)
    rows = landed_rows(fs)
    raw = sorted((r["kafka_partition"], r["kafka_offset"]) for r in rows[RAW_TABLE])
    bad = sorted(
        (r["kafka_partition"], r["kafka_offset"], r["error"][:8]) for r in rows[QUARANTINE_TABLE]
    )
    assert raw == [(0, 0), (0, 2), (1, 0)]
    assert bad == [(0, 1, "not JSON"), (0, 3, "empty me"), (1, 1, "no keen_")]
    # Both partitions' batches closed together: one round of writes, one commit.
    assert consumer.commits == [{0: 4, 1: 2}]
    assert not [p for p in fs.files if p.startswith(TABLES.tmp_dir)]


def test_a_batch_over_two_dates_is_one_file_per_date_named_as_parts_of_the_batch():
    consumer = FakeConsumer(
        TOPIC, {0: [(DAY1, attempt(0)), (DAY2, attempt(1)), (DAY1, attempt(2))]}
    )
    fs = FakeHdfs()
    make_lander(consumer, fs).run(until_caught_up=True)
    names = sorted(table_files(fs))
    prefix = f"{TABLES.dir(RAW_TABLE)}/kafka_date="
    assert names == [
        f"{prefix}2018-01-23/{LandedFile(TOPIC, 0, 0, 2, 1, 2).name}",
        f"{prefix}2018-01-24/{LandedFile(TOPIC, 0, 0, 2, 2, 2).name}",
    ]
    day1 = [json.loads(line)["kafka_offset"] for line in fs.files[names[0]].splitlines()]
    assert day1 == [0, 2]


def test_offsets_are_committed_only_after_every_part_is_renamed():
    events: list[str] = []
    fs = FakeHdfs()
    consumer = FakeConsumer(TOPIC, {0: [(DAY1, attempt(0)), (DAY2, attempt(1))]})
    rename, commit = fs.rename, consumer.commit
    fs.rename = lambda s, d, overwrite=False: (events.append("rename"), rename(s, d))[1]
    consumer.commit = lambda offsets: (events.append("commit"), commit(offsets))[1]
    make_lander(consumer, fs).run(until_caught_up=True)
    assert events == ["rename", "rename", "commit"]


def test_recovery_resumes_after_the_last_complete_batch_and_drops_a_partial_one():
    fs = FakeHdfs()
    store = HdfsStore(fs, TABLES)
    base = f"{TABLES.dir(RAW_TABLE)}/kafka_date=2018-01-23"
    fs.files[f"{base}/{LandedFile(TOPIC, 0, 0, 9, 1, 1).name}"] = b""
    partial = f"{base}/{LandedFile(TOPIC, 0, 10, 19, 1, 2).name}"
    fs.files[partial] = b""
    fs.files[
        f"{TABLES.dir(QUARANTINE_TABLE)}/kafka_date=2018-01-23/"
        f"{LandedFile(TOPIC, 1, 0, 4, 2, 2).name}"
    ] = b""
    fs.files[f"{base}/{LandedFile(TOPIC, 1, 0, 4, 1, 2).name}"] = b""
    fs.files[f"{base}/{LandedFile('other-topic', 0, 0, 99, 1, 1).name}"] = b""
    assert store.recover(TOPIC, [0, 1]) == {0: 10, 1: 5}
    assert partial not in fs.files


def test_recovery_touches_only_the_partitions_asked_for():
    fs = FakeHdfs()
    store = HdfsStore(fs, TABLES)
    base = f"{TABLES.dir(RAW_TABLE)}/kafka_date=2018-01-23"
    mine = f"{base}/{LandedFile(TOPIC, 0, 10, 19, 1, 2).name}"
    theirs = f"{base}/{LandedFile(TOPIC, 1, 10, 19, 1, 2).name}"  # another lander's, half renamed
    fs.files[f"{base}/{LandedFile(TOPIC, 1, 0, 9, 1, 1).name}"] = b""
    fs.files[mine] = fs.files[theirs] = b""
    assert store.recover(TOPIC, [0]) == {0: 10}
    assert mine not in fs.files and theirs in fs.files


def test_table_folders_are_made_on_start_and_temporary_files_go_per_partition():
    fs = FakeHdfs()
    store = HdfsStore(fs, TABLES)
    store.prepare()
    assert fs.dirs == {TABLES.tmp_dir, TABLES.dir(RAW_TABLE), TABLES.dir(QUARANTINE_TABLE)}
    # Left directly in the temporary folder by an earlier version: one per partition.
    for partition in (0, 1):
        fs.files[f"{TABLES.tmp_dir}/{LandedFile(TOPIC, partition, 0, 9).name}.abc"] = b"half"
    fs.files[f"{TABLES.tmp_dir}/{LandedFile('other', 0, 0, 9).name}.abc"] = b"half"
    assert store.remove_loose_temporaries(TOPIC, 0) == 1
    assert sorted(p.rpartition("/")[2].split("+")[:2] for p in fs.files) == [
        ["assessment-attempts", "1"],
        ["other", "0"],
    ]


def test_a_restarted_lander_lands_nothing_twice():
    messages = {0: [(DAY1, attempt(i)) for i in range(7)]}
    fs = FakeHdfs()
    make_lander(FakeConsumer(TOPIC, messages), fs, batch_records=3).run(until_caught_up=True)
    messages[0].extend((DAY2, attempt(i)) for i in range(7, 9))
    make_lander(FakeConsumer(TOPIC, messages), fs, batch_records=3).run(until_caught_up=True)
    offsets = sorted(r["kafka_offset"] for r in landed_rows(fs)[RAW_TABLE])
    assert offsets == list(range(9))


@pytest.mark.parametrize(
    ("limits", "adds", "now", "full"),
    [
        pytest.param({"batch_records": 2}, 2, 0.0, True, id="records-reached"),
        pytest.param({"batch_records": 3}, 2, 0.0, False, id="records-not-reached"),
        pytest.param({"batch_bytes": 10}, 1, 0.0, True, id="bytes-reached"),
        pytest.param({"batch_age_s": 5.0}, 1, 5.0, True, id="age-reached"),
        pytest.param({"batch_age_s": 5.0}, 1, 4.9, False, id="age-not-reached"),
        pytest.param({}, 0, 99.0, False, id="empty-never-full"),
    ],
)
def test_batches_close_by_records_bytes_or_age(limits, adds, now, full):
    config = LandConfig(
        bootstrap="unused",
        **{"batch_records": 100, "batch_bytes": 10**6, "batch_age_s": 60.0, **limits},
    )
    pending = Pending()
    for i in range(adds):
        pending.add(i, (RAW_TABLE, "2018-01-23"), b"x" * 12, now=0.0)
    assert pending.full(config, now) is full


def land_seven_in_batches_of_three(fs: FakeHdfs) -> dict:
    messages = {0: [(DAY1 + i, attempt(i)) for i in range(7)], 1: [(DAY2, attempt(100))]}
    make_lander(FakeConsumer(TOPIC, messages), fs, batch_records=3).run(until_caught_up=True)
    return messages


def files_of(fs: FakeHdfs) -> dict[str, bytes]:
    """Landed files, with the ingest time (which a replay changes) blanked out."""
    return {
        path: b"\n".join(
            json.dumps({**json.loads(line), "ingested_at": None}).encode()
            for line in data.splitlines()
        )
        for path, data in table_files(fs).items()
    }


@pytest.mark.parametrize(
    ("replay", "relanded"),
    [
        pytest.param(Replay(0, offset=4), [3, 4, 5, 6], id="offset-inside-a-batch"),
        pytest.param(Replay(0, offset=3), [3, 4, 5, 6], id="offset-at-a-batch-start"),
        pytest.param(Replay(0, offset=0), list(range(7)), id="whole-partition"),
        pytest.param(Replay(0, timestamp_ms=DAY1 + 6), [6], id="from-a-timestamp"),
        pytest.param(Replay(0, offset=50), [], id="past-the-end"),
    ],
)
def test_replay_lands_the_same_rows_again_from_the_start_of_the_batch(replay, relanded):
    fs = FakeHdfs()
    messages = land_seven_in_batches_of_three(fs)
    before = files_of(fs)
    fs.renames.clear()
    consumer = FakeConsumer(TOPIC, messages)
    make_lander(consumer, fs, batch_records=3).run(until_caught_up=True, replays=[replay])
    assert files_of(fs) == before
    renamed = [LandedFile.parse(dst.rpartition("/")[2]) for _, dst in fs.renames]
    assert sorted(o for f in renamed for o in range(f.first, f.last + 1)) == relanded
    assert all(f.partition == 0 for f in renamed)


def test_replay_of_a_missing_partition_says_which_exist():
    fs = FakeHdfs()
    messages = land_seven_in_batches_of_three(fs)
    lander = make_lander(FakeConsumer(TOPIC, messages), fs)
    with pytest.raises(UserError, match="no partition 5 \\(it has 0, 1\\)"):
        lander.start([Replay(5, offset=0)])


def test_replay_refills_a_lost_batch():
    fs = FakeHdfs()
    messages = land_seven_in_batches_of_three(fs)
    before = files_of(fs)
    lost = next(p for p in table_files(fs) if LandedFile.parse(p.rpartition("/")[2]).first == 3)
    del fs.files[lost]
    consumer = FakeConsumer(TOPIC, messages)
    make_lander(consumer, fs, batch_records=3).run(until_caught_up=True, replays=[Replay(0, 3)])
    assert files_of(fs) == before


def test_a_replay_needs_an_offset_or_a_timestamp_but_not_both():
    with pytest.raises(ValueError, match="not both"):
        Replay(0)
    with pytest.raises(ValueError, match="not both"):
        Replay(0, offset=1, timestamp_ms=2)


def test_only_one_lander_holds_the_lock_and_status_names_its_pid(tmp_path):
    lock = tmp_path / "lander.lock"
    assert holder(lock) is None
    with exclusive(lock, TOPIC):
        assert holder(lock) == os.getpid()
        refused = pytest.raises(UserError, match=f"already running \\(pid {os.getpid()}\\)")
        with refused, exclusive(lock, TOPIC):
            pass
    assert holder(lock) is None


def test_new_dates_are_registered_once_per_flush_before_the_offsets_are_committed():
    events: list[str] = []
    fs = FakeHdfs()
    consumer = FakeConsumer(
        TOPIC, {0: [(DAY1, attempt(0)), (DAY2, attempt(1)), (DAY1, b"bad"), (DAY1, attempt(3))]}
    )
    catalog = FakeCatalog()
    register, commit = catalog.add_partitions, consumer.commit
    catalog.add_partitions = lambda table, dates: (
        events.append(f"register {table} {sorted(set(dates))}"),
        register(table, dates),
    )[1]
    consumer.commit = lambda offsets: (events.append("commit"), commit(offsets))[1]
    config = LandConfig(bootstrap="unused", topic=TOPIC, write_threads=2)
    lander = Lander(config, consumer, HdfsStore(fs, TABLES), catalog, report=lambda _: None)
    lander.run(until_caught_up=True)
    flush = events[events.index("commit") - 2 : events.index("commit") + 1]
    assert flush == [
        f"register {RAW_TABLE} ['2018-01-23', '2018-01-24']",
        f"register {QUARANTINE_TABLE} ['2018-01-23']",
        "commit",
    ]
    assert sorted(catalog.partitions) == [
        (RAW_TABLE, "2018-01-23"),
        (RAW_TABLE, "2018-01-24"),
        (QUARANTINE_TABLE, "2018-01-23"),
    ]


def test_each_topic_and_root_has_its_own_lock_and_status_file(tmp_path):
    paths = {
        (kind(tmp_path, topic, root).name)
        for kind in (lock_path, status_path)
        for topic in ("a", "b")
        for root in ("/edtrack/raw", "/other")
    }
    assert len(paths) == 8
    assert status_path(tmp_path, "a", "/edtrack/raw").name == "lander-a-edtrack_raw.status.json"


def test_a_poll_asks_for_at_most_one_batch_and_at_most_the_poll_limit():
    assert LandConfig(bootstrap="-").poll_max_records == 2000
    assert LandConfig(bootstrap="-", batch_records=300).poll_max_records == 300


def test_land_and_replay_take_their_option_defaults_and_help_from_land_config():
    import dataclasses

    from edtrack.cli import LAND_SETTINGS, land, replay

    fields = {f.name: f for f in dataclasses.fields(LandConfig)}
    for command in (land, replay):
        params = {p.name: p for p in command.params}
        for name in LAND_SETTINGS:
            assert params[name].help == fields[name].metadata["help"]
            if name != "max_message_bytes":  # None: the environment's, else LandConfig's
                assert params[name].default == fields[name].default
    assert "--batch-age" in {opt for p in land.params for opt in p.opts}

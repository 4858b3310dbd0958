"""`edtrack maintain` against the private stack's Iceberg tables: compaction, snapshot
expiry and orphan-file removal change the storage, never the rows."""

from __future__ import annotations

import re
import time

import pytest

SCHEMA = "maintain_case"
TABLE = f"{SCHEMA}.events"


def snapshots(cli) -> int:
    return cli.sql(f"select count(*) as n from {TABLE}.snapshots")[0]["n"]


def data_files(cli) -> int:
    return cli.sql(f"select count(*) as n from {TABLE}.files")[0]["n"]


def total(cli) -> tuple[int, int]:
    row = cli.sql(f"select count(*) as n, sum(v) as s from {TABLE}")[0]
    return row["n"], row["s"]


@pytest.fixture()
def table(cli):
    from hdfs_native import Client

    cli.sql(f"create database if not exists {SCHEMA}")
    cli.sql(f"create table {TABLE} (day string, v int) using iceberg partitioned by (day)")
    for i in range(4):  # four appends: four small files in each of two partitions
        cli.sql(f"insert into {TABLE} values ('a', {i}), ('b', {10 * i})")
    described = cli.sql(f"describe table extended {TABLE}")
    location = next(r["data_type"] for r in described if r["col_name"] == "Location")
    hdfs = Client(cli.config.hdfs_url)
    folder = location.split(cli.config.hdfs_url, 1)[1]
    stray = f"{folder}/data/day=a/left-by-a-killed-write.parquet"
    with hdfs.create(stray) as out:
        out.write(b"not a snapshot's file")
    # Two days old: orphan files go only once a day old (a running write's look orphaned).
    two_days_ago_ms = int((time.time() - 2 * 86400) * 1000)
    hdfs.set_times(stray, two_days_ago_ms, two_days_ago_ms)
    yield hdfs, stray
    cli.sql(f"drop database {SCHEMA} cascade")


def test_a_recent_cutoff_keeps_every_snapshot_and_file(cli, table):
    hdfs, stray = table
    before = (snapshots(cli), data_files(cli), total(cli))
    result = cli.run("maintain", "--schema", SCHEMA, "--no-compact")
    assert (snapshots(cli), data_files(cli), total(cli)) == before == (4, 8, (8, 66))
    assert hdfs.get_file_info(stray).length > 0  # younger than a week: kept
    assert "[1/1] maintain_case.events: snapshots 4 -> 4" in result.stderr


def test_compaction_expiry_and_orphan_removal_leave_the_rows(cli, table):
    hdfs, stray = table
    first = cli.sql(f"select snapshot_id from {TABLE}.snapshots order by committed_at")[0]
    result = cli.run("maintain", "--schema", SCHEMA, "--older-than", "0", "--retain-last", "1")
    assert total(cli) == (8, 66)
    assert snapshots(cli) == 1
    assert data_files(cli) == 2  # one file per partition
    with pytest.raises(FileNotFoundError):
        hdfs.get_file_info(stray)
    old = f"select * from {TABLE} version as of {first['snapshot_id']}"
    assert cli.run("sql", old, check=False).returncode != 0  # expired: out of reach
    assert "1 tables: data files 8 -> 2, snapshots" in result.stdout
    removed = re.search(r"(\d+) orphans removed", result.stderr)
    assert removed and int(removed[1]) >= 1, result.stderr


def test_a_schema_without_iceberg_tables_is_one_sentence(cli):
    result = cli.run("maintain", "--schema", "no_such_schema", check=False)
    assert result.returncode == 2
    assert "There is no schema 'no_such_schema': build the warehouse first" in result.stderr

"""serving.maintain against a fake Thrift connection: which tables it takes, the
procedures it calls in order, with what cutoff, and what it reports."""

from __future__ import annotations

import datetime as dt

import pytest

from core.errors import UserError
from serving import maintain
from tests.unit.fakes import FakeCursor

CUTOFF = dt.datetime(2026, 11, 24, 8, 30, 0)
NOW = dt.datetime(2026, 12, 1, 8, 30, 0)


@pytest.fixture(autouse=True)
def fixed_now(monkeypatch):
    monkeypatch.setattr(maintain, "now", lambda: NOW)


class Warehouse:
    """Two schemas: staging with an Iceberg table and a view, marts with one Iceberg
    table; each table has 6 snapshots and 40 data files until the procedures run."""

    def __init__(self) -> None:
        self.log: list = []
        self.snapshots, self.files = 6, 40

    def cursor(self):
        return FakeCursor(self.log, self.answer)

    def answer(self, statement: str):
        if statement.startswith("show table extended in staging"):
            return ["namespace", "tableName", "isTemporary", "information"], [
                ("staging", "stg", False, "Type: EXTERNAL\nTable Properties: [table_type=ICEBERG]"),
                ("staging", "stg_view", False, "Type: VIEW\nProvider: hive"),
            ]
        if statement.startswith("show table extended in marts"):
            return ["namespace", "tableName", "isTemporary", "information"], [
                (
                    "marts",
                    "mart",
                    False,
                    "Table Properties: [metadata_location=x, table_type=ICEBERG]",
                )
            ]
        if statement.endswith(".snapshots"):
            return ["n"], [(self.snapshots,)]
        if statement.endswith(".files"):
            return ["n"], [(self.files,)]
        if "rewrite_data_files" in statement:
            self.files = 10
            return ["rewritten_data_files_count", "added_data_files_count"], [(30, 0)]
        if "expire_snapshots" in statement:
            self.snapshots = 2
            return ["deleted_data_files_count", "deleted_manifests_count"], [(12, 3)]
        if "remove_orphan_files" in statement:
            return ["orphan_file_location"], [("hdfs://nn/a",), ("hdfs://nn/b",)]
        raise AssertionError(f"unexpected statement {statement!r}")

    def reset(self) -> None:
        self.snapshots, self.files = 6, 40


def statements(warehouse: Warehouse) -> list[str]:
    return [" ".join(s.split()) for s, _ in warehouse.log]


def test_every_iceberg_table_is_compacted_expired_and_cleaned_in_that_order():
    warehouse = Warehouse()
    lines: list[str] = []

    def progress(line: str) -> None:
        lines.append(line)
        warehouse.reset()  # the next table starts from its own state

    reports = maintain.maintain(warehouse, ["staging", "marts"], CUTOFF, 3, progress=progress)
    assert [r.table for r in reports] == ["staging.stg", "marts.mart"]  # the view is left
    sent = statements(warehouse)
    stg = [s for s in sent if "staging.stg" in s and "stg_view" not in s]
    assert stg == [
        "select count(*) from staging.stg.snapshots",
        "select count(*) from staging.stg.files",
        "call spark_catalog.system.rewrite_data_files(table => 'staging.stg', "
        "options => map('min-input-files', '2'))",
        "call spark_catalog.system.expire_snapshots(table => 'staging.stg', "
        "older_than => timestamp '2026-11-24 08:30:00', retain_last => 3)",
        "call spark_catalog.system.remove_orphan_files(table => 'staging.stg', "
        "older_than => timestamp '2026-11-24 08:30:00')",
        "select count(*) from staging.stg.snapshots",
        "select count(*) from staging.stg.files",
    ]
    first = reports[0]
    assert (first.snapshots_before, first.snapshots_after) == (6, 2)
    assert (first.data_files_before, first.data_files_after) == (40, 10)
    assert (first.rewritten_files, first.expired_files, first.orphan_files) == (30, 12, 2)
    assert lines[0].startswith("[1/2] staging.stg: snapshots 6 -> 2, data files 40 -> 10 (30 ")
    assert lines[1].startswith("[2/2] marts.mart:")
    assert lines[1].endswith("about 0 s left")


def test_orphan_files_go_at_a_day_old_at_the_earliest():
    warehouse = Warehouse()
    maintain.maintain(warehouse, ["marts"], NOW - dt.timedelta(hours=2), 1)
    expire, orphans = [s for s in statements(warehouse) if "expire" in s or "orphan" in s]
    assert "older_than => timestamp '2026-12-01 06:30:00'" in expire
    assert "older_than => timestamp '2026-11-30 08:30:00'" in orphans


def test_without_compaction_no_file_is_rewritten():
    warehouse = Warehouse()
    reports = maintain.maintain(warehouse, ["marts"], CUTOFF, 1, compact=False)
    assert not any("rewrite_data_files" in s for s in statements(warehouse))
    assert reports[0].rewritten_files == 0
    assert reports[0].data_files_after == 40


def test_a_table_keeps_at_least_its_current_snapshot():
    with pytest.raises(UserError, match="--retain-last must be at least 1"):
        maintain.maintain(Warehouse(), ["marts"], CUTOFF, 0)


def test_schemas_without_iceberg_tables_are_one_sentence():
    class Empty(Warehouse):
        def answer(self, statement):
            return ["namespace", "tableName", "isTemporary", "information"], []

    with pytest.raises(UserError, match="No Iceberg tables in staging, marts: build the"):
        maintain.maintain(Empty(), ["staging", "marts"], CUTOFF)

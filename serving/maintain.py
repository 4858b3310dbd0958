"""Housekeeping of the warehouse's Iceberg tables, so storage does not grow without bound.

Every dbt run commits new snapshots: an incremental run adds small data files and keeps
the files it replaced (earlier snapshots still point at them, for time travel and for
queries planned before the commit). Per table, in this order:

1. compact: rewrite small data files into fewer ones (``rewrite_data_files``,
   bin-packing, only where a partition has two files or more);
2. expire snapshots older than ``older_than`` but keep the newest ``retain_last``
   (``expire_snapshots``), deleting the files only those snapshots used;
3. remove orphan files older than ``older_than`` and at least a day old: files in the
   table's folder that no snapshot knows, such as those a killed write left behind
   (``remove_orphan_files``; Iceberg refuses a shorter interval, since the files of a
   write still running look orphaned too).

A snapshot younger than ``older_than`` stays, so time travel reaches back that far and a
query planned on a snapshot that is being replaced keeps its files.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from core import sql
from core.errors import UserError

# Every schema dbt builds as Iceberg tables (the seeds of reference too: dbt replaces
# them on every build).
LAYERS = ("staging", "flattened", "marts", "shared", "reference")
# Iceberg's remove_orphan_files refuses a younger cutoff.
ORPHAN_MIN_AGE = dt.timedelta(hours=24)


@dataclass(frozen=True)
class TableReport:
    table: str
    snapshots_before: int
    snapshots_after: int
    data_files_before: int
    data_files_after: int
    rewritten_files: int
    expired_files: int
    orphan_files: int
    seconds: float


def now() -> dt.datetime:
    """The current time in UTC, naive: the Thrift Server's session time zone is UTC."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def iceberg_tables(connection, schemas: Iterable[str]) -> list[str]:
    """The Iceberg tables of ``schemas``, as ``schema.table``."""
    found = []
    for schema in schemas:
        try:
            listed = sql.run(connection, f"show table extended in {schema} like '*'").rows
        except sql.QueryFailed as failed:
            if "SCHEMA_NOT_FOUND" in failed.server_text:
                raise UserError(
                    f"There is no schema {schema!r}: build the warehouse first (dbt build)."
                ) from None
            raise
        for row in listed:
            if "table_type=ICEBERG" in row[3]:
                found.append(f"{schema}.{row[1]}")
    return found


def _count(connection, statement: str) -> int:
    return int(sql.run(connection, statement).rows[0][0] or 0)


def _first(result: sql.Result, column: str) -> int:
    if column not in result.columns:
        return 0
    return int(result.rows[0][result.columns.index(column)] or 0) if result.rows else 0


def maintain_table(
    connection, table: str, older_than: dt.datetime, retain_last: int, compact: bool
) -> TableReport:
    t0 = time.monotonic()
    snapshots_before = _count(connection, f"select count(*) from {table}.snapshots")
    files_before = _count(connection, f"select count(*) from {table}.files")
    rewritten = 0
    if compact:
        result = sql.run(
            connection,
            "call spark_catalog.system.rewrite_data_files("
            f"table => '{table}', options => map('min-input-files', '2'))",
        )
        rewritten = _first(result, "rewritten_data_files_count")
    cutoff = older_than.strftime("%Y-%m-%d %H:%M:%S")
    orphan_cutoff = min(older_than, now() - ORPHAN_MIN_AGE).strftime("%Y-%m-%d %H:%M:%S")
    result = sql.run(
        connection,
        "call spark_catalog.system.expire_snapshots("
        f"table => '{table}', older_than => timestamp '{cutoff}', retain_last => {retain_last})",
    )
    expired = _first(result, "deleted_data_files_count")
    orphans = sql.run(
        connection,
        "call spark_catalog.system.remove_orphan_files("
        f"table => '{table}', older_than => timestamp '{orphan_cutoff}')",
    )
    return TableReport(
        table=table,
        snapshots_before=snapshots_before,
        snapshots_after=_count(connection, f"select count(*) from {table}.snapshots"),
        data_files_before=files_before,
        data_files_after=_count(connection, f"select count(*) from {table}.files"),
        rewritten_files=rewritten,
        expired_files=expired,
        orphan_files=len(orphans.rows),
        seconds=round(time.monotonic() - t0, 1),
    )


def maintain(
    connection,
    schemas: Iterable[str],
    older_than: dt.datetime,
    retain_last: int = 1,
    compact: bool = True,
    progress: Callable[[str], None] = lambda line: None,
) -> list[TableReport]:
    """Compact, expire and clean every Iceberg table of ``schemas``; one report each."""
    if retain_last < 1:
        raise UserError("--retain-last must be at least 1: a table keeps its current snapshot.")
    tables = iceberg_tables(connection, schemas)
    if not tables:
        raise UserError(f"No Iceberg tables in {', '.join(schemas)}: build the warehouse first.")
    reports = []
    t0 = time.monotonic()
    for index, table in enumerate(tables, start=1):
        report = maintain_table(connection, table, older_than, retain_last, compact)
        reports.append(report)
        elapsed = time.monotonic() - t0
        left = elapsed / index * (len(tables) - index)
        progress(
            f"[{index}/{len(tables)}] {table}: snapshots {report.snapshots_before} -> "
            f"{report.snapshots_after}, data files {report.data_files_before} -> "
            f"{report.data_files_after} ({report.rewritten_files} compacted, "
            f"{report.expired_files} expired, {report.orphan_files} orphans removed) in "
            f"{report.seconds:.1f} s; about {left:.0f} s left"
        )
    return reports

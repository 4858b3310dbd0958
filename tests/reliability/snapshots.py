"""Every committed state of a table, read back with time travel: what a client's answer
may equal while builds replace the table (the state before or after a commit)."""

from __future__ import annotations

from core import sql


def table_format(connection, table: str) -> str:
    """The table's provider as Spark's `describe table extended` reports it."""
    for name, value, *_ in sql.run(connection, f"describe table extended {table}").rows:
        if name == "Provider":
            return (value or "").strip().lower()
    return ""


def versions(connection, table: str) -> list[str]:
    """The table's committed versions (Delta) or snapshots (Iceberg), oldest first."""
    kind = table_format(connection, table)
    if kind == "delta":
        rows = sql.run(connection, f"describe history {table}").rows
        return [str(row[0]) for row in sorted(rows, key=lambda r: int(r[0]))]
    if kind == "iceberg":
        rows = sql.run(
            connection, f"select snapshot_id from {table}.snapshots order by committed_at"
        ).rows
        return [str(row[0]) for row in rows]
    raise AssertionError(f"{table} is a {kind or 'plain'} table: it keeps no versions")


def current_snapshot(config, table: str) -> str:
    """The id of ``table``'s newest Iceberg snapshot."""
    connection = sql.connect(config.host, config.ports["thrift"])
    try:
        rows = sql.run(
            connection,
            f"select snapshot_id from {table}.snapshots order by committed_at desc limit 1",
        ).rows
    finally:
        connection.close()
    return str(rows[0][0])


def fingerprints_of_every_version(connection, table: str) -> dict[str, tuple[int, int]]:
    """(row count, row hash) of ``table`` at each of its versions."""
    described = sql.run(connection, f"describe table {table}").rows
    out = {}
    for version in versions(connection, table):
        query = sql.fingerprint_query(f"{table} version as of {version}", described)
        count, digest = sql.run(connection, query).rows[0]
        out[version] = (count, digest)
    return out

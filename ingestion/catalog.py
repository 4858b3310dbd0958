"""The raw tables' contract and their registration in the Hive metastore.

``raw.assessment_attempts`` holds every message that is a JSON object with a
``keen_id``, its text untouched in ``payload``; ``raw.assessment_attempts_quarantine``
holds every other message with the reason in ``error`` and its exact bytes in
``payload_base64``. Both are JSON Lines on HDFS, partitioned by ``kafka_date`` (the UTC
date of the Kafka timestamp). DDL runs through the Spark Thrift Server.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from core import sql

SCHEMA = "raw"
DEFAULT_ROOT = "/edtrack/raw"  # HDFS folder of both raw tables and the lander's temp files
RAW_TABLE = "assessment_attempts"
QUARANTINE_TABLE = "assessment_attempts_quarantine"

COMMON_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("kafka_topic", "string", "Kafka topic the message was read from"),
    ("kafka_partition", "int", "Kafka partition of the message"),
    ("kafka_offset", "bigint", "Kafka offset of the message within its partition"),
    ("kafka_timestamp", "timestamp", "Kafka record timestamp (the attempt's event time), UTC"),
    ("kafka_key", "string", "Kafka message key (the attempt's keen_id), null when absent"),
    ("ingested_at", "timestamp", "When the lander wrote the row, UTC"),
    ("payload", "string", "The message value, untouched (UTF-8 text of one attempt)"),
)
QUARANTINE_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("payload_base64", "string", "The exact message bytes, base64-encoded"),
    ("error", "string", "Why the message was quarantined"),
)
PARTITION_COLUMN = ("kafka_date", "date", "UTC date of kafka_timestamp (partition)")


@dataclass(frozen=True)
class Tables:
    hdfs_url: str
    root: str  # HDFS folder holding both tables and the lander's temp folder
    schema: str = SCHEMA  # metastore database holding both tables

    def location(self, table: str) -> str:
        return f"{self.hdfs_url}{self.root}/{table}"

    @property
    def tmp_dir(self) -> str:
        return f"{self.root}/_tmp"

    def dir(self, table: str) -> str:
        return f"{self.root}/{table}"


ALREADY_CREATED = (
    "TABLE_OR_VIEW_ALREADY_EXISTS",
    "SCHEMA_ALREADY_EXISTS",
    "AlreadyExistsException",
)


def created_meanwhile(exc: Exception) -> bool:
    """Whether a ``create ... if not exists`` failed because another session created it
    between the check and the creation."""
    return any(marker in str(exc) for marker in ALREADY_CREATED)


def create_table_sql(table: str, location: str, quarantine: bool, schema: str = SCHEMA) -> str:
    columns = COMMON_COLUMNS + (QUARANTINE_COLUMNS if quarantine else ()) + (PARTITION_COLUMN,)
    body = ",\n  ".join(f"{name} {kind} comment {quote(doc)}" for name, kind, doc in columns)
    what = (
        "Messages that could not be landed as attempts, with the reason"
        if quarantine
        else "Every landed assessment attempt message, one row per Kafka message"
    )
    return (
        f"create table if not exists {schema}.{table} (\n  {body}\n)\n"
        f"using json\npartitioned by ({PARTITION_COLUMN[0]})\n"
        f"location {quote(location)}\ncomment {quote(what)}"
    )


def quote(text: str) -> str:
    """A Spark SQL string literal (for DDL, where parameters cannot go)."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


# What the server says when the metastore or HDFS behind it is restarting (a NameNode
# away fails the folder check of ``add partition``): worth registering again later.
TRANSIENT_FAILURES = (
    "SocketException",
    "ConnectException",
    "SocketTimeoutException",
    "EOFException",
    "Connection reset",
    "Connection refused",
    "SafeModeException",
    "RetriableException",
)


def transient_registration_failure(exc: BaseException) -> bool:
    text = getattr(exc, "server_text", None)
    return text is not None and any(marker in text for marker in TRANSIENT_FAILURES)


class Catalog:
    """Creates the raw tables and registers partitions as files land."""

    def __init__(self, connection, tables: Tables, where: str = "its address") -> None:
        self.connection = connection
        self.tables = tables
        self.where = where  # host:port of the Thrift Server, for messages
        self._registered: set[tuple[str, str]] = set()

    def ensure_tables(self) -> None:
        """Create the schema and both tables when absent. Landers starting together
        race here: ``if not exists`` is checked, then the metastore refuses the second
        creation, which means the table is there."""
        schema = self.tables.schema
        statements = [f"create database if not exists {schema}"] + [
            create_table_sql(table, self.tables.location(table), quarantine, schema)
            for table, quarantine in ((RAW_TABLE, False), (QUARANTINE_TABLE, True))
        ]
        for statement in statements:
            try:
                sql.run(self.connection, statement)
            except sql.QueryFailed as exc:
                if not created_meanwhile(exc):
                    raise

    def add_partitions(self, table: str, dates: Iterable[str]) -> None:
        """Register the dates not registered yet, in one statement (one metastore call)."""
        new = sorted({d for d in dates if (table, d) not in self._registered})
        if not new:
            return
        specs = " ".join(f"partition ({PARTITION_COLUMN[0]} = %(d{i})s)" for i in range(len(new)))
        sql.run(
            self.connection,
            f"alter table {self.tables.schema}.{table} add if not exists {specs}",
            {f"d{i}": d for i, d in enumerate(new)},
        )
        self._registered.update((table, d) for d in new)

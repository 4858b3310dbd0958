"""Client SQL over HiveServer2 (the Spark Thrift Server), through PyHive.

Values reach SQL as parameters (PyHive's ``pyformat`` style, ``%(name)s``), never
pasted into the statement text by callers.
"""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import io
import json
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core import pyhive_compat
from core.errors import ServiceUnavailable, UserError

FORMATS = ("table", "csv", "json")


@dataclass(frozen=True)
class Result:
    columns: list[str]
    rows: list[tuple[Any, ...]]

    def records(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


@dataclass(frozen=True)
class Login:
    """Who connects: any user name when the server's auth is off; with LDAP auth on, a
    user of the directory and its password (``EDTRACK_USER`` / ``EDTRACK_PASSWORD``)."""

    user: str = "edtrack"
    password: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Login:
        return cls(env.get("EDTRACK_USER") or cls.user, env.get("EDTRACK_PASSWORD") or None)


# What HiveServer2's SASL layer answers when it refuses a login.
_REJECTED = ("Error validating", "Bad status: 3", "Bad status: 4", "Authentication failed")


def open_hive(
    host: str,
    port: int,
    username: str = "edtrack",
    password: str | None = None,
    ssl_cafile: str | Path | None = None,
):
    """A PyHive connection, logged in through LDAP (SASL PLAIN) when given a password;
    over TLS, checking the server's certificate and host name, when given a CA file."""
    from pyhive import hive

    pyhive_compat.install()
    auth = "LDAP" if password else None
    if ssl_cafile is None:
        return hive.connect(host=host, port=port, username=username, password=password, auth=auth)
    import ssl

    import thrift_sasl
    from pyhive.hive import get_installed_sasl
    from thrift.transport.TSSLSocket import TSSLSocket

    class TlsSocket(TSSLSocket):
        def close(self) -> None:
            # thrift 0.22 fails on closing a socket whose handshake failed, and PyHive
            # closes it so: that AttributeError would hide why the connect failed.
            if self.handle is not None:
                super().close()

    context = ssl.create_default_context(cafile=str(ssl_cafile))
    socket = TlsSocket(host, port, ssl_context=context, server_hostname=host)
    # PyHive's own transport for auth NONE and LDAP, on a TLS socket: any password
    # stands in when the server checks none.
    transport = thrift_sasl.TSaslClientTransport(
        lambda: get_installed_sasl(
            host=host, sasl_auth="PLAIN", username=username, password=password or "x"
        ),
        "PLAIN",
        socket,
    )
    return hive.connect(thrift_transport=transport, username=username)


def connect(
    host: str,
    port: int,
    username: str = "edtrack",
    password: str | None = None,
    *,
    require_password: bool = False,
    ssl_cafile: str | Path | None = None,
):
    """:func:`open_hive`, with every refusal as one sentence.

    ``require_password``: the server is known to check logins (the stack runs with LDAP
    auth), so a missing password is one sentence here rather than a refusal there.
    """
    import ssl

    if require_password and not password:
        raise UserError(
            f"The Spark Thrift Server at {host}:{port} requires an LDAP login: "
            "set EDTRACK_USER and EDTRACK_PASSWORD."
        )
    # thrift logs a failed connect at ERROR on its own; the exception below says it once.
    for name in ("thrift.transport.TSocket", "thrift.transport.TSSLSocket"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    try:
        return open_hive(host, port, username, password, ssl_cafile)
    except Exception as exc:  # thrift raises TTransportException, sasl its own
        # thrift keeps only "Could not connect" of a failed handshake: ask ssl why.
        inner = _tls_failure(host, port, ssl_cafile) if ssl_cafile is not None else None
        if isinstance(inner, ssl.SSLCertVerificationError):
            raise UserError(
                f"The Spark Thrift Server at {host}:{port} presented a certificate that "
                f"thrift.ssl_cafile ({ssl_cafile}) does not vouch for "
                f"({inner.verify_message}): check that file and thrift.host."
            ) from exc
        if isinstance(inner, ssl.SSLError):
            raise UserError(
                f"The Spark Thrift Server at {host}:{port} did not answer over TLS "
                f"({inner.reason}): unset thrift.ssl_cafile if it does not use TLS."
            ) from exc
        if any(marker in str(exc) for marker in _REJECTED):
            raise UserError(
                f"The Spark Thrift Server at {host}:{port} rejected the login of "
                f"{username!r}: check EDTRACK_USER and EDTRACK_PASSWORD."
            ) from exc
        if ssl_cafile is None and "read 0 bytes" in str(exc):
            # A TLS port closes a plain connection without a word.
            raise ServiceUnavailable(
                f"The Spark Thrift Server at {host}:{port} closed the connection without "
                "an answer: if it uses TLS, set thrift.ssl_cafile "
                "(EDTRACK_THRIFT_SSL_CAFILE) to the CA file that signs its certificate."
            ) from exc
        raise ServiceUnavailable(
            f"The Spark Thrift Server at {host}:{port} is not answering ({type(exc).__name__}).",
            setting="thrift.host",
        ) from exc


def _tls_failure(host: str, port: int, cafile: str | Path) -> Exception | None:
    """What goes wrong in a TLS handshake with ``host:port`` trusting ``cafile``, if
    anything does (connection errors are the caller's to report)."""
    import socket
    import ssl

    try:
        context = ssl.create_default_context(cafile=str(cafile))
        with (
            socket.create_connection((host, port), timeout=10) as raw,
            context.wrap_socket(raw, server_hostname=host),
        ):
            return None
    except ssl.SSLError as exc:
        return exc
    except OSError:
        return None


def run(
    connection,
    statement: str,
    parameters: Mapping[str, Any] | Sequence[Any] | None = None,
) -> Result:
    """Execute one statement; return its columns and rows (empty for DDL)."""
    from pyhive.exc import DatabaseError, OperationalError

    cursor = connection.cursor()
    try:
        cursor.execute(statement, parameters)
        if not cursor.description:  # DDL: no result set
            return Result([], [])
        columns = [d[0].split(".")[-1] for d in cursor.description]
        rows = [tuple(r) for r in cursor.fetchall()]
        return Result(columns, rows)
    except (DatabaseError, OperationalError) as exc:
        text = _server_text(exc)
        if "found TIMEDOUT" in text:
            raise QueryFailed(
                "The server cancelled the query: it ran longer than the statement timeout "
                "(spark.sql.thriftServer.queryTimeout; EDTRACK_QUERY_TIMEOUT on the stack).",
                server_text=text,
            ) from exc
        raise QueryFailed(f"The query failed: {server_error(text)}", server_text=text) from exc
    finally:
        cursor.close()


class QueryFailed(UserError):
    """The server refused or aborted a statement; ``server_text`` is all it said."""

    def __init__(self, message: str, *, server_text: str) -> None:
        super().__init__(message)
        self.server_text = server_text


def _server_text(exc: Exception) -> str:
    status = getattr(exc.args[0], "status", None) if exc.args else None
    return (getattr(status, "errorMessage", None) or str(exc)).strip()


# A Java exception's class before its message: "org.apache.spark.sql.AnalysisException: ".
_JAVA_CLASS = re.compile(r"(?:[A-Za-z_$][\w$]*\.)+([A-Z][\w$]*): ?")
# Where Spark's message ends and what it adds for developers begins: a stack frame, the
# query plan ('Project, +- ...), or the SQL text with a caret (== SQL ==).
_DEVELOPER_PART = re.compile(r"^\s*(at |'|\+-|:-|== |\.\.\. \d+ more)")
_POSITION = re.compile(r"line \d+,? pos \d+")


def server_error(text: str) -> str:
    """What a user needs of a server error: the error class (``[TABLE_OR_VIEW_NOT_FOUND]``)
    or the innermost exception's name, its first line of message and the position in
    the statement; no Java package names, stack frames or query plans."""
    lines = []
    for line in text.removeprefix("Error running query: ").splitlines():
        if _DEVELOPER_PART.match(line):
            break
        lines.append(line)
    head = "\n".join(lines)
    matches = list(_JAVA_CLASS.finditer(head))
    if not matches:
        return " ".join(line.strip() for line in lines if line.strip())[:500]
    last = matches[-1]
    rest = [line.strip() for line in head[last.end() :].splitlines() if line.strip()]
    message = rest[0] if rest else ""
    if not message.startswith("["):
        message = f"{last.group(1)}: {message}".rstrip(": ")
    position = _POSITION.search(head)
    if position and position.group(0) not in message:
        message = f"{message.rstrip(';').rstrip()} ({position.group(0)})"
    return message.rstrip(";")[:500]


def _jsonable(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


def _alignment(rows: Sequence[tuple[Any, ...]], column: int) -> str:
    """Numbers right-aligned, as in every SQL client; text (and mixed columns) left."""
    values = [row[column] for row in rows if row[column] is not None]
    numeric = values and all(
        isinstance(v, int | float | decimal.Decimal) and not isinstance(v, bool) for v in values
    )
    return "right" if numeric else "left"


def render(result: Result, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(
            [{k: _jsonable(v) for k, v in row.items()} for row in result.records()],
            indent=2,
            default=str,
        )
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(result.columns)
        writer.writerows(result.rows)
        return out.getvalue().rstrip("\n")
    if fmt == "table":
        from tabulate import tabulate

        return tabulate(
            result.rows,
            headers=result.columns,
            tablefmt="simple",
            missingval="NULL",
            disable_numparse=True,
            # (tabulate takes alignments only for the columns of its rows)
            colalign=[_alignment(result.rows, i) for i in range(len(result.columns))]
            if result.rows
            else None,
        )
    raise UserError(f"Unknown format {fmt!r}; choose one of {', '.join(FORMATS)}.")


# Columns that say when a row was written, not what it holds: a table's fingerprint
# leaves them out, so two builds of the same rows have the same one.
WHEN_WRITTEN = frozenset({"built_at", "ingested_at", "partition_loaded_at"})


def fingerprint_query(
    table: str, described: Sequence[tuple], leave_out: set | frozenset = WHEN_WRITTEN
) -> str:
    """SQL giving the row count (``n``) and a hash of every row (``h``) of ``table``,
    from its ``describe table`` rows, without the columns in ``leave_out``. Doubles are
    cast to float (about 7 significant digits): a sum or mean depends on the order of its
    rows in its last bits, and rounding to a fixed number of decimals still splits two
    such values when they straddle a rounding boundary, which with thousands of means of
    durations in seconds happens."""
    columns = []
    for name, kind, *_ in described:
        if not name or name.startswith("#"):
            break
        if name in leave_out:
            continue
        columns.append(f"cast({name} as float)" if kind == "double" else name)
    row_hash = f"hash({', '.join(columns)})"
    return f"select count(*) as n, sum(cast({row_hash} as bigint)) as h from {table}"

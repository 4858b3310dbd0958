"""The ``edtrack`` command line: parses flags and environment, then calls the services.

Every failure a user can fix ends with one sentence and a non-zero exit code.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import os
import shlex
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import click

from core.endpoints import SETTINGS as ENDPOINT_SETTINGS
from core.errors import ServiceUnavailable, UserError
from ingestion.landing.lander import LandConfig
from ingestion.topic import DEFAULT_TOPIC

if TYPE_CHECKING:
    from stack.config import StackConfig

FORMAT_CHOICE = click.Choice(["table", "csv", "json"])


class Context:
    def __init__(
        self,
        state_dir: str | None,
        port_offset: int | None,
        config_file: str | None = None,
        endpoint_flags: dict[str, str | None] | None = None,
    ) -> None:
        self._state_dir = state_dir
        self._port_offset = port_offset
        self._config_file = config_file
        self._endpoint_flags = endpoint_flags or {}
        self._endpoints = None
        self._auth: str | None = None
        self._metastore: str | None = None
        self._table_format: str | None = None
        self._tls: bool | None = None
        self._nodes: int | None = None
        self._config = None

    def late_options(self, state_dir: str | None = None, port_offset: int | None = None) -> None:
        """The global options given after the subcommand (they win over those before)."""
        if state_dir is not None:
            self._state_dir = state_dir
        if port_offset is not None:
            self._port_offset = port_offset
        self._config = None
        self._endpoints = None

    def choose(
        self,
        auth: str | None,
        metastore: str | None,
        table_format: str | None = None,
        tls: bool | None = None,
        nodes: int | None = None,
    ) -> None:
        """Flags of 'stack up' (win over EDTRACK_AUTH / EDTRACK_METASTORE /
        EDTRACK_TABLE_FORMAT / EDTRACK_TLS / EDTRACK_NODES and stack.json)."""
        self._auth, self._metastore, self._table_format = auth, metastore, table_format
        self._tls, self._nodes = tls, nodes
        self._config = None

    @property
    def config(self) -> StackConfig:
        """The local stack's settings (its addresses, ports, state dir)."""
        from stack.config import from_env

        if self._config is None:
            self._config = from_env(
                state_dir=self._state_dir,
                port_offset=self._port_offset,
                auth=self._auth,
                metastore=self._metastore,
                table_format=self._table_format,
                tls=self._tls,
                nodes=self._nodes,
            )
        return self._config

    @property
    def endpoints(self):
        """Where the services are (``core.endpoints``): flags, then ``EDTRACK_*``, then the
        endpoints file (``--config``), then the local stack's addresses."""
        from core import endpoints

        if self._endpoints is None:
            self._endpoints = endpoints.resolve(
                flags=self._endpoint_flags,
                env=os.environ,
                file=Path(self._config_file) if self._config_file else None,
                defaults=self.config.endpoint_defaults(),
            )
        return self._endpoints

    @property
    def login(self):
        """The Thrift Server login of the endpoints (the local stack always names a user)."""
        from core import sql

        found = self.endpoints
        return sql.Login(found.thrift_user, found.thrift_password)

    def connect_sql(self):
        """A Thrift Server connection at the endpoints' address, with their login."""
        from core import sql

        found, login = self.endpoints, self.login
        return sql.connect(
            found.thrift_host,
            found.thrift_port,
            login.user,
            login.password,
            require_password=found.thrift_auth == "LDAP",
            ssl_cafile=found.thrift_ssl_cafile,
        )


@contextlib.contextmanager
def file_progress(file: str, desc: str) -> Iterator[Callable[[int, int], None]]:
    """A progress bar on stderr over FILE's bytes (rate, time left) with the records
    seen; yields the ``progress(records, bytes_read)`` callback to report through."""
    from tqdm import tqdm

    total = os.path.getsize(file) if file != "-" and os.path.isfile(file) else None
    bar_options = {"unit": "B", "unit_scale": True, "mininterval": 2, "disable": None}
    with tqdm(total=total, desc=desc, file=sys.stderr, **bar_options) as bar:

        def progress(records: int, read: int) -> None:
            bar.set_postfix(records=f"{records:,}", refresh=False)
            bar.update(read - bar.n)

        yield progress


def _fail(error: UserError) -> None:
    click.secho(f"edtrack: {error}", fg="red", err=True)
    if error.detail:
        click.echo(error.detail, err=True)
    sys.exit(error.exit_code)


def _param(setting) -> str:
    return setting.key.replace(".", "_")


def endpoint_options(command):
    """A global option per endpoint setting (``--kafka-bootstrap-servers`` ...), derived
    from ``core.endpoints.SETTINGS``; their environment variables are read there."""
    for setting in reversed(ENDPOINT_SETTINGS):
        command = click.option(
            setting.flag,
            _param(setting),
            default=None,
            metavar="TEXT",
            help=f"{setting.help} [env {setting.env}]",
        )(command)
    return command


class Group(click.Group):
    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except ServiceUnavailable as error:
            _fail(_with_advice(error, ctx.obj))
        except UserError as error:
            _fail(error)


def _with_advice(error: ServiceUnavailable, obj: Context | None) -> UserError:
    """``error`` with what to do, from where its address came (the local stack or a
    setting the user gave)."""
    if error.setting is None or obj is None:
        return error
    try:
        advice = obj.endpoints.advice(error.setting)
    except UserError:
        return error
    return ServiceUnavailable(f"{error} {advice}", detail=error.detail, setting=error.setting)


@click.group(cls=Group)
@click.option(
    "--state-dir",
    envvar="EDTRACK_STATE_DIR",
    type=click.Path(file_okay=False),
    help="Where the local stack keeps data, logs and pids (default: .state).",
)
@click.option(
    "--port-offset",
    envvar="EDTRACK_PORT_OFFSET",
    type=int,
    default=None,
    help="Shift every default port by this much (a private stack).",
)
@click.option(
    "--config",
    "config_file",
    envvar="EDTRACK_CONFIG",
    type=click.Path(dir_okay=False),
    default=None,
    help="An endpoints file (TOML): where Kafka, HDFS, the metastore and the Thrift "
    "Server are, when not the local stack. See 'edtrack config --help'.",
)
@endpoint_options
@click.version_option(package_name="edtrack")
@click.pass_context
def main(
    ctx: click.Context,
    state_dir: str | None,
    port_offset: int | None,
    config_file: str | None,
    **endpoint_flags: str | None,
) -> None:
    """edtrack: assessment-attempt exports to a SQL warehouse (Kafka, HDFS, dbt, Spark)."""
    flags = {setting.key: endpoint_flags[_param(setting)] for setting in ENDPOINT_SETTINGS}
    ctx.obj = Context(state_dir, port_offset, config_file, flags)


# --- stack ------------------------------------------------------------------------------


@main.group()
def stack() -> None:
    """Start, check and stop the local stack (Kafka, HDFS, metastore, Thrift Server)."""


@stack.command("up")
@click.option(
    "--auth",
    type=click.Choice(["none", "ldap"]),
    default=None,
    help="Who may use the Thrift Server: anyone (none, the default) or users of the "
    "stack's LDAP directory (ldap). Also EDTRACK_AUTH; kept for later commands.",
)
@click.option(
    "--tls/--no-tls",
    default=None,
    help="TLS on the Thrift Server's port, with a certificate the stack makes for its "
    "address (clients get it as thrift.ssl_cafile). Also EDTRACK_TLS; kept for later "
    "commands.",
)
@click.option(
    "--metastore",
    type=click.Choice(["derby", "postgres"]),
    default=None,
    help="Where the metastore keeps its tables: embedded Derby (the default) or the "
    "stack's own PostgreSQL. Also EDTRACK_METASTORE; kept for later commands.",
)
@click.option(
    "--table-format",
    type=click.Choice(["iceberg", "delta", "parquet"]),
    default=None,
    help="The warehouse's table format, loaded as the Thrift Server's session catalog: "
    "Apache Iceberg (the default), or Delta Lake and plain parquet for comparison. Also "
    "EDTRACK_TABLE_FORMAT; kept for later commands.",
)
@click.option(
    "--nodes",
    type=click.Choice(["1", "3"]),
    default=None,
    help="Machines the stack plays: 1 (the default), or 3, each on its own loopback "
    "address from 127.0.1.1: three Kafka brokers in one quorum, a DataNode on each, "
    "Spark's standalone master and two workers, the metastore on PostgreSQL. Also "
    "EDTRACK_NODES; kept for later commands.",
)
@click.pass_obj
def stack_up(
    obj: Context,
    auth: str | None,
    tls: bool | None,
    metastore: str | None,
    table_format: str | None,
    nodes: str | None,
) -> None:
    """Fetch jars (once), start every service and wait until each is healthy."""
    from stack.launcher import Stack

    obj.choose(auth, metastore, table_format, tls, int(nodes) if nodes else None)
    Stack(obj.config, log=lambda m: click.echo(f"stack: {m}", err=True)).up()
    _print_status(obj, "table")


@stack.command("down")
@click.option("--wipe", is_flag=True, help="Also delete the state dir (all data).")
@click.pass_obj
def stack_down(obj: Context, wipe: bool) -> None:
    """Stop exactly the processes 'stack up' started; keep the data unless --wipe."""
    from stack.launcher import Stack

    launcher = Stack(obj.config, log=lambda m: click.echo(f"stack: {m}", err=True))
    stopped = launcher.down_as_asked(wipe=wipe)
    if not stopped:
        click.echo("stack: nothing was running", err=True)


def settings_summary(config) -> dict[str, object]:
    """Auth and metastore of a stack, as `stack status` reports them."""
    summary: dict[str, object] = {
        "nodes": config.nodes,
        "node_hosts": list(config.node_hosts),
        "auth": config.auth,
        "metastore": config.metastore_db,
        "table_format": config.table_format,
    }
    if config.auth == "ldap":
        summary |= {
            "ldap_url": config.ldap_url,
            "ldap_user_dn": config.ldap_user_dn("<user>"),
            "seeded_user": config.ldap_user,
            "seeded_password_file": str(config.ldap_password_file),
        }
    if config.metastore_db == "postgres":
        summary["metastore_database"] = config.metastore_jdbc_url
    summary["tls"] = config.tls
    if config.tls:
        summary |= {
            "tls_ca_file": str(config.tls_cert_file),
            "tls_truststore": str(config.tls_truststore),
            "tls_truststore_password_file": str(config.tls_truststore_password_file),
        }
    return summary


def settings_lines(config) -> list[str]:
    if config.auth == "ldap":
        auth = (
            f"auth: LDAP ({config.ldap_url}, users {config.ldap_user_dn('<user>')}); "
            f"clients log in with EDTRACK_USER / EDTRACK_PASSWORD; seeded user "
            f"{config.ldap_user!r}, its password in {config.ldap_password_file}"
        )
    else:
        auth = "auth: off (any user name, no password)"
    if config.metastore_db == "postgres":
        metastore = f"metastore: PostgreSQL ({config.metastore_jdbc_url})"
    else:
        metastore = f"metastore: Derby ({config.service_dir('metastore') / 'metastore_db'})"
    if config.tls:
        tls = (
            f"TLS: on (clients trust {config.tls_cert_file}; JDBC: sslTrustStore="
            f"{config.tls_truststore}, its password in {config.tls_truststore_password_file})"
        )
    else:
        tls = "TLS: off"
    nodes = f"nodes: {config.nodes} ({', '.join(config.node_hosts)})"
    return [nodes, auth, tls, metastore, f"table format: {config.table_format}"]


def _print_status(obj: Context, fmt: str) -> bool:
    from stack.launcher import Stack

    rows = Stack(obj.config).status()
    if fmt == "json":
        click.echo(json.dumps({**settings_summary(obj.config), "services": rows}, indent=2))
    else:
        from tabulate import tabulate

        table = [
            [
                r["service"],
                r["pid"] or "-",
                f"{r['host']}:{r['port']}",
                "healthy" if r["healthy"] else "DOWN",
                f"{r['rss_mb']} MB" if r["rss_mb"] is not None else "-",
                r["detail"],
            ]
            for r in rows
        ]
        click.echo(
            tabulate(table, headers=["service", "pid", "address", "health", "rss", "detail"])
        )
        total = sum(r["rss_mb"] or 0 for r in rows)
        click.echo(f"total rss: {total} MB; state: {obj.config.state_dir}")
        for line in settings_lines(obj.config):
            click.echo(line)
    return all(r["healthy"] for r in rows)


@stack.command("status")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@click.pass_obj
def stack_status(obj: Context, fmt: str) -> None:
    """Each service with pid, port, health and RSS; exits 1 if any is unhealthy."""
    if not _print_status(obj, fmt):
        sys.exit(1)


@stack.command("logs")
@click.argument("service")
@click.option("-n", "--lines", default=50, show_default=True)
@click.pass_obj
def stack_logs(obj: Context, service: str, lines: int) -> None:
    """Print the last lines of a service's log."""
    from stack.launcher import Stack
    from stack.process import tail

    path = Stack(obj.config).log_path(service)
    click.echo(tail(path, lines))


@stack.command("env")
@click.pass_obj
def stack_env(obj: Context) -> None:
    """Print shell exports that point edtrack and dbt at this stack."""
    from core import endpoints

    # The stack's addresses in the form of the endpoint settings (what a cluster's
    # endpoints file or environment gives), so that both take one code path.
    local = endpoints.resolve(defaults=obj.config.endpoint_defaults())
    for key, value in (obj.config.client_env() | local.as_env()).items():
        click.echo(f"export {key}={shlex.quote(value)}")
    if obj.config.auth == "ldap":
        # The seeded user's password (its name is thrift.user above) is read from its
        # file when the line runs, so it is never printed.
        click.echo(f"export EDTRACK_PASSWORD=\"$(cat '{obj.config.ldap_password_file}')\"")


# --- users (LDAP logins and their grants) -------------------------------------------------


@main.group()
def users() -> None:
    """Logins of a stack started with --auth ldap, and what each may read: EdTech Co's
    analysts everything, a customer's logins only its rows of the tables in `shared`."""


def _group_choice(customer: str | None, analyst: bool) -> str | None:
    if (customer is None) == (not analyst):
        raise UserError("Say whose login this is: --customer CUSTOMER_ID or --analyst.")
    return customer


@users.command("add")
@click.argument("user")
@click.option("--customer", help="The customer (its id in the exam_owners seed) it reads for.")
@click.option("--analyst", is_flag=True, help="An EdTech Co analyst: reads everything.")
@click.pass_obj
def users_add(obj: Context, user: str, customer: str | None, analyst: bool) -> None:
    """Add USER to a customer's group or the analysts, creating the user (its generated
    password is printed once, alone on stdout) and the customer's group when missing.
    Takes effect within seconds, without a restart."""
    from stack import directory

    added = directory.add_user(obj.config, user, _group_choice(customer, analyst))
    if added.password is None:
        click.echo(f"users: {user} (existing user) now reads as {added.group}", err=True)
    else:
        click.echo(
            f"users: created {user} for {added.group}; its password, shown only now:", err=True
        )
        click.echo(added.password)


@users.command("remove")
@click.argument("user")
@click.option("--customer", help="The customer whose group USER leaves.")
@click.option("--analyst", is_flag=True, help="Leave the analysts' group.")
@click.pass_obj
def users_remove(obj: Context, user: str, customer: str | None, analyst: bool) -> None:
    """Take USER out of a customer's group or the analysts (the user itself stays)."""
    from stack import directory

    group = _group_choice(customer, analyst)
    if not directory.remove_user(obj.config, user, group):
        raise UserError(f"{user} is not in the group of {group or directory.ANALYSTS}.")
    click.echo(f"users: {user} no longer reads as {group or directory.ANALYSTS}", err=True)


@users.command("list")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@click.pass_obj
def users_list(obj: Context, fmt: str) -> None:
    """Each group (analysts, then each customer) and its users."""
    from stack import directory

    found = directory.groups(obj.config)
    if fmt == "json":
        click.echo(json.dumps(found, indent=2))
        return
    for group, members in found.items():
        click.echo(f"{group}: {', '.join(members) or '-'}")


@main.command("config")
@click.option("--format", "fmt", type=FORMAT_CHOICE, default="table", show_default=True)
@click.pass_obj
def show_config(obj: Context, fmt: str) -> None:
    """Show where each service is, and where that setting came from (a flag, the
    environment, the endpoints file or the local stack); passwords are masked.

    Precedence per setting: flag > EDTRACK_* environment > endpoints file (--config /
    EDTRACK_CONFIG, TOML: sections kafka, hdfs, metastore, thrift) > the local stack.
    """
    from core import sql

    rows = [(key, value, source) for key, value, source in obj.endpoints.shown()]
    click.echo(sql.render(sql.Result(["setting", "value", "source"], rows), fmt))


# --- data -------------------------------------------------------------------------------


@main.command()
@click.option("--count", type=click.IntRange(min=0), required=True, help="Records to write.")
@click.option(
    "--seed",
    type=int,
    default=None,
    help="Default: the demo's seed, whose exams the committed warehouse/seeds list.",
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False),
    required=True,
    help=".json (export layout), .jsonl, or either + .gz",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["array", "jsonl"]),
    default=None,
    help="Default: from the file name.",
)
@click.option(
    "--start",
    type=click.DateTime(["%Y-%m-%d"]),
    default="2017-11-20",
    show_default=True,
    help="First day of activity (UTC).",
)
@click.option(
    "--days",
    type=click.IntRange(min=1),
    default=70,
    show_default=True,
    help="Days of activity from --start.",
)
@click.option(
    "--owners-seed",
    type=click.Path(file_okay=False),
    default=None,
    help="Also write the dbt seeds exam_owners.csv and customers.csv into this folder: "
    "the demo customers owning the exams of --seed (warehouse/seeds holds the default "
    "seed's).",
)
def generate(
    count: int,
    seed: int | None,
    output: str,
    fmt: str | None,
    start,
    days: int,
    owners_seed: str | None,
) -> None:
    """Write synthetic attempts with the shape and quirks of the real export."""

    from tqdm import tqdm

    from ingestion import generate as gen

    seed = gen.DEFAULT_SEED if seed is None else seed
    t0 = time.monotonic()
    with tqdm(
        total=count, unit="rec", desc="generate", file=sys.stderr, mininterval=2, disable=None
    ) as bar:
        records = gen.generate(count, seed, start=start.replace(tzinfo=dt.UTC), days=days)
        n = gen.write(records, Path(output), fmt, progress=bar.update)
    click.echo(f"wrote {n:,} records to {output} in {time.monotonic() - t0:.1f} s", err=True)
    if owners_seed is not None:
        written = gen.write_owner_seeds(Path(owners_seed), seed)
        rows = ", ".join(f"{name} ({n_rows} rows)" for name, n_rows in written.items())
        click.echo(f"wrote {rows} to {owners_seed}", err=True)


@main.command()
@click.argument("file")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["markdown", "json"]),
    default="markdown",
    show_default=True,
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write the report here (default: stdout).",
)
@click.option(
    "--exact-distinct",
    type=click.IntRange(min=1),
    default=10_000,
    show_default=True,
    help="Distinct values counted exactly per path and type, then estimated (HyperLogLog).",
)
def profile(file: str, fmt: str, output: str | None, exact_distinct: int) -> None:
    """Profile every field of FILE (export JSON array, JSON Lines, gzip, or - for stdin)."""

    from ingestion import profile as profiling

    if output and not Path(output).resolve().parent.is_dir():
        raise UserError(f"The folder of {output} does not exist; create it or pick another path.")
    t0 = time.monotonic()
    with file_progress(file, "profile") as progress:
        report = profiling.profile(file, exact_cap=exact_distinct, progress=progress)
    text = profiling.render_json(report) if fmt == "json" else profiling.render_markdown(report)
    # Keys or values with lone surrogates (valid JSON escapes) must not stop the report.
    data = text.encode("utf-8", "backslashreplace")
    if output:
        try:
            Path(output).write_bytes(data)
        except OSError as exc:
            raise UserError(f"Cannot write {output} ({exc.strerror}); check the path.") from None
    else:
        click.echo(data, nl=False)
    n = report["records"]["records"]
    noun = "record" if n == 1 else "records"
    click.echo(f"profiled {n:,} {noun} of {file} in {time.monotonic() - t0:.1f} s", err=True)


@main.command()
@click.argument("file", default="-")
@click.option("--topic", default=DEFAULT_TOPIC, show_default=True)
@click.option(
    "--partitions",
    type=click.IntRange(min=1),
    default=3,
    show_default=True,
    help="Partitions when the topic is created.",
)
@click.option("--strict", is_flag=True, help="Stop at the first record that is not an object.")
@click.option(
    "--rejects",
    type=click.Path(dir_okay=False),
    default=None,
    help="Where rejected records go (default: FILE.rejects.jsonl beside FILE; an existing "
    "file is kept and the next free name FILE.rejects.N.jsonl used).",
)
@click.option(
    "--resume",
    is_flag=True,
    help="Send only the records of FILE not yet on the topic; records already there under "
    "FILE's name must have the same content, or nothing is sent.",
)
@click.option(
    "--path",
    "array_path",
    default=None,
    help="The records are the array under this key of a JSON object (e.g. attempts).",
)
@click.option(
    "--max-message-bytes",
    type=click.IntRange(min=1),
    default=None,
    help="Larger records go to the rejects file (default: the broker's 1 MiB; also "
    "EDTRACK_MAX_MESSAGE_BYTES). Raise the topic's max.message.bytes and the lander's "
    "--max-message-bytes with it.",
)
@click.pass_obj
def publish(
    obj: Context,
    file: str,
    topic: str,
    partitions: int,
    strict: bool,
    rejects: str | None,
    resume: bool,
    array_path: str | None,
    max_message_bytes: int | None,
) -> None:
    """Publish FILE (export JSON array, JSON Lines, gzip, or - for stdin) to Kafka."""

    from ingestion.publish import (
        PublishConfig,
        PublishFailed,
        already_published,
        plan_resume,
        source_name,
    )
    from ingestion.publish import publish as run_publish

    config = PublishConfig(
        bootstrap=obj.endpoints.kafka_bootstrap,
        security=obj.endpoints.kafka_security(),
        topic=topic,
        partitions=partitions,
        strict=strict,
        rejects_path=Path(rejects) if rejects else None,
        array_path=array_path,
        max_message_bytes=max_message_bytes or _max_message_bytes(),
    )
    skip: set[int] = set()
    if resume:
        on_topic = already_published(config.bootstrap, topic, source_name(file), config.security)
        skip = plan_resume(file, topic, on_topic, array_path)
        click.echo(
            f"resume: {len(skip):,} records of {file} are already on {topic} with the same "
            "content; sending the others",
            err=True,
        )
    with file_progress(file, "publish") as progress:
        try:
            summary = run_publish(file, config, progress=progress, skip=skip)
        except PublishFailed as failed:
            click.echo(failed.summary.line(), err=True)
            raise
    click.echo(summary.line())
    if summary.rejected:
        click.echo(f"{summary.rejected:,} record(s) rejected: see {summary.rejects_path}", err=True)


def _max_message_bytes() -> int:
    """EDTRACK_MAX_MESSAGE_BYTES, or the default both publish and land share."""
    from ingestion.topic import MAX_MESSAGE_BYTES, MAX_MESSAGE_BYTES_ENV

    value = os.environ.get(MAX_MESSAGE_BYTES_ENV)
    if not value:
        return MAX_MESSAGE_BYTES
    try:
        number = int(value)
    except ValueError:
        raise UserError(
            f"{MAX_MESSAGE_BYTES_ENV} must be a whole number of bytes, not {value!r}."
        ) from None
    if number < 1:
        raise UserError(f"{MAX_MESSAGE_BYTES_ENV} must be at least 1 (bytes).")
    return number


LAND_SETTINGS = (
    "topic",
    "batch_records",
    "batch_bytes",
    "batch_age_s",
    "max_message_bytes",
    "root",
    "schema",
    "stall_timeout_s",
)


GROUP_SETTINGS = ("group", "group_id", "session_timeout_s")


def land_options(command, names: tuple[str, ...] = LAND_SETTINGS):
    """The options shared by 'land' and 'replay' (where to read, where to write,
    batches), derived from LandConfig's fields: their defaults and help are declared
    there once. ``batch_age_s`` is ``--batch-age`` (seconds)."""
    fields = {f.name: f for f in dataclasses.fields(LandConfig)}
    for name in reversed(names):
        setting = fields[name]
        flag = "--" + name.removesuffix("_s").replace("_", "-")
        if name == "max_message_bytes":  # its default comes from the environment too
            option = click.option(
                flag, type=click.IntRange(min=1), default=None, help=setting.metadata["help"]
            )
        elif isinstance(setting.default, bool):
            option = click.option(flag, name, is_flag=True, help=setting.metadata["help"])
        else:
            kind = {int: click.IntRange(min=1), float: click.FloatRange(min=0)}.get(
                type(setting.default), str
            )
            option = click.option(
                flag,
                name,
                type=kind,
                default=setting.default,
                show_default=True,
                help=setting.metadata["help"],
            )
        command = option(command)
    return command


def group_options(command):
    """'land' only: several landers in one consumer group (LandConfig's fields)."""
    return land_options(command, GROUP_SETTINGS)


@main.command()
@click.option(
    "--until-caught-up",
    is_flag=True,
    help="Exit 0 once the lag is zero (in a group: the whole topic's, all landers').",
)
@land_options
@group_options
@click.option(
    "--processes",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Start this many landers in one group on this machine (2 or more implies --group).",
)
@click.option(
    "--status",
    "show_status",
    is_flag=True,
    help="Print the lander's lag and figures as JSON and exit (lands nothing).",
)
@click.pass_obj
def land(
    obj: Context, until_caught_up: bool, processes: int, show_status: bool, **settings
) -> None:
    """Land messages from Kafka into raw.assessment_attempts on HDFS, exactly once.

    One lander lands every partition of the topic. With --group, landers started on
    this machine or others share the partitions (a consumer group), and a lander that
    stops, dies or stalls hands its partitions to the others; --processes N starts N
    of them here.
    """
    if processes > 1 and not show_status:
        from ingestion.landing.processes import run_landers

        sys.exit(run_landers(processes, sys.argv[1:], report=lambda m: click.echo(m, err=True)))
    if show_status:
        from ingestion.landing.lock import lock_path
        from ingestion.landing.status import status
        from ingestion.landing.wiring import in_run_dir

        run_dir = obj.config.run_dir
        config = in_run_dir(_land_config(obj, settings), run_dir)
        lock = lock_path(run_dir, config.topic, config.root)
        click.echo(json.dumps(status(config, lock), indent=2))
        return
    _run_lander(obj, settings, until_caught_up=until_caught_up)


@main.command()
@click.option("--partition", type=click.IntRange(min=0), required=True)
@click.option("--from-offset", type=click.IntRange(min=0), help="First offset to land again.")
@click.option(
    "--from-timestamp",
    type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S.%f"]),
    help="Land again from the first message at or after this UTC time.",
)
@land_options
@click.pass_obj
def replay(
    obj: Context,
    partition: int,
    from_offset: int | None,
    from_timestamp: dt.datetime | None,
    **settings,
) -> None:
    """Land one partition again from an offset or a time: idempotent, same rows.

    Deletes the partition's landed batches from that point (whole batches) and lands
    them again from Kafka, then goes on until caught up. Stop a running lander first.
    """
    from ingestion.landing.lander import Replay

    if (from_offset is None) == (from_timestamp is None):
        raise click.UsageError("Give exactly one of --from-offset and --from-timestamp.")
    if from_timestamp is not None:
        ms = int(from_timestamp.replace(tzinfo=dt.UTC).timestamp() * 1000)
        start = Replay(partition, timestamp_ms=ms)
    else:
        start = Replay(partition, offset=from_offset)
    _run_lander(obj, settings, until_caught_up=True, replays=(start,))


def _land_config(obj: Context, settings: dict) -> LandConfig:
    from ingestion.landing.faults import FaultPoint

    given = {name: value for name, value in settings.items() if name != "max_message_bytes"}
    return LandConfig(
        bootstrap=obj.endpoints.kafka_bootstrap,
        security=obj.endpoints.kafka_security(),
        max_message_bytes=settings.get("max_message_bytes") or _max_message_bytes(),
        # Reliability testing only: SIGKILL the lander at a named step of a flush.
        fault=FaultPoint.from_env(os.environ),
        **given,
    )


def _run_lander(obj: Context, settings: dict, until_caught_up: bool, replays=()) -> None:
    from ingestion.landing.wiring import land as run_lander

    found = obj.endpoints
    run_lander(
        _land_config(obj, settings),
        found.hdfs_url,
        found.thrift_host,
        found.thrift_port,
        run_dir=obj.config.run_dir,
        login=obj.login,
        hdfs_user=found.hdfs_user,
        hdfs_conf_dir=found.hdfs_conf_dir,
        thrift_ssl_cafile=found.thrift_ssl_cafile,
        until_caught_up=until_caught_up,
        handle_signals=True,
        replays=replays,
    )


# --- serving ----------------------------------------------------------------------------


@main.command()
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    default="report.html",
    show_default=True,
    help="Where to write the HTML page.",
)
@click.pass_obj
def report(obj: Context, output: str) -> None:
    """Write one self-contained HTML page of charts over the marts (exams, scores,
    question difficulty, activity, durations)."""
    from serving import report as reporting

    if not Path(output).resolve().parent.is_dir():
        raise UserError(f"The folder of {output} does not exist; create it or pick another path.")
    t0 = time.monotonic()
    found = obj.endpoints
    connection = obj.connect_sql()
    try:
        charts = reporting.write_report(
            connection, Path(output), source=f"{found.thrift_host}:{found.thrift_port}"
        )
    finally:
        connection.close()
    click.echo(f"wrote {output}: {charts} charts in {time.monotonic() - t0:.1f} s", err=True)


@main.command("sql")
@click.argument("statement", required=False)
@click.option(
    "-f",
    "--file",
    "sql_file",
    type=click.Path(exists=True, dir_okay=False, allow_dash=True),
    help="Read the statement from a file ('-': standard input).",
)
@click.option("--format", "fmt", type=FORMAT_CHOICE, default="table", show_default=True)
@click.option("--verbose", is_flag=True, help="On a server error, print all the server said.")
@click.pass_obj
def sql_command(
    obj: Context, statement: str | None, sql_file: str | None, fmt: str, verbose: bool
) -> None:
    """Run one SQL statement (STATEMENT, '-' for standard input, or -f FILE) through the
    Spark Thrift Server and print the result."""
    from core import sql

    if statement and sql_file:
        raise UserError("Give a SQL statement or -f FILE, not both.")
    if sql_file == "-" or statement == "-":
        statement = sys.stdin.read()
    elif sql_file:
        statement = Path(sql_file).read_text()
    if not statement or not statement.strip():
        raise UserError("Give a SQL statement, '-' to read it from standard input, or -f FILE.")
    statement = statement.strip().rstrip(";")
    connection = obj.connect_sql()
    try:
        result = sql.run(connection, statement)
    except sql.QueryFailed as failed:
        if verbose:
            failed.detail = failed.server_text
        raise
    finally:
        connection.close()
    click.echo(sql.render(result, fmt))


@main.command()
@click.option(
    "--older-than",
    "older_than_h",
    type=click.FloatRange(min=0),
    default=168.0,
    show_default=True,
    help="Hours: snapshots younger than this stay (time travel reaches back that far, and "
    "a running query keeps the files it planned on); orphan files go at 24 h at the "
    "earliest (a running write's files look orphaned).",
)
@click.option(
    "--retain-last",
    type=click.IntRange(min=1),
    default=5,
    show_default=True,
    help="Snapshots each table keeps however old they are.",
)
@click.option("--no-compact", is_flag=True, help="Leave small data files as they are.")
@click.option(
    "--schema",
    "schemas",
    multiple=True,
    help="A schema to maintain (repeatable; default: staging, flattened, marts, shared "
    "and reference).",
)
@click.pass_obj
def maintain(
    obj: Context, older_than_h: float, retain_last: int, no_compact: bool, schemas: tuple
) -> None:
    """Compact, expire old snapshots and remove orphan files of every Iceberg table of
    the warehouse, so storage stays bounded (docs/table-format.md: how often)."""
    from serving import maintain as housekeeping

    older_than = housekeeping.now() - dt.timedelta(hours=older_than_h)
    connection = obj.connect_sql()
    try:
        reports = housekeeping.maintain(
            connection,
            schemas or housekeeping.LAYERS,
            older_than,
            retain_last=retain_last,
            compact=not no_compact,
            progress=lambda line: click.echo(line, err=True),
        )
    finally:
        connection.close()
    before = sum(r.data_files_before for r in reports)
    after = sum(r.data_files_after for r in reports)
    click.echo(
        f"{len(reports)} tables: data files {before} -> {after}, snapshots "
        f"{sum(r.snapshots_before for r in reports)} -> {sum(r.snapshots_after for r in reports)}"
    )


@main.command()
@click.option(
    "--input",
    "input_path",
    type=click.Path(),
    default=None,
    help="A real export to use instead of generated attempts.",
)
@click.option("--count", type=click.IntRange(min=1), default=3280, show_default=True)
@click.option("--seed", type=int, default=2018, show_default=True)
@click.option(
    "--auth",
    type=click.Choice(["none", "ldap"]),
    default=None,
    help="As 'stack up --auth'. With ldap the demo also answers as one customer's own "
    "login, which reads only that customer's exams.",
)
@click.pass_obj
def demo(obj: Context, input_path: str | None, count: int, seed: int, auth: str | None) -> None:
    """End to end: stack up, publish, land, dbt build, answer client questions."""
    from edtrack.demo import run_demo

    obj.choose(auth, None)
    run_demo(obj.config, input_path, count, seed)


# --- the global options, also after a subcommand ---------------------------------------


def _set_state_dir(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value is not None:
        ctx.find_object(Context).late_options(state_dir=value)


def _set_port_offset(ctx: click.Context, _param: click.Parameter, value: int | None) -> None:
    if value is not None:
        ctx.find_object(Context).late_options(port_offset=value)


def _global_options() -> list[click.Option]:
    """`edtrack stack down --port-offset 3000` as well as `edtrack --port-offset 3000
    stack down`: the same options on every command, shown in its help."""
    return [
        click.Option(
            ["--state-dir"],
            type=click.Path(file_okay=False),
            expose_value=False,
            callback=_set_state_dir,
            help="As 'edtrack --state-dir': where the local stack keeps its state.",
        ),
        click.Option(
            ["--port-offset"],
            type=int,
            expose_value=False,
            callback=_set_port_offset,
            help="As 'edtrack --port-offset': shift every default port.",
        ),
    ]


def _add_global_options(group: click.Group) -> None:
    for command in group.commands.values():
        if isinstance(command, click.Group):
            _add_global_options(command)
        else:
            command.params.extend(_global_options())


_add_global_options(main)


if __name__ == "__main__":
    main()

"""PostgreSQL: the metastore's database with ``--metastore postgres``, a cluster of the
stack's own under ``postgres/data``, listening on loopback TCP only."""

from __future__ import annotations

import os
import pwd
import signal
import subprocess
from pathlib import Path

from core.errors import UserError
from core.net import port_open
from stack import process
from stack.config import StackConfig
from stack.secrets_file import password
from stack.services.base import LOG_TAIL_LINES, Runtime, Service, Unhealthy


def postgres_bin(config: StackConfig) -> Path:
    """PostgreSQL's server programs: the configured folder or Debian's newest."""
    if config.postgres_bin is not None:
        candidates = [config.postgres_bin]
    else:
        root = Path("/usr/lib/postgresql")
        versions = sorted(
            (p for p in root.glob("*/bin") if p.parent.name.isdigit()),
            key=lambda p: int(p.parent.name),
            reverse=True,
        )
        candidates = versions
    for folder in candidates:
        if (folder / "postgres").exists() and (folder / "initdb").exists():
            return folder
    raise UserError(
        "The PostgreSQL metastore needs PostgreSQL's server programs and none were found "
        "in /usr/lib/postgresql/*/bin: apt-get install postgresql (or set "
        "EDTRACK_POSTGRES_BIN), then run the command again."
    )


def postgres_os_user() -> str | None:
    """The account PostgreSQL runs as: None (ourselves) unless we are root.

    PostgreSQL refuses to run as root; as root the stack runs it as Debian's
    ``postgres`` account, which must be able to reach the state dir.
    """
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        raise UserError(
            "PostgreSQL refuses to run as root and there is no 'postgres' account to run it "
            "as: install Debian's postgresql package or run the stack as another user."
        ) from None
    return "postgres"


def command(rt: Runtime) -> list[str]:
    config = rt.config
    return [
        str(postgres_bin(config) / "postgres"),
        "-D",
        str(config.service_dir("postgres") / "data"),
        "-c",
        f"listen_addresses={config.host}",
        "-c",
        f"port={config.ports['postgres']}",
        "-c",
        "unix_socket_directories=",  # TCP on loopback only, no socket file
        "-c",
        "max_connections=40",
        "-c",
        "shared_buffers=32MB",
    ]


def init_cluster(rt: Runtime) -> None:
    """A PostgreSQL cluster of the stack's own under ``postgres/data``, made once."""
    config = rt.config
    pg_dir = config.service_dir("postgres")
    pg_dir.mkdir(parents=True, exist_ok=True)
    password(config.postgres_password_file)
    user = postgres_os_user()
    if user is not None:
        account = pwd.getpwnam(user)
        for path in (pg_dir, config.postgres_password_file):
            os.chown(path, account.pw_uid, account.pw_gid)
        os.chmod(pg_dir, 0o700)
        reach = subprocess.run(["test", "-w", str(pg_dir)], user=user, check=False)
        if reach.returncode != 0:
            raise UserError(
                f"PostgreSQL refuses to run as root, so the stack runs it as user "
                f"'{user}', who cannot reach {pg_dir}: put the state dir where that user "
                "can (every parent folder needs o+x), e.g. --state-dir /var/tmp/edtrack."
            )
    if (pg_dir / "data" / "PG_VERSION").exists():
        return
    rt.log("creating the metastore's PostgreSQL cluster (once)")
    rt.run_once(
        "postgres-initdb",
        [
            str(postgres_bin(config) / "initdb"),
            "-D",
            str(pg_dir / "data"),
            "-U",
            config.postgres_user,
            f"--pwfile={config.postgres_password_file}",
            "--auth=scram-sha-256",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
        ],
        user=user,
    )


def psql(config: StackConfig, database: str, sql: str, timeout_s: float = 20.0) -> str:
    """Run one statement with ``psql`` over TCP as the stack's database user; its output."""
    cmd = [
        str(postgres_bin(config) / "psql"),
        "-h",
        config.host,
        "-p",
        str(config.ports["postgres"]),
        "-U",
        config.postgres_user,
        "-d",
        database,
        "-v",
        "ON_ERROR_STOP=1",
        "-tAc",
        sql,
    ]
    secret = password(config.postgres_password_file)
    env = {**os.environ, "PGPASSWORD": secret, "PGCONNECT_TIMEOUT": "5"}
    try:
        result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        raise Unhealthy(f"psql took over {timeout_s:.0f} s") from None
    if result.returncode != 0:
        raise Unhealthy(f"psql failed: {result.stderr.strip()}")
    return result.stdout.strip()


def setup_statement(config: StackConfig, database: str, sql: str) -> str:
    """:func:`psql` for set-up: a failure is one sentence naming PostgreSQL's log."""
    try:
        return psql(config, database, sql)
    except Unhealthy as exc:
        log_path = config.logs_dir / "postgres.log"
        raise UserError(
            f"PostgreSQL did not run a setup statement ({exc}); its log is {log_path}.",
            detail=process.tail(log_path, LOG_TAIL_LINES),
        ) from None


def check(config: StackConfig) -> None:
    """PostgreSQL accepts the stack's login and answers ``select 1``."""
    address = f"{config.host}:{config.ports['postgres']}"
    if not port_open(config.host, config.ports["postgres"]):
        raise Unhealthy(f"nothing listens on {address}")
    answer = psql(config, "postgres", "select 1")
    if answer != "1":
        raise Unhealthy(f"select 1 returned {answer!r}")


SERVICE = Service(
    "postgres",
    check,
    command,
    enabled=lambda config: config.metastore_db == "postgres",
    prepare=init_cluster,
    os_user=postgres_os_user,
    stop_signal=signal.SIGINT,
    leader_only=True,
)

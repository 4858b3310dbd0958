"""A stack started with LDAP auth, TLS and a PostgreSQL metastore, against the real
services.

One private stack for this module (``stack up --auth ldap --tls --metastore postgres``), on
its own state dir and ports (the test offset + 500), stopped at the end of the module,
also on failure or SIGTERM. Clients log in as the user the stack seeds into its LDAP
directory over TLS: PyHive, beeline, ``edtrack sql`` and dbt take the login from the
environment and are refused with a wrong or missing password, a plain connection or a
certificate they do not trust. A batch Spark application and the Thrift Server share the
metastore on PostgreSQL.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import stat
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import psutil
import pytest

from core.project import PROJECT_ROOT
from stack.config import from_env
from stack.secrets_file import password
from stack.services.base import spark_home
from stack.services.postgres import psql
from tests.integration.conftest import Cli, private_stack

pytestmark = pytest.mark.integration
BATCH = Path(__file__).with_name("spark_batch.py")
SECURED_OFFSET_SHIFT = 500  # beside the suite's main stack: no default ports differ by 500
LOGIN_VARS = ("EDTRACK_AUTH", "EDTRACK_METASTORE", "EDTRACK_USER", "EDTRACK_PASSWORD")


@pytest.fixture(scope="module")
def secured():
    with private_stack(
        "secured stack", SECURED_OFFSET_SHIFT, auth="ldap", metastore="postgres", tls=True
    ) as launcher:
        yield launcher


@pytest.fixture(scope="module")
def cli(secured) -> Cli:
    """``edtrack`` and ``dbt`` pointed at the secured stack, with no login in the env."""
    runner = Cli(secured.config)
    for var in LOGIN_VARS:
        runner.env.pop(var, None)
    return runner


@pytest.fixture(scope="module")
def seeded(secured) -> tuple[str, str]:
    """The seeded LDAP user and its generated password (read from the state dir)."""
    return secured.config.ldap_user, password(secured.config.ldap_password_file)


def logged_in(seeded) -> dict[str, str]:
    user, secret = seeded
    return {"EDTRACK_USER": user, "EDTRACK_PASSWORD": secret}


def one_sentence(result: subprocess.CompletedProcess) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


# --- the stack -----------------------------------------------------------------------------


def test_every_service_of_the_secured_stack_is_healthy(secured):
    rows = secured.status()
    assert [r["service"] for r in rows] == [
        "kafka",
        "namenode",
        "postgres",
        "metastore",
        "datanode",
        "ldap",
        "thrift",
    ]
    assert [r["detail"] for r in rows if not r["healthy"]] == []


def test_status_says_auth_is_ldap_and_the_metastore_is_postgres(cli, secured):
    table = cli.run("stack", "status").stdout
    assert table.count("healthy") == 7
    assert f"auth: LDAP ({secured.config.ldap_url}, users uid=<user>,ou=people," in table
    postgres_port = secured.config.ports["postgres"]
    assert f"metastore: PostgreSQL (jdbc:postgresql://127.0.0.1:{postgres_port}/metastore)" in table
    assert f"TLS: on (clients trust {secured.config.tls_cert_file};" in table
    report = json.loads(cli.run("stack", "status", "--format", "json").stdout)
    assert report["auth"] == "ldap"
    assert (report["tls"], report["tls_ca_file"]) == (True, str(secured.config.tls_cert_file))
    assert report["metastore"] == "postgres"
    assert report["ldap_url"] == f"ldap://127.0.0.1:{secured.config.ports['ldap']}"
    assert [s["service"] for s in report["services"] if s["healthy"]][-2:] == ["ldap", "thrift"]


def test_the_choices_are_kept_in_the_state_dir_for_later_commands(secured):
    kept = json.loads((secured.config.state_dir / "stack.json").read_text())
    assert kept == {
        "auth": "ldap",
        "tls": "on",
        "metastore": "postgres",
        "table_format": "iceberg",
        "host": "127.0.0.1",
        "nodes": "1",
        "ports": dict(secured.config.ports),
    }
    # A later command with nothing set reads them back.
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDTRACK_")}
    again = from_env(env, state_dir=secured.config.state_dir)
    assert (again.auth, again.metastore_db, again.tls) == ("ldap", "postgres", True)


def test_changing_auth_under_a_running_stack_is_one_sentence(cli):
    result = cli.run("stack", "up", "--auth", "none", check=False)
    assert result.returncode == 2
    assert "stop it first" in one_sentence(result)


def test_secrets_are_readable_by_their_owner_only(secured):
    cfg = secured.config
    for path in (
        cfg.ldap_password_file,
        cfg.postgres_password_file,
        cfg.service_dir("ldap") / "slapd.conf",
        cfg.state_dir / "metastore/conf/hive-site.xml",
        cfg.state_dir / "spark/conf/hive-site.xml",
        cfg.tls_keystore,
        cfg.tls_password_file,
    ):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert stat.S_IMODE(cfg.tls_dir.stat().st_mode) == 0o700
    keystore_password = password(cfg.tls_password_file)
    assert keystore_password in (cfg.state_dir / "spark/conf/hive-site.xml").read_text()
    thrift = next(row for row in secured.status() if row["service"] == "thrift")
    command_line = " ".join(psutil.Process(thrift["pid"]).cmdline())
    assert "hive.server2.use.SSL=true" in command_line
    assert keystore_password not in command_line
    db_password = password(cfg.postgres_password_file)
    assert db_password in (cfg.state_dir / "metastore/conf/hive-site.xml").read_text()
    assert db_password not in (cfg.state_dir / "spark/conf/hive-site.xml").read_text()


def test_ldap_and_postgres_listen_on_loopback_only(secured):
    pids = set()
    for row in secured.status():
        if row["service"] in ("ldap", "postgres"):
            proc = psutil.Process(row["pid"])
            pids |= {proc.pid, *(c.pid for c in proc.children(recursive=True))}
    listening = [
        c
        for c in psutil.net_connections(kind="inet")
        if c.pid in pids and c.status == psutil.CONN_LISTEN
    ]
    assert {c.laddr.port for c in listening} == {
        secured.config.ports["ldap"],
        secured.config.ports["postgres"],
    }
    assert all(ipaddress.ip_address(c.laddr.ip).is_loopback for c in listening)


# --- logins accepted -----------------------------------------------------------------------


def tls_connect(secured, **login):
    """PyHive over TLS, trusting the stack's certificate (``core.sql.open_hive``)."""
    from core.sql import open_hive

    cafile = login.pop("ssl_cafile", secured.config.tls_cert_file)
    return open_hive(
        login.pop("host", "127.0.0.1"), secured.config.ports["thrift"], ssl_cafile=cafile, **login
    )


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_pyhive_logs_in_through_ldap_over_tls(secured, seeded, host):
    user, secret = seeded
    conn = tls_connect(secured, host=host, username=user, password=secret)
    try:
        cursor = conn.cursor()
        cursor.execute("select current_user(), 6 * 7")
        assert cursor.fetchall() == [(user, 42)]
    finally:
        conn.close()


def beeline(config, *login: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "SPARK_HOME": str(spark_home())}
    trust = f"sslTrustStore={config.tls_truststore};trustStorePassword=" + password(
        config.tls_truststore_password_file
    )
    return subprocess.run(
        [
            str(spark_home() / "bin" / "beeline"),
            "-u",
            f"jdbc:hive2://127.0.0.1:{config.ports['thrift']}/default;ssl=true;{trust}",
            *login,
            "-e",
            "select 6 * 7 as answer",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_beeline_logs_in_with_user_and_password(secured, seeded):
    user, secret = seeded
    result = beeline(secured.config, "-n", user, "-p", secret)
    assert result.returncode == 0, result.stderr[-2000:]
    assert re.search(r"\|\s*42\s*\|", result.stdout), result.stdout[-2000:]


def test_edtrack_sql_logs_in_from_the_environment(cli, seeded):
    result = cli.run(
        "sql", "--format", "json", "select current_user() as who", env=logged_in(seeded)
    )
    assert json.loads(result.stdout) == [{"who": seeded[0]}]


def test_hive_serde_tables_take_writes_from_one_login_session_after_another(cli, seeded):
    """dbt-spark's default format. Each `edtrack sql` is a session of its own, closed
    before the next; with the server's old setting (doAs) the second insert failed with
    "Filesystem closed" (docs/stack.md)."""
    env = logged_in(seeded)
    cli.run("sql", "drop table if exists default.serde_sessions", env=env)
    cli.run("sql", "create table default.serde_sessions (n int)", env=env)
    for n in (1, 2, 3):
        cli.run("sql", f"insert into default.serde_sessions values ({n})", env=env)
    result = cli.run(
        "sql",
        "--format",
        "json",
        "select sum(n) as total, count(*) as n_rows from default.serde_sessions",
        env=env,
    )
    assert json.loads(result.stdout) == [{"total": 6, "n_rows": 3}]


def test_the_lander_registers_its_tables_over_tls(cli, seeded, tmp_path):
    from ingestion.generate import generate, write

    records = list(generate(25, seed=11, days=2))
    export = tmp_path / "export.jsonl"
    write(iter(records), export)
    env = logged_in(seeded)
    cli.run("publish", str(export), env=env)
    cli.run("land", "--until-caught-up", env=env)
    result = cli.run(
        "sql",
        "--format",
        "json",
        "select count(*) as n from raw.assessment_attempts",
        env=env,
    )
    assert json.loads(result.stdout) == [{"n": len(records)}]


def dbt_debug(env: dict[str, str]) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [str(Path(sys.executable).parent / "dbt"), "debug"],
        env=env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    result.stdout = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout)  # no colours
    return result


def test_dbt_logs_in_from_the_environment(cli, seeded):
    result = dbt_debug({**cli.env, **logged_in(seeded)})
    assert result.returncode == 0, result.stdout[-3000:]
    assert "Connection test: [OK connection ok]" in result.stdout


# --- logins refused ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "login",
    [
        pytest.param({"password": "not-the-password"}, id="wrong-password"),
        # Without a password PyHive sends a placeholder, as pre-auth clients do.
        pytest.param({}, id="no-password"),
        pytest.param({"username": "nobody", "password": "not-the-password"}, id="unknown-user"),
    ],
)
def test_pyhive_is_refused_without_the_right_password(secured, seeded, login):
    login = {"username": seeded[0], **login}
    with pytest.raises(Exception, match="Error validating the login"):
        tls_connect(secured, **login)


@pytest.mark.parametrize(
    "login",
    [
        pytest.param(["-p", "not-the-password"], id="wrong-password"),
        pytest.param([], id="no-password"),
    ],
)
def test_beeline_is_refused_without_the_right_password(secured, seeded, login):
    result = beeline(secured.config, "-n", seeded[0], *login)
    assert "Error validating the login" in result.stdout + result.stderr
    assert not re.search(r"\|\s*42\s*\|", result.stdout)


def test_edtrack_sql_with_a_wrong_password_is_one_sentence(cli, seeded):
    env = {**logged_in(seeded), "EDTRACK_PASSWORD": "not-the-password"}
    result = cli.run("sql", "select 1", check=False, env=env)
    assert result.returncode == 2
    assert f"rejected the login of '{seeded[0]}'" in one_sentence(result)


def test_edtrack_sql_without_a_password_is_one_sentence(cli):
    result = cli.run("sql", "select 1", check=False)
    assert result.returncode == 2
    assert "requires an LDAP login: set EDTRACK_USER and EDTRACK_PASSWORD" in one_sentence(result)


def test_a_plain_connection_to_the_tls_port_gets_no_answer(secured, seeded):
    from pyhive import hive
    from thrift.transport.TTransport import TTransportException

    user, secret = seeded
    with pytest.raises(TTransportException):
        hive.connect(
            host="127.0.0.1",
            port=secured.config.ports["thrift"],
            username=user,
            password=secret,
            auth="LDAP",
        )


def test_edtrack_without_the_ca_file_says_to_set_it(secured, seeded):
    from core import sql
    from core.errors import ServiceUnavailable

    with pytest.raises(ServiceUnavailable, match="if it uses TLS, set thrift.ssl_cafile"):
        sql.connect("127.0.0.1", secured.config.ports["thrift"], *seeded)


def test_a_certificate_the_client_does_not_trust_is_refused_in_one_sentence(
    cli, secured, seeded, tmp_path
):
    from stack import tls
    from stack.services.base import find_java

    stranger = from_env({}, state_dir=tmp_path)  # another stack's certificate
    tls.ensure_certificate(stranger, find_java(stranger))
    from thrift.transport.TTransport import TTransportException

    with pytest.raises(TTransportException, match="Could not connect"):
        tls_connect(secured, ssl_cafile=stranger.tls_cert_file, username=seeded[0])
    env = {**logged_in(seeded), "EDTRACK_THRIFT_SSL_CAFILE": str(stranger.tls_cert_file)}
    result = cli.run("sql", "select 1", check=False, env=env)
    assert result.returncode == 2
    assert f"thrift.ssl_cafile ({stranger.tls_cert_file}) does not vouch for" in one_sentence(
        result
    )


def test_dbt_over_tls_without_a_ca_file_cannot_connect(cli, seeded):
    env = {**cli.env, **logged_in(seeded)}
    env.pop("EDTRACK_THRIFT_SSL_CAFILE")
    result = dbt_debug(env)
    assert result.returncode != 0
    assert "Connection test: [OK" not in result.stdout


def test_dbt_without_a_password_cannot_connect(cli):
    result = dbt_debug(cli.env)
    assert result.returncode != 0
    assert "Error validating the login" in result.stdout


# --- the metastore on PostgreSQL, shared by two Spark applications -------------------------


def batch(config, *statements: str) -> list[list]:
    """Run statements in a separate Spark application on the stack's metastore."""
    result = subprocess.run(
        [sys.executable, str(BATCH), config.metastore_uri, config.hdfs_url, *statements],
        env={k: v for k, v in os.environ.items() if k not in ("SPARK_CONF_DIR", "SPARK_HOME")},
        cwd=tempfile.gettempdir(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_a_batch_app_and_the_thrift_server_share_tables_on_postgres(cli, secured, seeded):
    db = f"shared_{uuid.uuid4().hex[:8]}"
    login = logged_in(seeded)
    cli.run("sql", f"create database {db}", env=login)
    cli.run(
        "sql",
        f"create table {db}.from_thrift using parquet as select 7 as n, 'thrift' as made_by",
        env=login,
    )
    # The batch app reads the Thrift Server's table and writes one of its own ...
    rows = batch(
        secured.config,
        f"create table {db}.from_batch using parquet as "
        f"select n * 6 as n, 'batch' as made_by from {db}.from_thrift",
        f"select n, made_by from {db}.from_batch",
    )
    assert rows == [[42, "batch"]]
    # ... which the Thrift Server sees at once.
    seen = json.loads(
        cli.run("sql", "--format", "json", f"select * from {db}.from_batch", env=login).stdout
    )
    assert seen == [{"n": 42, "made_by": "batch"}]
    # Both tables are rows of the metastore's PostgreSQL database.
    tables = psql(
        secured.config,
        "metastore",
        f"""select t."TBL_NAME" from "TBLS" t join "DBS" d on d."DB_ID" = t."DB_ID"
            where d."NAME" = '{db}' order by 1""",
    )
    assert tables.split() == ["from_batch", "from_thrift"]


def test_the_metastore_runs_with_auto_create_off(secured):
    site = (secured.config.state_dir / "metastore/conf/hive-site.xml").read_text()
    assert re.search(r"autoCreateAll</name><value>false<", site)
    count = psql(
        secured.config,
        "metastore",
        "select count(*) from information_schema.tables where table_schema = 'public'",
    )
    assert int(count) >= 40  # the schema SchemaTool created up front (Hive 2.3: 44 tables)


# --- last: stopping ------------------------------------------------------------------------


def test_zz_stack_down_stops_ldap_and_postgres_too(cli, secured):
    procs = []
    for row in secured.status():
        proc = psutil.Process(row["pid"])
        procs += [proc, *proc.children(recursive=True)]
    cli.run("stack", "down")
    still = [p.pid for p in procs if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert still == []
    result = cli.run("stack", "status", check=False)
    assert result.returncode == 1
    assert result.stdout.count("not running") == 7

"""LDAP auth and the PostgreSQL metastore: settings, commands and files, no services."""

from __future__ import annotations

import json
import stat
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from core import sql
from core.errors import UserError
from edtrack.cli import main
from stack import jars
from stack.config import DEFAULT_PORTS, from_env, load_settings, save_settings
from stack.launcher import Stack, render_configs, services_for
from stack.secrets_file import password, write_private
from stack.services import ldap, postgres, thrift
from stack.services.postgres import postgres_bin

PROFILES = Path(__file__).resolve().parents[2] / "profiles" / "profiles.yml"


def hadoop_properties(path: Path) -> dict[str, str]:
    root = ET.parse(path).getroot()
    return {p.findtext("name"): p.findtext("value") for p in root.iter("property")}


@pytest.fixture
def fake_postgres(tmp_path: Path) -> Path:
    bin_dir = tmp_path / "pgbin"
    bin_dir.mkdir()
    for name in ("postgres", "initdb", "psql"):
        (bin_dir / name).write_text("#!/bin/sh\n")
    return bin_dir


# --- settings ------------------------------------------------------------------------------


def test_defaults_are_no_auth_and_derby(tmp_path: Path):
    config = from_env({}, state_dir=tmp_path)
    assert (config.auth, config.metastore_db) == ("none", "derby")
    assert config.metastore_jdbc_url.startswith("jdbc:derby:;databaseName=")


def test_the_new_ports_shift_with_the_offset(tmp_path: Path):
    config = from_env({"EDTRACK_PORT_OFFSET": "14000"}, state_dir=tmp_path)
    assert config.ports["ldap"] == DEFAULT_PORTS["ldap"] + 14000 == 24389
    assert config.ports["postgres"] == DEFAULT_PORTS["postgres"] + 14000 == 24432
    assert config.ldap_url == "ldap://127.0.0.1:24389"


@pytest.mark.parametrize(
    ("flag", "env", "kept", "expected"),
    [
        pytest.param("ldap", {"EDTRACK_AUTH": "none"}, "none", "ldap", id="flag-wins"),
        pytest.param(None, {"EDTRACK_AUTH": "LDAP"}, "none", "ldap", id="env-over-state"),
        pytest.param(None, {}, "ldap", "ldap", id="state-remembers"),
        pytest.param(None, {}, None, "none", id="default"),
    ],
)
def test_auth_comes_from_flag_then_env_then_the_last_up(tmp_path, flag, env, kept, expected):
    if kept:
        (tmp_path / "stack.json").write_text(json.dumps({"auth": kept, "metastore": "derby"}))
    assert from_env(env, state_dir=tmp_path, auth=flag).auth == expected


def test_metastore_choice_is_kept_and_read_back(tmp_path: Path):
    config = from_env({"EDTRACK_METASTORE": "postgres"}, state_dir=tmp_path, auth="ldap")
    save_settings(config)
    assert load_settings(tmp_path) == {
        "auth": "ldap",
        "tls": "off",
        "metastore": "postgres",
        "table_format": "iceberg",
        "host": "127.0.0.1",
        "nodes": "1",
    }
    again = from_env({}, state_dir=tmp_path)
    assert (again.auth, again.metastore_db) == ("ldap", "postgres")


def test_the_stack_host_is_a_loopback_address_kept_for_later_commands(tmp_path: Path):
    config = from_env({"EDTRACK_STACK_HOST": "127.0.1.2"}, state_dir=tmp_path)
    assert (config.host, config.kafka_bootstrap) == ("127.0.1.2", "127.0.1.2:9092")
    assert config.endpoint_defaults()["thrift.host"] == "127.0.1.2"
    save_settings(config)
    assert from_env({}, state_dir=tmp_path).host == "127.0.1.2"
    for wrong in ("10.0.0.5", "stack.example.com", "::1"):
        with pytest.raises(UserError, match="loopback addresses only .* EDTRACK_STACK_HOST"):
            from_env({"EDTRACK_STACK_HOST": wrong}, state_dir=tmp_path)


@pytest.mark.parametrize(
    ("flag", "env", "kept", "expected"),
    [
        pytest.param("delta", {"EDTRACK_TABLE_FORMAT": "parquet"}, "iceberg", "delta", id="flag"),
        pytest.param(None, {"EDTRACK_TABLE_FORMAT": "Parquet"}, "delta", "parquet", id="env"),
        pytest.param(None, {}, "delta", "delta", id="state-remembers"),
        pytest.param(None, {}, None, "iceberg", id="default"),
    ],
)
def test_table_format_comes_from_flag_then_env_then_the_last_up(
    tmp_path, flag, env, kept, expected
):
    if kept:
        (tmp_path / "stack.json").write_text(json.dumps({"table_format": kept}))
    config = from_env(env, state_dir=tmp_path, table_format=flag)
    assert config.table_format == expected
    # Later commands, and dbt through `stack env`, learn it from the client environment.
    assert config.client_env()["EDTRACK_TABLE_FORMAT"] == expected


@pytest.mark.parametrize("fmt", ["iceberg", "delta"])
def test_the_thrift_server_loads_the_table_format_as_its_session_catalog(tmp_path, fmt):
    from stack.jars import poms_for
    from stack.launcher import render_configs

    config = from_env({"EDTRACK_TABLE_FORMAT": fmt}, state_dir=tmp_path)
    render_configs(config)
    conf = (tmp_path / "spark/conf/spark-defaults.conf").read_text()
    catalog = {
        "iceberg": "IcebergSessionCatalog",
        "delta": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
    }[fmt]
    assert f"spark.sql.catalog.spark_catalog           {catalog}\n" in conf
    assert f"spark.driver.extraClassPath               {config.jars_dir / fmt / '*'}" in conf
    assert fmt in poms_for(config) and ({"iceberg", "delta"} - {fmt}).isdisjoint(poms_for(config))


def test_a_parquet_stack_loads_no_table_format(tmp_path):
    from stack.jars import poms_for
    from stack.launcher import render_configs

    config = from_env({"EDTRACK_TABLE_FORMAT": "parquet"}, state_dir=tmp_path)
    render_configs(config)
    conf = dict(
        line.split(None, 1)
        for line in (tmp_path / "spark/conf/spark-defaults.conf").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    )
    assert not any("spark_catalog" in key for key in conf)
    # Only the project's own classes (the per-customer access extension), no format jars.
    assert conf["spark.driver.extraClassPath"] == str(config.cache_dir / "classes")
    assert conf["spark.sql.extensions"] == "CustomerAccess"
    assert {"iceberg", "delta"}.isdisjoint(poms_for(config))


@pytest.mark.parametrize(
    ("auth", "configured"),
    [pytest.param("ldap", True, id="ldap"), pytest.param("none", False, id="no-auth")],
)
def test_customer_access_is_configured_only_with_ldap(tmp_path, auth, configured):
    from stack.launcher import render_configs

    config = from_env({}, state_dir=tmp_path, auth=auth)
    render_configs(config)
    conf = dict(
        line.split(None, 1)
        for line in (tmp_path / "spark/conf/spark-defaults.conf").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    )
    assert "CustomerAccess" in conf["spark.sql.extensions"].split(",")
    access = {k: v for k, v in conf.items() if k.startswith("spark.edtrack.access.")}
    if not configured:
        assert access == {}
        return
    assert access == {
        "spark.edtrack.access.ldap.url": config.ldap_url,
        "spark.edtrack.access.ldap.bindDn": "cn=access-reader,dc=edtrack,dc=local",
        "spark.edtrack.access.ldap.passwordFile": str(config.ldap_reader_password_file),
        "spark.edtrack.access.ldap.peopleDn": "ou=people,dc=edtrack,dc=local",
        "spark.edtrack.access.ldap.customersDn": "ou=customers,dc=edtrack,dc=local",
        "spark.edtrack.access.ldap.analystsDn": "cn=analysts,ou=groups,dc=edtrack,dc=local",
    }


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        pytest.param({"auth": "kerberos"}, "Unknown auth 'kerberos'", id="unknown-auth"),
        pytest.param({"metastore": "mysql"}, "Unknown metastore 'mysql'", id="unknown-db"),
        pytest.param({"table_format": "hudi"}, "Unknown table format 'hudi'", id="unknown-format"),
    ],
)
def test_unknown_choices_are_one_sentence(tmp_path, kwargs, fragment):
    with pytest.raises(UserError, match=fragment):
        from_env({}, state_dir=tmp_path, **kwargs)


def test_a_damaged_settings_file_is_one_sentence(tmp_path: Path):
    (tmp_path / "stack.json").write_text("{not json")
    with pytest.raises(UserError, match="not valid JSON; delete it"):
        from_env({}, state_dir=tmp_path)


# --- services and commands -----------------------------------------------------------------


def test_default_stack_runs_the_five_services(tmp_path: Path):
    config = from_env({}, state_dir=tmp_path)
    assert [s.name for s in services_for(config)] == [
        "kafka",
        "namenode",
        "metastore",
        "datanode",
        "thrift",
    ]


def test_auth_and_postgres_add_their_services_before_their_users(tmp_path: Path):
    config = from_env({}, state_dir=tmp_path, auth="ldap", metastore="postgres")
    services = {s.name: s for s in services_for(config)}
    assert list(services) == [
        "kafka",
        "namenode",
        "postgres",
        "metastore",
        "datanode",
        "ldap",
        "thrift",
    ]
    assert services["metastore"].requires == ("postgres",)
    assert set(services["thrift"].requires) == {"metastore", "datanode", "ldap"}
    assert services["postgres"].leader_only  # fast shutdown of the postmaster alone


def hiveconf(cmd: list[str]) -> dict[str, str]:
    pairs = [cmd[i + 1] for i, arg in enumerate(cmd) if arg == "--hiveconf"]
    return dict(pair.split("=", 1) for pair in pairs)


def test_thrift_server_checks_logins_against_the_stacks_ldap(tmp_path: Path):
    config = from_env({"EDTRACK_PORT_OFFSET": "14000"}, state_dir=tmp_path, auth="ldap")
    conf = hiveconf(thrift.command(Stack(config)))
    assert conf["hive.server2.authentication"] == "LDAP"
    assert conf["hive.server2.authentication.ldap.url"] == "ldap://127.0.0.1:24389"
    assert conf["hive.server2.authentication.ldap.baseDN"] == "ou=people,dc=edtrack,dc=local"
    assert conf["hive.server2.thrift.bind.host"] == "127.0.0.1"


def test_thrift_server_without_auth_has_no_ldap_settings(tmp_path: Path):
    conf = hiveconf(thrift.command(Stack(from_env({}, state_dir=tmp_path))))
    assert not any("authentication" in key for key in conf)


@pytest.mark.parametrize("auth", ["none", "ldap"])
def test_thrift_server_runs_statements_as_its_own_user(tmp_path: Path, auth):
    # Impersonation closed HDFS clients the shared Hive client still used (docs/stack.md).
    conf = hiveconf(thrift.command(Stack(from_env({}, state_dir=tmp_path, auth=auth))))
    assert conf["hive.server2.enable.doAs"] == "false"


def test_postgres_listens_on_loopback_tcp_only(tmp_path: Path, fake_postgres: Path):
    config = from_env(
        {"EDTRACK_PORT_OFFSET": "14000", "EDTRACK_POSTGRES_BIN": str(fake_postgres)},
        state_dir=tmp_path,
        metastore="postgres",
    )
    cmd = postgres.command(Stack(config))
    assert cmd[0] == str(fake_postgres / "postgres")
    assert cmd[cmd.index("-D") + 1] == str(tmp_path.resolve() / "postgres" / "data")
    settings = [cmd[i + 1] for i, arg in enumerate(cmd) if arg == "-c"]
    assert "listen_addresses=127.0.0.1" in settings
    assert "port=24432" in settings
    assert "unix_socket_directories=" in settings


def test_missing_postgresql_is_one_sentence(tmp_path: Path):
    config = from_env(
        {"EDTRACK_POSTGRES_BIN": str(tmp_path / "nowhere")},
        state_dir=tmp_path,
        metastore="postgres",
    )
    with pytest.raises(UserError, match="apt-get install postgresql"):
        postgres_bin(config)


def test_slapd_listens_on_its_loopback_url(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(ldap, "find_program", lambda name: Path("/usr/sbin") / name)
    config = from_env({"EDTRACK_PORT_OFFSET": "14000"}, state_dir=tmp_path, auth="ldap")
    cmd = ldap.command(Stack(config))
    assert cmd[cmd.index("-h") + 1] == "ldap://127.0.0.1:24389/"
    assert cmd[cmd.index("-f") + 1] == str(tmp_path.resolve() / "ldap" / "slapd.conf")
    assert "-d" in cmd  # foreground: the stack tracks its pid


def test_the_postgres_jdbc_driver_is_fetched_only_for_that_metastore(tmp_path: Path):
    assert jars.poms_for(from_env({}, state_dir=tmp_path)) == ["kafka", "hdfs", "iceberg"]
    assert "postgres" in jars.poms_for(from_env({}, state_dir=tmp_path, metastore="postgres"))


# --- rendered files ------------------------------------------------------------------------


def test_postgres_metastore_config_keeps_its_password_to_the_metastore(tmp_path: Path):
    config = from_env({"EDTRACK_PORT_OFFSET": "14000"}, state_dir=tmp_path, metastore="postgres")
    render_configs(config)
    secret = password(config.postgres_password_file)
    site = tmp_path / "metastore/conf/hive-site.xml"
    props = hadoop_properties(site)
    assert props["javax.jdo.option.ConnectionURL"] == (
        "jdbc:postgresql://127.0.0.1:24432/metastore"
    )
    assert props["javax.jdo.option.ConnectionDriverName"] == "org.postgresql.Driver"
    assert props["javax.jdo.option.ConnectionPassword"] == secret
    assert props["datanucleus.schema.autoCreateAll"] == "false"
    assert stat.S_IMODE(site.stat().st_mode) == 0o600
    spark = hadoop_properties(tmp_path / "spark/conf/hive-site.xml")
    assert "javax.jdo.option.ConnectionPassword" not in spark
    assert spark["hive.metastore.uris"] == "thrift://127.0.0.1:23083"


def test_derby_metastore_config_is_unchanged(tmp_path: Path):
    render_configs(from_env({}, state_dir=tmp_path))
    props = hadoop_properties(tmp_path / "metastore/conf/hive-site.xml")
    assert props["javax.jdo.option.ConnectionDriverName"] == "org.apache.derby.jdbc.EmbeddedDriver"
    assert props["datanucleus.schema.autoCreateAll"] == "true"
    assert "javax.jdo.option.ConnectionPassword" not in props


def test_ssha_hashes_check_only_the_right_password():
    hashed = ldap.ssha("correct horse")
    assert hashed.startswith("{SSHA}")
    assert ldap.check_ssha("correct horse", hashed)
    assert not ldap.check_ssha("correct hors", hashed)
    assert ldap.ssha("correct horse") != hashed  # salted


def test_slapd_config_keeps_its_database_in_the_state_dir(tmp_path: Path):
    config = from_env({}, state_dir=tmp_path, auth="ldap")
    text = ldap.slapd_conf(config, "{SSHA}x")
    assert f"directory {tmp_path.resolve() / 'ldap' / 'data'}" in text
    assert 'suffix "dc=edtrack,dc=local"' in text
    assert "disallow bind_anon" in text
    assert "by anonymous auth" in text  # passwords can be checked, never read


def test_seed_has_the_organisation_people_and_the_user(tmp_path: Path):
    config = from_env({}, state_dir=tmp_path, auth="ldap")
    ldif = ldap.seed_ldif(config, "{SSHA}hash")
    dns = [line.split(": ", 1)[1] for line in ldif.splitlines() if line.startswith("dn: ")]
    assert dns == [
        "dc=edtrack,dc=local",
        "ou=people,dc=edtrack,dc=local",
        "uid=edtrack,ou=people,dc=edtrack,dc=local",
    ]
    assert "userPassword: {SSHA}hash" in ldif


def test_generated_passwords_are_private_stable_and_unpadded(tmp_path: Path):
    path = tmp_path / "ldap" / "edtrack.password"
    first = password(path)
    assert password(path) == first
    assert len(first) == 24 and "\n" not in path.read_text()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert password(tmp_path / "other.password") != first


def test_write_private_tightens_an_existing_file(tmp_path: Path):
    path = tmp_path / "conf"
    path.write_text("old")
    path.chmod(0o644)
    write_private(path, "new")
    assert path.read_text() == "new"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


# --- clients -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        pytest.param({}, sql.Login("edtrack", None), id="nothing-set"),
        pytest.param({"EDTRACK_PASSWORD": ""}, sql.Login("edtrack", None), id="empty-password"),
        pytest.param(
            {"EDTRACK_USER": "ana", "EDTRACK_PASSWORD": "pw"}, sql.Login("ana", "pw"), id="both"
        ),
    ],
)
def test_login_comes_from_the_environment(env, expected):
    assert sql.Login.from_env(env) == expected


def test_a_missing_password_for_an_ldap_stack_is_one_sentence():
    with pytest.raises(UserError, match="requires an LDAP login: set EDTRACK_USER and"):
        sql.connect("127.0.0.1", 1, "edtrack", None, require_password=True)


def test_a_refused_login_is_told_apart_from_a_stopped_server(monkeypatch):
    from pyhive import hive
    from thrift.transport.TTransport import TTransportException

    def refuse(**_):
        raise TTransportException(message="Bad status: 3 (b'Error validating the login')")

    monkeypatch.setattr(hive, "connect", refuse)
    with pytest.raises(UserError, match="rejected the login of 'ana'") as caught:
        sql.connect("127.0.0.1", 10000, "ana", "wrong")
    assert caught.type is UserError  # not ServiceUnavailable: the server is up


def render_profile(env: dict[str, str], target: str) -> dict[str, object]:
    """The dbt profile's login fields, rendered by dbt's own profile renderer."""
    from argparse import Namespace

    from dbt.config.renderer import ProfileRenderer
    from dbt.flags import set_from_args
    from dbt_common.context import set_invocation_context

    set_from_args(Namespace(), None)
    set_invocation_context(env)
    output = yaml.safe_load(PROFILES.read_text())["edtrack"]["outputs"][target]
    renderer = ProfileRenderer({})
    keys = ("user", "password", "auth", "host", "port", "query_timeout")
    return {key: renderer.render_value(output[key]) for key in keys if key in output}


@pytest.mark.parametrize("target", ["local", "ci", "cluster"])
def test_dbt_profiles_log_in_through_ldap_only_with_a_password(target):
    login = ("user", "password", "auth")
    rendered = render_profile({"DBT_THRIFT_HOST": "h"}, target)
    assert {k: rendered[k] for k in login} == {"user": "edtrack", "password": None, "auth": "NONE"}
    with_login = render_profile(
        {"EDTRACK_USER": "ana", "EDTRACK_PASSWORD": "0123", "DBT_THRIFT_HOST": "h"}, target
    )
    assert {k: with_login[k] for k in login} == {"user": "ana", "password": "0123", "auth": "LDAP"}


def test_stack_env_exports_the_login_without_printing_the_password(tmp_path: Path):
    config = from_env({}, state_dir=tmp_path, auth="ldap")
    save_settings(config)
    secret = password(config.ldap_password_file)
    result = CliRunner().invoke(main, ["--state-dir", str(tmp_path), "stack", "env"])
    assert result.exit_code == 0, result.output
    assert "export EDTRACK_USER=edtrack" in result.output
    assert f"export EDTRACK_PASSWORD=\"$(cat '{config.ldap_password_file}')\"" in result.output
    assert secret not in result.output


def test_status_of_a_stopped_ldap_stack_still_says_auth_is_on(tmp_path: Path):
    save_settings(from_env({}, state_dir=tmp_path, auth="ldap", metastore="postgres"))
    result = CliRunner().invoke(
        main, ["--state-dir", str(tmp_path), "--port-offset", "11000", "stack", "status"]
    )
    assert result.exit_code == 1  # nothing runs
    assert "auth: LDAP (ldap://127.0.0.1:21389, users uid=<user>,ou=people," in result.output
    assert "metastore: PostgreSQL (jdbc:postgresql://127.0.0.1:21432/metastore)" in result.output
    assert result.output.count("not running") == 7


@pytest.mark.parametrize(
    ("env", "target", "port"),
    [
        pytest.param({}, "local", 10000, id="default"),
        pytest.param({"EDTRACK_PORT_OFFSET": "3000"}, "local", 13000, id="edtrack-offset"),
        pytest.param({"EDTRACK_THRIFT_PORT": "10123"}, "local", 10123, id="edtrack-port"),
        pytest.param(
            {"EDTRACK_PORT_OFFSET": "3000", "DBT_THRIFT_PORT": "10555"},
            "local",
            10555,
            id="dbt-wins",
        ),
        pytest.param({}, "ci", 30000, id="ci-default"),
        pytest.param({"EDTRACK_PORT_OFFSET": "20500"}, "ci", 30500, id="ci-offset"),
    ],
)
def test_dbt_finds_the_thrift_port_from_the_same_settings_as_edtrack(env, target, port):
    assert render_profile(env, target)["port"] == port
    if target == "local" and "DBT_THRIFT_PORT" not in env:  # DBT_THRIFT_PORT: dbt's alone
        assert from_env(env).ports["thrift"] == port


@pytest.mark.parametrize(
    ("env", "timeout"),
    [pytest.param({}, None, id="unset"), pytest.param({"DBT_QUERY_TIMEOUT": "30"}, 30, id="30s")],
)
def test_dbt_query_timeout_comes_from_the_environment(env, timeout):
    assert render_profile(env, "local")["query_timeout"] == timeout


def test_any_service_of_the_stack_can_be_named_and_only_those(tmp_path: Path):
    from stack.services import ALL_SERVICES

    secured = Stack(from_env({}, state_dir=tmp_path, auth="ldap"))
    assert secured._service("ldap").name == "ldap"  # killable and restartable by name
    plain = Stack(from_env({}, state_dir=tmp_path / "plain"))
    with pytest.raises(UserError) as unknown:
        plain._service("ldap")
    assert str(unknown.value) == (
        "This stack has no service 'ldap'; its services: kafka, namenode, metastore, "
        "datanode, thrift."
    )
    assert {s.port_name for s in ALL_SERVICES} <= set(DEFAULT_PORTS)


def test_every_enabled_service_prepares_once_in_start_order(tmp_path: Path, monkeypatch):
    import dataclasses

    from stack import services

    stack = Stack(from_env({}, state_dir=tmp_path, auth="ldap", metastore="postgres"))
    done: list[str] = []
    recording = tuple(
        dataclasses.replace(s, prepare=lambda rt, name=s.name: done.append(name))
        if s.prepare
        else s
        for s in services.ALL_SERVICES
    )
    monkeypatch.setattr(services, "ALL_SERVICES", recording)
    monkeypatch.setattr(jars, "fetch", lambda *args: None)
    monkeypatch.setattr("stack.launcher.find_java", lambda config: Path("/usr"))
    monkeypatch.setattr(
        "stack.services.metastore.database_password", lambda config: {}
    )  # no PostgreSQL password file needed to render
    stack.prepare()
    assert done == ["kafka", "namenode", "postgres", "ldap", "thrift"]


# --- TLS on the Thrift Server (--tls) ------------------------------------------------------


@pytest.mark.parametrize(
    ("flag", "env", "kept", "expected"),
    [
        (None, {}, None, False),
        (True, {"EDTRACK_TLS": "off"}, None, True),
        (None, {"EDTRACK_TLS": "on"}, None, True),
        (None, {}, True, True),
        (None, {"EDTRACK_TLS": "false"}, True, False),
    ],
)
def test_tls_comes_from_flag_then_env_then_the_last_up(tmp_path, flag, env, kept, expected):
    if kept is not None:
        save_settings(from_env({}, state_dir=tmp_path, tls=kept))
    assert from_env(env, state_dir=tmp_path, tls=flag).tls is expected


def test_a_tls_switch_that_is_neither_on_nor_off_is_one_sentence(tmp_path: Path):
    with pytest.raises(UserError, match="EDTRACK_TLS must be on or off, not 'yes please'"):
        from_env({"EDTRACK_TLS": "yes please"}, state_dir=tmp_path)


def test_thrift_server_with_tls_reads_its_keystore_and_keeps_the_password_private(
    tmp_path: Path,
):
    config = from_env({}, state_dir=tmp_path, tls=True)
    conf = hiveconf(thrift.command(Stack(config)))
    assert conf["hive.server2.use.SSL"] == "true"
    assert conf["hive.server2.keystore.path"] == str(config.tls_keystore)
    assert not any("password" in key for key in conf)  # not on the command line
    render_configs(config)
    site = tmp_path / "spark/conf/hive-site.xml"
    props = hadoop_properties(site)
    assert props["hive.server2.keystore.password"] == password(config.tls_password_file)
    assert stat.S_IMODE(site.stat().st_mode) == 0o600
    metastore = hadoop_properties(tmp_path / "metastore/conf/hive-site.xml")
    assert "hive.server2.keystore.password" not in metastore


def test_thrift_server_without_tls_has_no_ssl_settings(tmp_path: Path):
    config = from_env({}, state_dir=tmp_path)
    assert not any(
        "SSL" in key or "keystore" in key for key in hiveconf(thrift.command(Stack(config)))
    )
    render_configs(config)
    assert "hive.server2.keystore.password" not in hadoop_properties(
        tmp_path / "spark/conf/hive-site.xml"
    )


def test_a_tls_stack_names_its_certificate_to_clients_once_it_is_made(tmp_path: Path):
    config = from_env({}, state_dir=tmp_path, tls=True)
    assert "thrift.ssl_cafile" not in config.endpoint_defaults()
    config.tls_dir.mkdir()
    config.tls_cert_file.write_text("-----BEGIN CERTIFICATE-----\n")
    assert config.endpoint_defaults()["thrift.ssl_cafile"] == str(config.tls_cert_file)
    assert config.client_env()["EDTRACK_THRIFT_SSL_CAFILE"] == str(config.tls_cert_file)
    plain = from_env({}, state_dir=tmp_path / "plain")
    assert "thrift.ssl_cafile" not in plain.endpoint_defaults()
    assert "EDTRACK_THRIFT_SSL_CAFILE" not in plain.client_env()


@pytest.mark.parametrize("target", ["local", "ci", "cluster"])
def test_dbt_profiles_use_tls_exactly_when_a_ca_file_is_named(target):
    from argparse import Namespace

    from dbt.config.renderer import ProfileRenderer
    from dbt.flags import set_from_args
    from dbt_common.context import set_invocation_context

    output = yaml.safe_load(PROFILES.read_text())["edtrack"]["outputs"][target]
    set_from_args(Namespace(), None)
    rendered = []
    for env in ({}, {"EDTRACK_THRIFT_SSL_CAFILE": "/etc/ca.pem"}):
        set_invocation_context({"DBT_THRIFT_HOST": "h", **env})
        rendered.append(ProfileRenderer({}).render_value(output["use_ssl"]))
    assert rendered == [False, True]


def _failing_open(exc: Exception):
    def open_hive(*_args, **_kwargs):
        raise exc

    return open_hive


def test_tls_refusals_are_one_sentence_each(monkeypatch):
    import ssl

    from thrift.transport.TTransport import TTransportException

    # thrift reports a failed handshake as "Could not connect"; a handshake of its own
    # (_tls_failure) tells why.
    failed = TTransportException(message="Could not connect to any of [('127.0.0.1', 10000)]")
    monkeypatch.setattr(sql, "open_hive", _failing_open(failed))
    untrusted = ssl.SSLCertVerificationError(1, "certificate verify failed")
    untrusted.verify_message = "self-signed certificate"
    monkeypatch.setattr(sql, "_tls_failure", lambda *args: untrusted)
    with pytest.raises(UserError, match=r"thrift.ssl_cafile \(/etc/ca.pem\) does not vouch"):
        sql.connect("127.0.0.1", 10000, ssl_cafile="/etc/ca.pem")

    plain = ssl.SSLError(1, "wrong version number")
    plain.reason = "WRONG_VERSION_NUMBER"
    monkeypatch.setattr(sql, "_tls_failure", lambda *args: plain)
    with pytest.raises(UserError, match=r"did not answer over TLS \(WRONG_VERSION_NUMBER\)"):
        sql.connect("127.0.0.1", 10000, ssl_cafile="/etc/ca.pem")

    monkeypatch.setattr(sql, "_tls_failure", lambda *args: None)  # no server at all
    with pytest.raises(UserError, match="is not answering") as caught:
        sql.connect("127.0.0.1", 10000, ssl_cafile="/etc/ca.pem")
    assert caught.value.setting == "thrift.host"

    closed = TTransportException(message="TSocket read 0 bytes")
    monkeypatch.setattr(sql, "open_hive", _failing_open(closed))
    with pytest.raises(UserError, match="if it uses TLS, set thrift.ssl_cafile"):
        sql.connect("127.0.0.1", 10000)

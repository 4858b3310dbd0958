"""The Spark Thrift Server (HiveServer2 protocol): the warehouse's SQL endpoint for
clients and dbt, Spark in ``local[2]`` inside it, or, on a stack of several nodes, the
driver of executors on the standalone cluster's workers (``spark``)."""

from __future__ import annotations

import os

from core.net import port_open
from stack import jars, tls
from stack.config import StackConfig
from stack.secrets_file import password
from stack.services import hdfs, spark
from stack.services.base import JAVA_SOURCES, Runtime, Service, Unhealthy, find_java, spark_home


def command(rt: Runtime) -> list[str]:
    config = rt.config
    if config.table_format == "iceberg":
        # The session catalog class of spark-defaults.conf (see its source).
        jars.compile_java(
            JAVA_SOURCES / "IcebergSessionCatalog.java",
            os.pathsep.join(
                [str(spark_home() / "jars" / "*"), str(config.jars_dir / "iceberg" / "*")]
            ),
            config.cache_dir / "classes",
            find_java(config),
        )
    # Per-customer access, an extension of every stack (it allows everything unless
    # spark-defaults.conf configures it, as --auth ldap does).
    jars.compile_java(
        JAVA_SOURCES / "CustomerAccess.java",
        str(spark_home() / "jars" / "*"),
        config.cache_dir / "classes",
        find_java(config),
    )
    hiveconf = {
        "hive.server2.thrift.bind.host": config.host,
        "hive.server2.thrift.port": str(config.ports["thrift"]),
        # Statements run as the server's user, not as a proxy of the session's user.
        # With Hive's default (true), closing a session closes the HDFS clients of its
        # user, and the metastore client's shared state keeps one of them: every later
        # write to a Hive serde table (dbt-spark's default format) fails with
        # "Filesystem closed". Spark's executors never ran as the session user anyway.
        # See docs/stack.md.
        "hive.server2.enable.doAs": "false",
    }
    if config.auth == "ldap":
        # Spark 3.5's HiveServer2 binds to the directory as uid=<user>,<baseDN> with
        # the client's password (SASL PLAIN); a blank password is refused before that.
        hiveconf |= {
            "hive.server2.authentication": "LDAP",
            "hive.server2.authentication.ldap.url": config.ldap_url,
            "hive.server2.authentication.ldap.baseDN": config.ldap_people_dn,
            # The protocol's metadata calls (GetTables, GetColumns) ask this plugin, with
            # the session's login, before they list anything (CustomerAccess.java).
            "hive.security.authorization.enabled": "true",
            "hive.security.authorization.manager": "CustomerAccess$AuthorizerFactory",
            "hive.security.authenticator.manager": (
                "org.apache.hadoop.hive.ql.security.SessionStateUserAuthenticator"
            ),
        }
    if config.tls:
        # The keystore's password is in the Thrift Server's own hive-site.xml (owner-only,
        # config_secrets below), not on its command line.
        hiveconf |= {
            "hive.server2.use.SSL": "true",
            "hive.server2.keystore.path": str(config.tls_keystore),
        }
    args = [arg for key, value in hiveconf.items() for arg in ("--hiveconf", f"{key}={value}")]
    return [
        str(spark_home() / "bin" / "spark-submit"),
        "--class",
        "org.apache.spark.sql.hive.thriftserver.HiveThriftServer2",
        "--name",
        "edtrack-thrift-server",
        *args,
    ]


def thrift_login(config: StackConfig) -> dict[str, object]:
    """How the stack's own checks log in: the seeded LDAP user when auth is on, over TLS
    when the stack has it."""
    login: dict[str, object] = {"username": "edtrack"}
    if config.auth == "ldap":
        login = {"username": config.ldap_user, "password": password(config.ldap_password_file)}
    if config.tls:
        login["ssl_cafile"] = config.tls_cert_file
    return login


def prepare(rt: Runtime) -> None:
    if rt.config.tls:
        tls.ensure_certificate(rt.config, find_java(rt.config))


def keystore_password(config: StackConfig) -> dict[str, object]:
    if not config.tls:
        return {}
    return {"thrift_keystore_password": password(config.tls_password_file)}


def check(config: StackConfig) -> None:
    """``select 1`` over HiveServer2 returns 1."""
    from core.sql import open_hive

    if not port_open(config.host, config.ports["thrift"]):
        raise Unhealthy(f"nothing listens on {config.host}:{config.ports['thrift']}")
    try:
        conn = open_hive(config.host, config.ports["thrift"], **thrift_login(config))
        try:
            cursor = conn.cursor()
            cursor.execute("select 1")
            rows = cursor.fetchall()
        finally:
            conn.close()
    except Exception as exc:
        raise Unhealthy(f"select 1 failed: {exc}") from exc
    if rows != [(1,)]:
        raise Unhealthy(f"select 1 returned {rows!r}")


SERVICE = Service(
    "thrift",
    check,
    command,
    needs=lambda config: (
        ("metastore", *hdfs.datanode_names(config))
        + (("ldap",) if config.auth == "ldap" else ())
        + (("spark-master", *spark.worker_names(config)) if config.nodes > 1 else ())
    ),
    config_secrets=keystore_password,
    prepare=prepare,
    configs=(
        ("spark-defaults.conf.j2", "spark/conf/spark-defaults.conf"),
        ("hive-site.xml.j2", "spark/conf/hive-site.xml"),
        ("core-site.xml.j2", "spark/conf/core-site.xml"),
        ("spark-log4j2.properties.j2", "spark/conf/log4j2.properties"),
        ("spark-fairscheduler.xml.j2", "spark/conf/fairscheduler.xml"),
    ),
)

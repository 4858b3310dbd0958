"""The Hive metastore: Spark's own Hive 2.3 metastore server (``LoopbackMetastore``),
its tables in embedded Derby or in the stack's PostgreSQL."""

from __future__ import annotations

import os
import zipfile

from core.net import port_open
from stack import jars
from stack.config import StackConfig
from stack.secrets_file import password, write_private
from stack.services import postgres
from stack.services.base import JAVA_SOURCES, Runtime, Service, Unhealthy, find_java, spark_home


def command(rt: Runtime) -> list[str]:
    config = rt.config
    mdir = config.service_dir("metastore")
    spark_jars = str(spark_home() / "jars" / "*")
    classes = jars.compile_java(
        JAVA_SOURCES / "LoopbackMetastore.java",
        spark_jars,
        config.cache_dir / "classes",
        find_java(config),
    )
    parts = [str(mdir / "conf"), str(classes), spark_jars]
    if config.metastore_db == "postgres":
        parts.append(str(config.jars_dir / "postgres" / "*"))  # the JDBC driver
    return [
        rt.java(),
        *rt.jvm_opts(config.metastore_heap),
        f"-Dderby.system.home={mdir}",
        f"-Dlog4j2.configurationFile={mdir / 'conf' / 'log4j2.properties'}",
        "-cp",
        os.pathsep.join(parts),
        "LoopbackMetastore",
        config.host,
        str(config.ports["metastore"]),
    ]


def database_password(config: StackConfig) -> dict[str, object]:
    """Only the metastore talks to its database: only its copy of hive-site.xml carries
    the password (and only its owner may read it)."""
    if config.metastore_db != "postgres":
        return {}
    return {"metastore_db_password": password(config.postgres_password_file)}


def create_schema(rt: Runtime) -> None:
    """The metastore's database and tables on PostgreSQL, created once.

    The metastore itself runs with auto-create off (creating tables on first use
    deadlocked on PostgreSQL); DataNucleus' SchemaTool creates every table of Hive's
    ``package.jdo`` up front instead.
    """
    config = rt.config
    if config.metastore_db != "postgres":
        return
    exists = postgres.setup_statement(
        config, "postgres", "select 1 from pg_database where datname = 'metastore'"
    )
    if not exists:
        postgres.setup_statement(config, "postgres", "create database metastore")
    created = """select to_regclass('public."DBS"') is not null"""
    if postgres.setup_statement(config, "metastore", created) == "t":
        return
    rt.log("creating the metastore schema on PostgreSQL (once)")
    mdir = config.service_dir("metastore")
    spark_jars = spark_home() / "jars"
    metastore_jar = next(spark_jars.glob("hive-metastore-*.jar"))
    with zipfile.ZipFile(metastore_jar) as jar:
        (mdir / "package.jdo").write_bytes(jar.read("package.jdo"))
    props = mdir / "schematool.properties"
    write_private(
        props,
        "\n".join(
            [
                "javax.jdo.PersistenceManagerFactoryClass="
                "org.datanucleus.api.jdo.JDOPersistenceManagerFactory",
                f"javax.jdo.option.ConnectionURL={config.metastore_jdbc_url}",
                "javax.jdo.option.ConnectionDriverName=org.postgresql.Driver",
                f"javax.jdo.option.ConnectionUserName={config.postgres_user}",
                "javax.jdo.option.ConnectionPassword=" + password(config.postgres_password_file),
                # Hive's own DataNucleus settings, so names match what it expects
                "datanucleus.identifierFactory=datanucleus1",
                "datanucleus.rdbms.useLegacyNativeValueStrategy=true",
                "datanucleus.storeManagerType=rdbms",
                "",
            ]
        ),
    )
    classpath = os.pathsep.join([str(spark_jars / "*"), str(config.jars_dir / "postgres" / "*")])
    rt.run_once(
        "metastore-schematool",
        [
            rt.java(),
            *rt.jvm_opts(config.metastore_heap),
            "-cp",
            classpath,
            "org.datanucleus.store.schema.SchemaTool",
            "-create",
            "-api",
            "JDO",
            "-props",
            str(props),
            str(mdir / "package.jdo"),
        ],
    )


def metastore_databases(host: str, port: int, timeout_s: float = 10.0) -> list[str]:
    """Call the metastore's ``get_all_databases`` over its Thrift binary protocol."""
    from thrift.protocol import TBinaryProtocol
    from thrift.Thrift import TApplicationException, TMessageType, TType
    from thrift.transport import TSocket, TTransport

    sock = TSocket.TSocket(host, port)
    sock.setTimeout(int(timeout_s * 1000))
    transport = TTransport.TBufferedTransport(sock)
    proto = TBinaryProtocol.TBinaryProtocol(transport)
    transport.open()
    try:
        proto.writeMessageBegin("get_all_databases", TMessageType.CALL, 1)
        proto.writeStructBegin("get_all_databases_args")
        proto.writeFieldStop()
        proto.writeStructEnd()
        proto.writeMessageEnd()
        transport.flush()
        _, mtype, _ = proto.readMessageBegin()
        if mtype == TMessageType.EXCEPTION:
            error = TApplicationException()
            error.read(proto)
            raise Unhealthy(f"metastore error: {error.message}")
        databases: list[str] = []
        proto.readStructBegin()
        while True:
            _, ftype, fid = proto.readFieldBegin()
            if ftype == TType.STOP:
                break
            if fid == 0 and ftype == TType.LIST:
                _, size = proto.readListBegin()
                databases = [proto.readString() for _ in range(size)]
                proto.readListEnd()
            elif fid == 1:
                proto.skip(ftype)
                raise Unhealthy("metastore answered with a MetaException")
            else:
                proto.skip(ftype)
            proto.readFieldEnd()
        proto.readStructEnd()
        proto.readMessageEnd()
        return databases
    finally:
        transport.close()


def check(config: StackConfig) -> None:
    """The metastore lists its databases (``default`` always exists)."""
    if not port_open(config.host, config.ports["metastore"]):
        raise Unhealthy(f"nothing listens on {config.metastore_uri}")
    try:
        databases = metastore_databases(config.host, config.ports["metastore"])
    except Unhealthy:
        raise
    except Exception as exc:
        raise Unhealthy(f"metastore call failed: {exc}") from exc
    if "default" not in databases:
        raise Unhealthy(f"metastore lists no 'default' database: {databases}")


SERVICE = Service(
    "metastore",
    check,
    command,
    needs=lambda config: ("postgres",) if config.metastore_db == "postgres" else (),
    configs=(
        ("hive-site.xml.j2", "metastore/conf/hive-site.xml"),
        ("core-site.xml.j2", "metastore/conf/core-site.xml"),
        ("spark-log4j2.properties.j2", "metastore/conf/log4j2.properties"),
    ),
    config_secrets=database_password,
    before_start=create_schema,
)

"""The local single-machine stack: Kafka, HDFS, Hive metastore, Spark Thrift Server.

``up`` fetches jars (once), renders configuration into the state dir, formats data
directories (once), starts each service detached and waits until its health check
passes. ``down`` stops exactly the processes that ``up`` recorded; ``status`` runs
every health check. Everything binds to ``config.host`` (127.0.0.1 by default).

Two choices add services: ``auth="ldap"`` runs the stack's own LDAP directory (slapd)
and makes the Thrift Server check every login against it; ``metastore_db="postgres"``
runs the stack's own PostgreSQL cluster and puts the metastore's tables there (schema
created once, by DataNucleus' SchemaTool). ``up`` records both in ``stack.json``.
"""

from __future__ import annotations

import base64
import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import psutil
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from core.errors import UserError
from stack import health, jars, ldap, process
from stack.config import DEFAULT_PORTS, StackConfig, load_ports, load_settings, save_settings
from stack.postgres import postgres_bin, postgres_os_user
from stack.secrets_file import password, write_private

TEMPLATES = Path(__file__).resolve().parent / "templates"
JAVA_SOURCES = Path(__file__).resolve().parent / "java"
LOG_TAIL_LINES = 25

Log = Callable[[str], None]


def _always(config: StackConfig) -> bool:
    return True


def _nothing(config: StackConfig) -> tuple[str, ...]:
    return ()


def _ourselves() -> str | None:
    return None


@dataclass(frozen=True)
class Service:
    """One service of the stack, declared whole: what enables it, what it waits for, its
    one-time preparation, its command and health check, its port, how it stops.
    :data:`ALL_SERVICES` lists them in start order; nothing else names a service."""

    name: str
    check: Callable[[StackConfig], None]  # raises health.Unhealthy
    command: Callable[[Stack], list[str]]
    enabled: Callable[[StackConfig], bool] = _always
    # The services it waits for (healthy) before it starts, for a configuration.
    needs: Callable[[StackConfig], tuple[str, ...]] = _nothing
    # Once per `up`, before any service starts (formatting, seeding); idempotent.
    prepare: Callable[[Stack], None] | None = None
    # Each time it starts, once what it needs is healthy.
    before_start: Callable[[Stack], None] | None = None
    os_user: Callable[[], str | None] = _ourselves  # None: the user running the stack
    # PostgreSQL: SIGINT to the postmaster alone is its "fast shutdown"; a signal to
    # every process of its group could kill a helper first and force crash recovery.
    stop_signal: int = signal.SIGTERM
    leader_only: bool = False
    requires: tuple[str, ...] = ()  # ``needs`` for the configuration: set by services_for

    @property
    def port_name(self) -> str:
        return self.name


def _metastore_schema(stack: Stack) -> None:
    if stack.config.metastore_db == "postgres":
        stack._create_metastore_schema()


# Every service any configuration may run, in start order.
ALL_SERVICES: tuple[Service, ...] = (
    Service(
        "kafka",
        health.kafka,
        lambda stack: stack.kafka_cmd(
            "kafka.Kafka", str(stack.config.service_dir("kafka") / "server.properties")
        ),
        prepare=lambda stack: stack._format_kafka(),
    ),
    Service(
        "namenode",
        health.namenode,
        lambda stack: stack.hdfs_cmd("org.apache.hadoop.hdfs.server.namenode.NameNode"),
        prepare=lambda stack: stack._format_namenode(),
    ),
    Service(
        "postgres",
        health.postgres,
        lambda stack: stack.postgres_cmd(),
        enabled=lambda config: config.metastore_db == "postgres",
        prepare=lambda stack: stack._init_postgres(),
        os_user=postgres_os_user,
        stop_signal=signal.SIGINT,
        leader_only=True,
    ),
    Service(
        "metastore",
        health.metastore,
        lambda stack: stack.metastore_cmd(),
        needs=lambda config: ("postgres",) if config.metastore_db == "postgres" else (),
        before_start=_metastore_schema,
    ),
    Service(
        "datanode",
        health.datanode,
        lambda stack: stack.hdfs_cmd("org.apache.hadoop.hdfs.server.datanode.DataNode"),
        needs=lambda config: ("namenode",),
    ),
    Service(
        "ldap",
        health.ldap,
        lambda stack: stack.ldap_cmd(),
        enabled=lambda config: config.auth == "ldap",
        prepare=lambda stack: stack._init_ldap(),
    ),
    Service(
        "thrift",
        health.thrift,
        lambda stack: stack.thrift_cmd(),
        needs=lambda config: ("metastore", "datanode")
        + (("ldap",) if config.auth == "ldap" else ()),
    ),
)
SERVICE_NAMES = tuple(s.name for s in ALL_SERVICES)


def services_for(config: StackConfig) -> tuple[Service, ...]:
    """The services ``config`` runs, in start order, each with what it waits for."""
    return tuple(
        replace(service, requires=service.needs(config))
        for service in ALL_SERVICES
        if service.enabled(config)
    )


def spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).resolve().parent


def find_java(config: StackConfig) -> Path:
    """JAVA_HOME of a Java 17+ runtime, or one clear sentence on what to install."""
    if config.java_home is not None:
        java = config.java_home / "bin" / "java"
        if java.exists():
            return config.java_home
        raise UserError(f"JAVA_HOME={config.java_home} has no bin/java: point it at a Java 17 JDK.")
    found = shutil.which("java")
    if found is None:
        raise UserError(
            "Java 17 is needed to run the stack and none is on PATH: install it "
            "(apt-get install openjdk-17-jdk-headless) or set JAVA_HOME."
        )
    return Path(os.path.realpath(found)).parent.parent


# --- configuration rendering ----------------------------------------------------------


def template_context(config: StackConfig) -> dict[str, object]:
    return {
        "host": config.host,
        "ports": dict(config.ports),
        "hdfs_url": config.hdfs_url,
        "metastore_uri": config.metastore_uri,
        "warehouse_dir": config.warehouse_dir,
        "hdfs_dir": str(config.service_dir("hdfs")),
        "metastore_dir": str(config.service_dir("metastore")),
        "spark_dir": str(config.service_dir("spark")),
        "data_dir": str(config.service_dir("kafka") / "data"),
        "driver_memory": config.thrift_driver_memory,
        "shuffle_partitions": config.spark_shuffle_partitions,
        "query_timeout_s": config.query_timeout_s,
        "metastore_db": config.metastore_db,
        "table_format": config.table_format,
        "format_jars": str(config.jars_dir / config.table_format / "*"),
        "classes_dir": str(config.cache_dir / "classes"),
        "metastore_jdbc_url": config.metastore_jdbc_url,
        "metastore_db_user": config.postgres_user,
        # Filled in for the metastore's own copy of hive-site.xml only (see below).
        "metastore_db_password": None,
    }


# (template, destination relative to the state dir)
RENDERED = (
    ("kafka-server.properties.j2", "kafka/server.properties"),
    ("kafka-log4j2.properties.j2", "kafka/log4j2.properties"),
    ("core-site.xml.j2", "hdfs/conf/core-site.xml"),
    ("hdfs-site.xml.j2", "hdfs/conf/hdfs-site.xml"),
    ("hadoop-log4j.properties.j2", "hdfs/conf/log4j.properties"),
    ("hive-site.xml.j2", "metastore/conf/hive-site.xml"),
    ("core-site.xml.j2", "metastore/conf/core-site.xml"),
    ("spark-log4j2.properties.j2", "metastore/conf/log4j2.properties"),
    ("spark-defaults.conf.j2", "spark/conf/spark-defaults.conf"),
    ("hive-site.xml.j2", "spark/conf/hive-site.xml"),
    ("core-site.xml.j2", "spark/conf/core-site.xml"),
    ("spark-log4j2.properties.j2", "spark/conf/log4j2.properties"),
)


METASTORE_SITE = "metastore/conf/hive-site.xml"


def render_configs(config: StackConfig) -> list[Path]:
    """Write every service's configuration into the state dir; return the paths."""
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )
    context = template_context(config)
    written = []
    for template, relative in RENDERED:
        target = config.state_dir / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        extra = {}
        if relative == METASTORE_SITE and config.metastore_db == "postgres":
            # Only the metastore service talks to its database: only its copy of
            # hive-site.xml carries the password, and only its owner may read it.
            extra["metastore_db_password"] = password(config.postgres_password_file)
        text = env.get_template(template).render(**{**context, **extra})
        if extra:
            write_private(target, text)
        else:
            target.write_text(text)
        written.append(target)
    _write_webapps(config.service_dir("hdfs") / "webapps")
    return written


def _write_webapps(root: Path) -> None:
    # Hadoop's Maven jars carry no webapps/ folder (only the binary tarball does), but
    # the NameNode and DataNode HTTP servers (WebHDFS, /jmx) refuse to start without it.
    for app in ("hdfs", "datanode", "secondary", "static"):
        (root / app / "WEB-INF").mkdir(parents=True, exist_ok=True)
        (root / app / "WEB-INF" / "web.xml").write_text(
            '<?xml version="1.0"?>\n<web-app version="2.5" '
            'xmlns="http://java.sun.com/xml/ns/javaee"/>\n'
        )
    (root / "hdfs" / "index.html").write_text(
        "<html><body><h1>edtrack local HDFS</h1><p>WebHDFS: <a href='/webhdfs/v1/?op=LISTSTATUS'>"
        "/webhdfs/v1</a>, metrics: <a href='/jmx'>/jmx</a>.</p></body></html>\n"
    )


# --- commands -------------------------------------------------------------------------


def kafka_cluster_id() -> str:
    """A Kafka cluster id: 16 random bytes, URL-safe base64 without padding."""
    return base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("=")


class Stack:
    def __init__(self, config: StackConfig, log: Log = print) -> None:
        self.config = config
        self.log = log

    # .. command lines ..................................................................
    def _java(self) -> str:
        return str(find_java(self.config) / "bin" / "java")

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["JAVA_HOME"] = str(find_java(self.config))
        env["SPARK_HOME"] = str(spark_home())
        env["SPARK_CONF_DIR"] = str(self.config.service_dir("spark") / "conf")
        env["HADOOP_CONF_DIR"] = str(self.config.service_dir("hdfs") / "conf")
        env["SPARK_LOCAL_IP"] = self.config.host
        env["TZ"] = "UTC"
        return env

    def _jvm_opts(self, heap: str) -> list[str]:
        return [
            f"-Xmx{heap}",
            "-Xms64m",
            "-XX:+UseSerialGC",
            "-Duser.timezone=UTC",
            "-Djava.net.preferIPv4Stack=true",
        ]

    def kafka_cmd(self, *args: str) -> list[str]:
        kdir = self.config.service_dir("kafka")
        return [
            self._java(),
            *self._jvm_opts(self.config.kafka_heap),
            f"-Dlog4j2.configurationFile={kdir / 'log4j2.properties'}",
            "-cp",
            str(self.config.jars_dir / "kafka" / "*"),
            *args,
        ]

    def hdfs_cmd(self, main: str, *args: str) -> list[str]:
        hdir = self.config.service_dir("hdfs")
        classpath = os.pathsep.join(
            [str(hdir / "conf"), str(hdir), str(self.config.jars_dir / "hdfs" / "*")]
        )
        return [
            self._java(),
            *self._jvm_opts(self.config.hdfs_heap),
            f"-Dhadoop.home.dir={hdir}",
            f"-Dhadoop.log.dir={self.config.logs_dir}",
            "-cp",
            classpath,
            main,
            *args,
        ]

    def metastore_cmd(self) -> list[str]:
        mdir = self.config.service_dir("metastore")
        spark_jars = str(spark_home() / "jars" / "*")
        classes = jars.compile_java(
            JAVA_SOURCES / "LoopbackMetastore.java",
            spark_jars,
            self.config.cache_dir / "classes",
            find_java(self.config),
        )
        parts = [str(mdir / "conf"), str(classes), spark_jars]
        if self.config.metastore_db == "postgres":
            parts.append(str(self.config.jars_dir / "postgres" / "*"))  # the JDBC driver
        classpath = os.pathsep.join(parts)
        return [
            self._java(),
            *self._jvm_opts(self.config.metastore_heap),
            f"-Dderby.system.home={mdir}",
            f"-Dlog4j2.configurationFile={mdir / 'conf' / 'log4j2.properties'}",
            "-cp",
            classpath,
            "LoopbackMetastore",
            self.config.host,
            str(self.config.ports["metastore"]),
        ]

    def thrift_cmd(self) -> list[str]:
        if self.config.table_format == "iceberg":
            # The session catalog class of spark-defaults.conf (see its source).
            jars.compile_java(
                JAVA_SOURCES / "IcebergSessionCatalog.java",
                os.pathsep.join(
                    [str(spark_home() / "jars" / "*"), str(self.config.jars_dir / "iceberg" / "*")]
                ),
                self.config.cache_dir / "classes",
                find_java(self.config),
            )
        hiveconf = {
            "hive.server2.thrift.bind.host": self.config.host,
            "hive.server2.thrift.port": str(self.config.ports["thrift"]),
            # Statements run as the server's user, not as a proxy of the session's user.
            # With Hive's default (true), closing a session closes the HDFS clients of its
            # user, and the metastore client's shared state keeps one of them: every later
            # write to a Hive serde table (dbt-spark's default format) fails with
            # "Filesystem closed". Spark's executors never ran as the session user anyway.
            # See docs/stack.md.
            "hive.server2.enable.doAs": "false",
        }
        if self.config.auth == "ldap":
            # Spark 3.5's HiveServer2 binds to the directory as uid=<user>,<baseDN> with
            # the client's password (SASL PLAIN); a blank password is refused before that.
            hiveconf |= {
                "hive.server2.authentication": "LDAP",
                "hive.server2.authentication.ldap.url": self.config.ldap_url,
                "hive.server2.authentication.ldap.baseDN": self.config.ldap_people_dn,
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

    def postgres_cmd(self) -> list[str]:
        return [
            str(postgres_bin(self.config) / "postgres"),
            "-D",
            str(self.config.service_dir("postgres") / "data"),
            "-c",
            f"listen_addresses={self.config.host}",
            "-c",
            f"port={self.config.ports['postgres']}",
            "-c",
            "unix_socket_directories=",  # TCP on loopback only, no socket file
            "-c",
            "max_connections=40",
            "-c",
            "shared_buffers=32MB",
        ]

    def ldap_cmd(self) -> list[str]:
        # -d keeps slapd in the foreground (the stack tracks its pid); "stats" logs each
        # connection and bind to the service log.
        return [
            str(ldap.find_program("slapd")),
            "-d",
            "stats",
            "-h",
            f"{self.config.ldap_url}/",
            "-f",
            str(self.config.service_dir("ldap") / "slapd.conf"),
        ]

    # .. one-time preparation ............................................................
    def prepare(self) -> None:
        find_java(self.config)
        for name in jars.poms_for(self.config):
            jars.fetch(self.config.jars_dir, name, self.log)
        for sub in ("logs", "run", "kafka/data", "hdfs", "metastore", "spark/tmp"):
            (self.config.state_dir / sub).mkdir(parents=True, exist_ok=True)
        render_configs(self.config)
        for service in self.services:
            if service.prepare is not None:
                service.prepare(self)

    def _run_once(self, what: str, cmd: list[str], user: str | None = None) -> None:
        result = subprocess.run(cmd, env=self._env(), capture_output=True, text=True, user=user)
        log_path = self.config.logs_dir / f"{what}.log"
        log_path.write_text(result.stdout + result.stderr)
        if result.returncode != 0:
            raise UserError(
                f"{what} failed (exit {result.returncode}); see {log_path}.",
                detail=process.tail(log_path, LOG_TAIL_LINES),
            )

    def _format_kafka(self) -> None:
        kdir = self.config.service_dir("kafka")
        id_file = kdir / "cluster-id"
        if not id_file.exists():
            id_file.write_text(kafka_cluster_id())
        if (kdir / "data" / "meta.properties").exists():
            return
        self.log("formatting Kafka storage (once)")
        self._run_once(
            "kafka-format",
            self.kafka_cmd(
                "kafka.tools.StorageTool",
                "format",
                "--standalone",
                "--ignore-formatted",
                # '=' form: a base64 id may start with '-'
                f"--cluster-id={id_file.read_text().strip()}",
                f"--config={kdir / 'server.properties'}",
            ),
        )

    def _format_namenode(self) -> None:
        hdir = self.config.service_dir("hdfs")
        if (hdir / "name" / "current" / "VERSION").exists():
            return
        self.log("formatting the HDFS NameNode (once)")
        self._run_once(
            "namenode-format",
            self.hdfs_cmd(
                "org.apache.hadoop.hdfs.server.namenode.NameNode",
                "-format",
                "-nonInteractive",
            ),
        )

    def _init_postgres(self) -> None:
        """A PostgreSQL cluster of the stack's own under ``postgres/data``, made once."""
        pg_dir = self.config.service_dir("postgres")
        pg_dir.mkdir(parents=True, exist_ok=True)
        password(self.config.postgres_password_file)
        user = postgres_os_user()
        if user is not None:
            account = pwd.getpwnam(user)
            for path in (pg_dir, self.config.postgres_password_file):
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
        self.log("creating the metastore's PostgreSQL cluster (once)")
        self._run_once(
            "postgres-initdb",
            [
                str(postgres_bin(self.config) / "initdb"),
                "-D",
                str(pg_dir / "data"),
                "-U",
                self.config.postgres_user,
                f"--pwfile={self.config.postgres_password_file}",
                "--auth=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
            ],
            user=user,
        )

    def _psql(self, database: str, sql: str) -> str:
        try:
            return health.psql(self.config, database, sql)
        except health.Unhealthy as exc:
            log_path = self.config.logs_dir / "postgres.log"
            raise UserError(
                f"PostgreSQL did not run a setup statement ({exc}); its log is {log_path}.",
                detail=process.tail(log_path, LOG_TAIL_LINES),
            ) from None

    def _create_metastore_schema(self) -> None:
        """The metastore's database and tables on PostgreSQL, created once.

        The metastore itself runs with auto-create off (creating tables on first use
        deadlocked on PostgreSQL); DataNucleus' SchemaTool creates every table of
        Hive's ``package.jdo`` up front instead.
        """
        exists = self._psql("postgres", "select 1 from pg_database where datname = 'metastore'")
        if not exists:
            self._psql("postgres", "create database metastore")
        if self._psql("metastore", """select to_regclass('public."DBS"') is not null""") == "t":
            return
        self.log("creating the metastore schema on PostgreSQL (once)")
        mdir = self.config.service_dir("metastore")
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
                    f"javax.jdo.option.ConnectionURL={self.config.metastore_jdbc_url}",
                    "javax.jdo.option.ConnectionDriverName=org.postgresql.Driver",
                    f"javax.jdo.option.ConnectionUserName={self.config.postgres_user}",
                    "javax.jdo.option.ConnectionPassword="
                    + password(self.config.postgres_password_file),
                    # Hive's own DataNucleus settings, so names match what it expects
                    "datanucleus.identifierFactory=datanucleus1",
                    "datanucleus.rdbms.useLegacyNativeValueStrategy=true",
                    "datanucleus.storeManagerType=rdbms",
                    "",
                ]
            ),
        )
        classpath = os.pathsep.join(
            [str(spark_jars / "*"), str(self.config.jars_dir / "postgres" / "*")]
        )
        self._run_once(
            "metastore-schematool",
            [
                self._java(),
                *self._jvm_opts(self.config.metastore_heap),
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

    def _init_ldap(self) -> None:
        """slapd's config, database and seeded user under ``ldap/``, seeded once."""
        ldap_dir = self.config.service_dir("ldap")
        (ldap_dir / "data").mkdir(parents=True, exist_ok=True)
        admin = password(ldap_dir / "admin.password")
        write_private(ldap_dir / "slapd.conf", ldap.slapd_conf(self.config, ldap.ssha(admin)))
        if (ldap_dir / "data" / "data.mdb").exists():
            return
        self.log(f"seeding the LDAP directory with user {self.config.ldap_user!r} (once)")
        seed = ldap_dir / "seed.ldif"
        user_hash = ldap.ssha(password(self.config.ldap_password_file))
        write_private(seed, ldap.seed_ldif(self.config, user_hash))
        self._run_once(
            "ldap-seed",
            [
                str(ldap.find_program("slapadd")),
                "-f",
                str(ldap_dir / "slapd.conf"),
                "-l",
                str(seed),
            ],
        )

    # .. lifecycle .......................................................................
    @property
    def services(self) -> tuple[Service, ...]:
        return services_for(self.config)

    def _check_port_free(self, service: Service) -> None:
        port = self.config.ports[service.port_name]
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((self.config.host, port))
            except OSError:
                raise UserError(
                    f"Port {port} on {self.config.host}, needed by {service.name}, is taken by "
                    f"another program: stop it or choose other ports "
                    f"(EDTRACK_PORT_OFFSET or EDTRACK_{service.port_name.upper()}_PORT)."
                ) from None

    def _start(self, service: Service) -> process.ProcessRecord | None:
        record = process.read_record(self.config.run_dir, service.name)
        if process.live_process(record) is not None:
            self.log(f"{service.name}: already running (pid {record.pid})")
            return None
        self._check_port_free(service)
        if service.before_start is not None:
            service.before_start(self)
        record = process.spawn(
            service.name,
            service.command(self),
            env=self._env(),
            cwd=self.config.state_dir,
            log_path=self.config.logs_dir / f"{service.name}.log",
            run_dir=self.config.run_dir,
            user=service.os_user(),
        )
        self.log(f"{service.name}: started (pid {record.pid})")
        return record

    def _wait_healthy(self, service: Service, deadline: float) -> None:
        last_error = "not checked yet"
        while True:
            record = process.read_record(self.config.run_dir, service.name)
            if process.live_process(record) is None:
                log_path = self.config.logs_dir / f"{service.name}.log"
                raise UserError(
                    f"{service.name} exited during start-up; its log is {log_path}.",
                    detail=process.tail(log_path, LOG_TAIL_LINES),
                )
            try:
                service.check(self.config)
                return
            except health.Unhealthy as exc:
                last_error = str(exc)
            if time.monotonic() > deadline:
                log_path = self.config.logs_dir / f"{service.name}.log"
                raise UserError(
                    f"{service.name} did not become healthy in "
                    f"{self.config.start_timeout_s:.0f} s ({last_error}); its log is {log_path}.",
                    detail=process.tail(log_path, LOG_TAIL_LINES),
                )
            time.sleep(1.0)

    def running(self) -> list[str]:
        """The services of any configuration that run now from this state dir."""
        return [
            s.name
            for s in ALL_SERVICES
            if process.live_process(process.read_record(self.config.run_dir, s.name))
        ]

    def _check_settings(self) -> None:
        """Refuse to change auth, metastore or ports under a running stack."""
        running = self.running()
        if not running:
            return
        before = load_settings(self.config.state_dir)
        wanted = self.config.settings()
        if before and before != wanted:
            was = ", ".join(f"{k} {v}" for k, v in before.items())
            now = ", ".join(f"{k} {v}" for k, v in wanted.items())
            raise UserError(
                f"The stack in {self.config.state_dir} runs with {was}; stop it first "
                f"('edtrack stack down') to start it with {now}."
            )
        self._refuse_other_ports(
            running,
            "it was left alone; use those ports, stop it first with the same offset "
            "('edtrack stack down'), or give this one its own --state-dir.",
        )

    def _refuse_other_ports(self, running: list[str], advice: str) -> None:
        """One sentence when the stack running from the state dir uses other ports;
        ``advice`` may name the offset it runs on as ``{offset}``."""
        ports = load_ports(self.config.state_dir)
        if not running or not ports or ports == dict(self.config.ports):
            return
        offset = ports["kafka"] - DEFAULT_PORTS["kafka"]
        shown = ", ".join(f"{name} {ports[name]}" for name in running if name in ports)
        raise UserError(
            f"A stack already runs from {self.config.state_dir} on other ports ({shown}; "
            f"port offset {offset}): {advice.format(offset=offset)}"
        )

    def down_as_asked(self, wipe: bool = False) -> list[str]:
        """`stack down` from the command line: refuses, stopping nothing, when the stack
        of the state dir runs on other ports than the ones asked for."""
        self._refuse_other_ports(
            self.running(),
            "nothing was stopped; to stop it: edtrack stack down --port-offset {offset}",
        )
        return self.down(wipe=wipe)

    def _check_ports_before_starting(self, services: tuple[Service, ...]) -> None:
        """Every port a service still to start needs is free, before anything starts."""
        running = set(self.running())
        for service in services:
            if service.name not in running:
                self._check_port_free(service)

    def up(self) -> None:
        t0 = time.monotonic()
        self._check_settings()
        services = self.services
        self._check_ports_before_starting(services)
        self.prepare()
        save_settings(self.config)
        deadline = time.monotonic() + self.config.start_timeout_s
        healthy: set[str] = set()
        by_name = {s.name: s for s in services}
        started: list[str] = []  # by this call: a failed start stops these, nothing else
        try:
            for service in services:
                for dep in service.requires:
                    if dep not in healthy:
                        self._wait_healthy(by_name[dep], deadline)
                        healthy.add(dep)
                if self._start(service) is not None:
                    started.append(service.name)
            for service in services:
                if service.name not in healthy:
                    self._wait_healthy(service, deadline)
                    healthy.add(service.name)
                    self.log(f"{service.name}: healthy")
        except (UserError, KeyboardInterrupt):
            self.down(only=started)
            raise
        self.log(f"stack up in {time.monotonic() - t0:.1f} s")

    def start_service(self, name: str) -> None:
        """Start one service (after a crash or ``kill_service``) and wait until healthy."""
        service = self._service(name)
        self._start(service)
        self._wait_healthy(service, time.monotonic() + self.config.start_timeout_s)
        self.log(f"{name}: healthy")

    def kill_service(self, name: str, sig: int = signal.SIGKILL) -> bool:
        """Send ``sig`` (SIGKILL: a crash, no clean-up) to one service's process group and
        wait until it is gone. Returns False if it was not running."""
        record = process.read_record(self.config.run_dir, self._service(name).name)
        proc = process.live_process(record)
        if record is None or proc is None:
            return False
        victims = [proc, *proc.children(recursive=True)]
        process.signal_group(record.pid, sig)
        for victim in victims:
            with contextlib.suppress(psutil.Error):
                victim.send_signal(sig)
        if not process.wait_gone(victims, 60.0):
            raise UserError(f"{name} (pid {record.pid}) did not exit after signal {sig}.")
        self.log(f"{name}: killed with signal {sig} (pid {record.pid})")
        return True

    def _service(self, name: str) -> Service:
        """One of the services this stack runs, by name."""
        services = {service.name: service for service in self.services}
        if name not in services:
            raise UserError(
                f"This stack has no service {name!r}; its services: {', '.join(services)}."
            )
        return services[name]

    def down(self, wipe: bool = False, only: list[str] | None = None) -> list[str]:
        """Stop whatever an earlier `up` started (``only``: just these services)."""
        stopped = []
        for service in reversed(ALL_SERVICES):
            if only is not None and service.name not in only:
                continue
            record = process.read_record(self.config.run_dir, service.name)
            if record is not None and process.stop(
                record,
                self.config.run_dir,
                sig=service.stop_signal,
                leader_only=service.leader_only,
            ):
                stopped.append(service.name)
                self.log(f"{service.name}: stopped (pid {record.pid})")
        if wipe and self.config.state_dir.exists():
            shutil.rmtree(self.config.state_dir)
            self.log(f"removed {self.config.state_dir}")
        return stopped

    def status(self) -> list[dict[str, object]]:
        rows = []
        for service in self.services:
            record = process.read_record(self.config.run_dir, service.name)
            proc = process.live_process(record)
            row: dict[str, object] = {
                "service": service.name,
                "pid": proc.pid if proc else None,
                "port": self.config.ports[service.port_name],
                "rss_mb": round(process.rss_bytes(proc) / 2**20) if proc else None,
            }
            if proc is None:
                row.update(healthy=False, detail="not running")
            else:
                try:
                    service.check(self.config)
                    row.update(healthy=True, detail="ok")
                except health.Unhealthy as exc:
                    row.update(healthy=False, detail=str(exc))
            rows.append(row)
        return rows

    def log_path(self, name: str) -> Path:
        if name not in SERVICE_NAMES:
            raise UserError(f"Unknown service {name!r}; services: {', '.join(SERVICE_NAMES)}.")
        return self.config.logs_dir / f"{name}.log"

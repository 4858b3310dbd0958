"""The local single-machine stack: Kafka, HDFS, Hive metastore, Spark Thrift Server.

``up`` fetches jars (once), renders configuration into the state dir, formats data
directories (once), starts each service detached and waits until its health check
passes. ``down`` stops exactly the processes that ``up`` recorded; ``status`` runs
every health check. Everything binds to ``config.host`` (127.0.0.1 by default).
"""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from edtrack.errors import UserError
from stack import health, jars, process
from stack.config import StackConfig

TEMPLATES = Path(__file__).resolve().parent / "templates"
JAVA_SOURCES = Path(__file__).resolve().parent / "java"
LOG_TAIL_LINES = 25

Log = Callable[[str], None]


@dataclass(frozen=True)
class Service:
    name: str
    port_name: str
    check: Callable[[StackConfig], None]
    requires: tuple[str, ...] = ()


SERVICES: tuple[Service, ...] = (
    Service("kafka", "kafka", health.kafka),
    Service("namenode", "namenode", health.namenode),
    Service("metastore", "metastore", health.metastore),
    Service("datanode", "datanode", health.datanode, requires=("namenode",)),
    Service("thrift", "thrift", health.thrift, requires=("metastore", "datanode")),
)
SERVICE_NAMES = tuple(s.name for s in SERVICES)


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
        target.write_text(env.get_template(template).render(**context))
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
        classpath = os.pathsep.join([str(mdir / "conf"), str(classes), spark_jars])
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
        return [
            str(spark_home() / "bin" / "spark-submit"),
            "--class",
            "org.apache.spark.sql.hive.thriftserver.HiveThriftServer2",
            "--name",
            "edtrack-thrift-server",
            "--hiveconf",
            f"hive.server2.thrift.bind.host={self.config.host}",
            "--hiveconf",
            f"hive.server2.thrift.port={self.config.ports['thrift']}",
        ]

    def command_for(self, name: str) -> list[str]:
        if name == "kafka":
            properties = self.config.service_dir("kafka") / "server.properties"
            return self.kafka_cmd("kafka.Kafka", str(properties))
        if name == "namenode":
            return self.hdfs_cmd("org.apache.hadoop.hdfs.server.namenode.NameNode")
        if name == "datanode":
            return self.hdfs_cmd("org.apache.hadoop.hdfs.server.datanode.DataNode")
        if name == "metastore":
            return self.metastore_cmd()
        if name == "thrift":
            return self.thrift_cmd()
        raise UserError(f"Unknown service {name!r}; services: {', '.join(SERVICE_NAMES)}.")

    # .. one-time preparation ............................................................
    def prepare(self) -> None:
        find_java(self.config)
        for name in jars.POMS:
            jars.fetch(self.config.jars_dir, name, self.log)
        for sub in ("logs", "run", "kafka/data", "hdfs", "metastore", "spark/tmp"):
            (self.config.state_dir / sub).mkdir(parents=True, exist_ok=True)
        render_configs(self.config)
        self._format_kafka()
        self._format_namenode()

    def _run_once(self, what: str, cmd: list[str]) -> None:
        import subprocess

        result = subprocess.run(cmd, env=self._env(), capture_output=True, text=True)
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

    # .. lifecycle .......................................................................
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
        record = process.spawn(
            service.name,
            self.command_for(service.name),
            env=self._env(),
            cwd=self.config.state_dir,
            log_path=self.config.logs_dir / f"{service.name}.log",
            run_dir=self.config.run_dir,
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

    def up(self) -> None:
        t0 = time.monotonic()
        self.prepare()
        deadline = time.monotonic() + self.config.start_timeout_s
        healthy: set[str] = set()
        by_name = {s.name: s for s in SERVICES}
        try:
            for service in SERVICES:
                for dep in service.requires:
                    if dep not in healthy:
                        self._wait_healthy(by_name[dep], deadline)
                        healthy.add(dep)
                self._start(service)
            for service in SERVICES:
                if service.name not in healthy:
                    self._wait_healthy(service, deadline)
                    healthy.add(service.name)
                    self.log(f"{service.name}: healthy")
        except UserError:
            self.down()
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
        for service in SERVICES:
            if service.name == name:
                return service
        raise UserError(f"Unknown service {name!r}; services: {', '.join(SERVICE_NAMES)}.")

    def down(self, wipe: bool = False) -> list[str]:
        stopped = []
        for service in reversed(SERVICES):
            record = process.read_record(self.config.run_dir, service.name)
            if record is not None and process.stop(record, self.config.run_dir):
                stopped.append(service.name)
                self.log(f"{service.name}: stopped (pid {record.pid})")
        if wipe and self.config.state_dir.exists():
            shutil.rmtree(self.config.state_dir)
            self.log(f"removed {self.config.state_dir}")
        return stopped

    def status(self) -> list[dict[str, object]]:
        rows = []
        for service in SERVICES:
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

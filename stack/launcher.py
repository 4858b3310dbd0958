"""The local single-machine stack: Kafka, HDFS, Hive metastore, Spark Thrift Server.

``up`` fetches jars (once), renders configuration into the state dir, formats data
directories (once), starts each service detached and waits until its health check
passes. ``down`` stops exactly the processes that ``up`` recorded; ``status`` runs
every health check. Everything binds to ``config.host`` (127.0.0.1 by default). What
each service is (its command, files, preparation and check) is declared in its module
of ``stack/services``; this module runs them.

Two choices add services: ``auth="ldap"`` runs the stack's own LDAP directory (slapd)
and makes the Thrift Server check every login against it; ``metastore_db="postgres"``
runs the stack's own PostgreSQL cluster and puts the metastore's tables there (schema
created once, by DataNucleus' SchemaTool). ``up`` records both in ``stack.json``.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import time
from pathlib import Path

import psutil
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from core.errors import UserError
from stack import jars, process
from stack.config import DEFAULT_PORTS, StackConfig, load_ports, load_settings, save_settings
from stack.secrets_file import write_private
from stack.services import ALL_SERVICES, SERVICE_NAMES, services_for
from stack.services.base import LOG_TAIL_LINES, Runtime, Service, Unhealthy, find_java

TEMPLATES = Path(__file__).resolve().parent / "templates"


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
        "nodes": config.nodes,
        "replication": config.replication,
        "driver_memory": config.thrift_driver_memory,
        "shuffle_partitions": config.spark_shuffle_partitions,
        "query_timeout_s": config.query_timeout_s,
        "metastore_db": config.metastore_db,
        "table_format": config.table_format,
        "format_jars": str(config.jars_dir / config.table_format / "*"),
        "classes_dir": str(config.cache_dir / "classes"),
        # Per-customer access (stack/java/CustomerAccess.java), on with --auth ldap.
        "access": {
            "ldap.url": config.ldap_url,
            "ldap.bindDn": config.ldap_reader_dn,
            "ldap.passwordFile": str(config.ldap_reader_password_file),
            "ldap.peopleDn": config.ldap_people_dn,
            "ldap.customersDn": config.ldap_customers_dn,
            "ldap.analystsDn": config.ldap_analysts_dn,
        }
        if config.auth == "ldap"
        else {},
        "metastore_jdbc_url": config.metastore_jdbc_url,
        "metastore_db_user": config.postgres_user,
        # Filled in for the metastore's own copy of hive-site.xml only (its
        # config_secrets).
        "metastore_db_password": None,
        # Filled in for the Thrift Server's copy only, with --tls.
        "thrift_keystore_password": None,
    }


def configured(config: StackConfig) -> tuple[Service, ...]:
    """The services whose files `up` renders: every service but those of nodes the
    stack does not have (a service another choice enables keeps its files ready)."""
    return tuple(s for s in ALL_SERVICES if not s.node or s.enabled(config))


def rendered_files(config: StackConfig) -> tuple[tuple[str, str], ...]:
    """(template, destination relative to the state dir) of every file `up` renders."""
    return tuple(pair for service in configured(config) for pair in service.configs)


def render_configs(config: StackConfig) -> list[Path]:
    """Write every service's configuration into the state dir; return the paths."""
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )
    context = template_context(config)
    written = []
    for service in configured(config):
        secrets = service.config_secrets(config)
        for template, relative in service.configs:
            target = config.state_dir / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            values = {**context, **service.template_values(config), **secrets}
            text = env.get_template(template).render(**values)
            if secrets:
                write_private(target, text)
            else:
                target.write_text(text)
            written.append(target)
    return written


class Stack(Runtime):
    """The stack of one configuration: starts, checks and stops its services."""

    def prepare(self) -> None:
        find_java(self.config)
        for name in jars.poms_for(self.config):
            jars.fetch(self.config.jars_dir, name, self.log)
        for sub in ("logs", "run", "hdfs", "metastore", "spark/tmp"):
            (self.config.state_dir / sub).mkdir(parents=True, exist_ok=True)
        render_configs(self.config)
        for service in self.services:
            if service.prepare is not None:
                service.prepare(self)

    # .. lifecycle .......................................................................
    @property
    def services(self) -> tuple[Service, ...]:
        return services_for(self.config)

    def _check_port_free(self, service: Service) -> None:
        port = self.config.ports[service.port_name]
        host = service.host(self.config)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((host, port))
            except OSError:
                raise UserError(
                    f"Port {port} on {host}, needed by {service.name}, is taken by "
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
            env={**self.env(), **service.environment(self.config)},
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
            except Unhealthy as exc:
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
        # A stack saved by an earlier version lacks some choices: compare what it has.
        if before and any(wanted.get(k) != v for k, v in before.items()):
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

    def _check_nodes(self) -> None:
        """Refuse to change the node count of a state dir: its data stays where the
        nodes it was made with keep it."""
        before = load_settings(self.config.state_dir)
        if not before:
            return  # a new state dir (or one of a version before the choice existed)
        made_with = int(before.get("nodes", "1"))
        if made_with != self.config.nodes:
            raise UserError(
                f"The stack in {self.config.state_dir} was made with {made_with} node(s), "
                f"and its data cannot move to {self.config.nodes}: give this one its own "
                "--state-dir, or delete that one ('edtrack stack down --wipe')."
            )

    def up(self) -> None:
        t0 = time.monotonic()
        self._check_nodes()
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
                "host": service.host(self.config),
                "port": self.config.ports[service.port_name],
                "rss_mb": round(process.rss_bytes(proc) / 2**20) if proc else None,
            }
            if proc is None:
                row.update(healthy=False, detail="not running")
            else:
                try:
                    service.check(self.config)
                    row.update(healthy=True, detail="ok")
                except Unhealthy as exc:
                    row.update(healthy=False, detail=str(exc))
            rows.append(row)
        return rows

    def log_path(self, name: str) -> Path:
        if name not in SERVICE_NAMES:
            raise UserError(f"Unknown service {name!r}; services: {', '.join(SERVICE_NAMES)}.")
        return self.config.logs_dir / f"{name}.log"

"""What every service of the stack is made of: the :class:`Service` record, the
:class:`Runtime` its commands and preparation run with, and :class:`Unhealthy`, which
its health check raises."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core.errors import UserError
from stack import process
from stack.config import StackConfig

JAVA_SOURCES = Path(__file__).resolve().parent.parent / "java"
LOG_TAIL_LINES = 25

Log = Callable[[str], None]


class Unhealthy(Exception):
    """A service answered wrongly or not at all."""

    def __str__(self) -> str:  # server errors may carry a Java stack trace: keep line one
        text = super().__str__().strip()
        return text.splitlines()[0] if text else text


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


class Runtime:
    """A stack's configuration and log, and what service commands share: the JVM, the
    environment every service runs with, and one-off set-up programs."""

    def __init__(self, config: StackConfig, log: Log = print) -> None:
        self.config = config
        self.log = log

    def java(self) -> str:
        return str(find_java(self.config) / "bin" / "java")

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["JAVA_HOME"] = str(find_java(self.config))
        env["SPARK_HOME"] = str(spark_home())
        env["SPARK_CONF_DIR"] = str(self.config.service_dir("spark") / "conf")
        env["HADOOP_CONF_DIR"] = str(self.config.hdfs_conf_dir)
        env["SPARK_LOCAL_IP"] = self.config.host
        env["TZ"] = "UTC"
        return env

    def jvm_opts(self, heap: str) -> list[str]:
        return [
            f"-Xmx{heap}",
            "-Xms64m",
            "-XX:+UseSerialGC",
            "-Duser.timezone=UTC",
            "-Djava.net.preferIPv4Stack=true",
        ]

    def run_once(self, what: str, cmd: list[str], user: str | None = None) -> None:
        """Run a set-up program to its end; its output goes to ``logs/<what>.log``."""
        result = subprocess.run(cmd, env=self.env(), capture_output=True, text=True, user=user)
        log_path = self.config.logs_dir / f"{what}.log"
        log_path.write_text(result.stdout + result.stderr)
        if result.returncode != 0:
            raise UserError(
                f"{what} failed (exit {result.returncode}); see {log_path}.",
                detail=process.tail(log_path, LOG_TAIL_LINES),
            )


def _always(config: StackConfig) -> bool:
    return True


def alone_or_on_node(node: int) -> Callable[[StackConfig], bool]:
    """``enabled`` of a service with an instance per node: instance 0 runs on a stack of
    one node, instance ``node`` on a stack of several that has that node."""
    if not node:
        return lambda config: config.nodes == 1
    return lambda config: config.nodes > 1 and node <= config.nodes


def _nothing(config: StackConfig) -> tuple[str, ...]:
    return ()


def _ourselves() -> str | None:
    return None


@dataclass(frozen=True)
class Service:
    """One service of the stack, declared whole in its module of ``stack/services``:
    what enables it, what it waits for, its configuration files, its one-time
    preparation, its command and health check, its port, how it stops."""

    name: str
    check: Callable[[StackConfig], None]  # raises Unhealthy
    command: Callable[[Runtime], list[str]]
    enabled: Callable[[StackConfig], bool] = _always
    # The services it waits for (healthy) before it starts, for a configuration.
    needs: Callable[[StackConfig], tuple[str, ...]] = _nothing
    # (template in stack/templates, destination under the state dir), rendered by every
    # `up`. A file two services read is declared by the first of them.
    configs: tuple[tuple[str, str], ...] = ()
    # Secrets its configuration files carry, as template values: the files are then
    # written readable by their owner only.
    config_secrets: Callable[[StackConfig], dict[str, object]] = lambda config: {}
    # Once per `up`, before any service starts (formatting, seeding); idempotent.
    prepare: Callable[[Runtime], None] | None = None
    # Each time it starts, once what it needs is healthy.
    before_start: Callable[[Runtime], None] | None = None
    os_user: Callable[[], str | None] = _ourselves  # None: the user running the stack
    # PostgreSQL: SIGINT to the postmaster alone is its "fast shutdown"; a signal to
    # every process of its group could kill a helper first and force crash recovery.
    stop_signal: int = signal.SIGTERM
    leader_only: bool = False
    requires: tuple[str, ...] = ()  # ``needs`` for the configuration: set by services_for
    # The node it runs on in a stack of several (1-based); 0: the stack's host.
    node: int = 0
    # Its key in ``StackConfig.ports`` (the port its health check dials): its name when
    # empty. A service with one instance per node shares one key with the others.
    port: str = ""
    # Template values of its own configuration files (a node's address and folders).
    template_values: Callable[[StackConfig], dict[str, object]] = lambda config: {}
    # Environment variables of its own, over the stack's (``Runtime.env``).
    environment: Callable[[StackConfig], dict[str, str]] = lambda config: {}

    @property
    def port_name(self) -> str:
        """Its key in ``StackConfig.ports``: the port its health check dials."""
        return self.port or self.name

    def host(self, config: StackConfig) -> str:
        """The address it binds: its node's, else the stack's."""
        return config.node_host(self.node) if self.node else config.host

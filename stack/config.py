"""Declared configuration of the local stack.

Every setting has one default here. The CLI turns flags and ``EDTRACK_*`` environment
variables into a frozen :class:`StackConfig`; nothing reads the environment at import.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from edtrack.errors import UserError

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# Service port defaults. ``EDTRACK_PORT_OFFSET`` shifts all of them at once, so a test
# suite can run a private stack beside a user's.
DEFAULT_PORTS: dict[str, int] = {
    "kafka": 9092,
    "kafka_controller": 9093,
    "namenode": 8020,
    "namenode_http": 9870,
    "datanode": 9866,
    "datanode_http": 9864,
    "datanode_ipc": 9867,
    "metastore": 9083,
    "thrift": 10000,
    "spark_ui": 4040,
}


@dataclass(frozen=True)
class StackConfig:
    state_dir: Path = PROJECT_ROOT / ".state"
    cache_dir: Path = PROJECT_ROOT / ".cache"
    host: str = "127.0.0.1"
    ports: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_PORTS))
    java_home: Path | None = None
    kafka_heap: str = "512m"
    hdfs_heap: str = "384m"
    metastore_heap: str = "512m"
    thrift_driver_memory: str = "2g"
    spark_shuffle_partitions: int = 4
    start_timeout_s: float = 120.0

    def __post_init__(self) -> None:
        unknown = set(self.ports) - set(DEFAULT_PORTS)
        if unknown:
            raise UserError(
                f"Unknown port name(s) {sorted(unknown)}; known: {sorted(DEFAULT_PORTS)}."
            )
        missing = set(DEFAULT_PORTS) - set(self.ports)
        if missing:
            raise UserError(f"Missing port(s) {sorted(missing)} in the stack configuration.")

    # --- derived locations -------------------------------------------------------------
    @property
    def logs_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def run_dir(self) -> Path:
        return self.state_dir / "run"

    @property
    def jars_dir(self) -> Path:
        return self.cache_dir / "jars"

    @property
    def kafka_bootstrap(self) -> str:
        return f"{self.host}:{self.ports['kafka']}"

    @property
    def hdfs_url(self) -> str:
        return f"hdfs://{self.host}:{self.ports['namenode']}"

    @property
    def metastore_uri(self) -> str:
        return f"thrift://{self.host}:{self.ports['metastore']}"

    @property
    def warehouse_dir(self) -> str:
        return f"{self.hdfs_url}/warehouse"

    def service_dir(self, name: str) -> Path:
        return self.state_dir / name

    def client_env(self) -> dict[str, str]:
        """Environment that points edtrack commands and dbt at this stack."""
        return {
            "EDTRACK_STATE_DIR": str(self.state_dir),
            "EDTRACK_CACHE_DIR": str(self.cache_dir),
            "EDTRACK_PORT_OFFSET": "0",
            **{f"EDTRACK_{name.upper()}_PORT": str(port) for name, port in self.ports.items()},
            "DBT_THRIFT_HOST": self.host,
            "DBT_THRIFT_PORT": str(self.ports["thrift"]),
        }


def _parse_int(value: str, name: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise UserError(f"{name} must be a whole number, not {value!r}.") from None


def from_env(
    env: Mapping[str, str] | None = None,
    *,
    state_dir: str | Path | None = None,
    cache_dir: str | Path | None = None,
    port_offset: int | None = None,
) -> StackConfig:
    """Build the configuration from flags (keyword arguments) over environment variables.

    Flags win over ``EDTRACK_*`` variables, which win over the declared defaults.
    ``EDTRACK_<NAME>_PORT`` sets one port; ``EDTRACK_PORT_OFFSET`` shifts the defaults.
    """
    env = os.environ if env is None else env
    if port_offset is None:
        port_offset = _parse_int(env.get("EDTRACK_PORT_OFFSET", "0"), "EDTRACK_PORT_OFFSET")
    ports = {}
    for name, default in DEFAULT_PORTS.items():
        var = f"EDTRACK_{name.upper()}_PORT"
        port = _parse_int(env[var], var) if var in env else default + port_offset
        if not 0 < port < 65536:
            raise UserError(f"Port {port} for {name} is outside 1-65535; check {var} / the offset.")
        ports[name] = port
    if len(set(ports.values())) != len(ports):
        raise UserError(f"Two services were given the same port: {ports}.")
    kwargs: dict[str, object] = {"ports": ports}
    state = state_dir or env.get("EDTRACK_STATE_DIR")
    if state:
        kwargs["state_dir"] = Path(state).expanduser().resolve()
    cache = cache_dir or env.get("EDTRACK_CACHE_DIR")
    if cache:
        kwargs["cache_dir"] = Path(cache).expanduser().resolve()
    if env.get("JAVA_HOME"):
        kwargs["java_home"] = Path(env["JAVA_HOME"])
    for attr, var in [
        ("thrift_driver_memory", "EDTRACK_THRIFT_DRIVER_MEMORY"),
        ("kafka_heap", "EDTRACK_KAFKA_HEAP"),
    ]:
        if env.get(var):
            kwargs[attr] = env[var]
    return StackConfig(**kwargs)  # type: ignore[arg-type]


def with_ports(config: StackConfig, **ports: int) -> StackConfig:
    return dataclasses.replace(config, ports={**config.ports, **ports})

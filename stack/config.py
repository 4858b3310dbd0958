"""Declared configuration of the local stack.

Every setting has one default here. The CLI turns flags and ``EDTRACK_*`` environment
variables into a frozen :class:`StackConfig`; nothing reads the environment at import.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import UserError
from core.project import PROJECT_ROOT
from core.sql import Login

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
    # Spark's standalone cluster, on a stack of several nodes: the master (node 1) and
    # each worker (one per other node, on its own address).
    "spark_master": 7077,
    "spark_master_ui": 8080,
    "spark_worker": 7078,
    "spark_worker_ui": 8081,
    # Used only when enabled: the LDAP directory (--auth ldap) and the metastore's
    # PostgreSQL server (--metastore postgres).
    "ldap": 10389,
    "postgres": 10432,
}

# Who may use the Thrift Server: "none" takes any user name without a password (the
# default, a single-user machine); "ldap" checks user and password against the stack's
# own LDAP directory.
AUTH_MODES = ("none", "ldap")
# Where the metastore service keeps its tables: "derby" (embedded, the default) or
# "postgres" (a PostgreSQL server the stack runs, the setup of a shared metastore).
METASTORE_BACKENDS = ("derby", "postgres")
# The table format of the warehouse, whose runtime the Thrift Server loads as Spark's
# session catalog: Apache Iceberg (the default, docs/table-format.md says why), Delta
# Lake, or plain parquet tables; the last two for the format comparison
# (bench/table_formats.py).
TABLE_FORMATS = ("iceberg", "delta", "parquet")
# How many machines the stack plays (``--nodes``): 1, every service once on one address;
# 3, a cluster of three nodes, each on its own loopback address (node 1 the stack's
# ``host``, nodes 2 and 3 the next two addresses): three Kafka brokers in one KRaft
# quorum, a DataNode on each node, the metastore on PostgreSQL.
NODE_COUNTS = (1, 3)
# The first node's address when the stack plays a cluster and no host was chosen: its
# own /24, apart from a single-node stack on 127.0.0.1.
CLUSTER_HOST = "127.0.1.1"
# The choices above, as the last `stack up` made them: later commands read them here.
SETTINGS_FILE = "stack.json"


@dataclass(frozen=True)
class StackConfig:
    state_dir: Path = PROJECT_ROOT / ".state"
    cache_dir: Path = PROJECT_ROOT / ".cache"
    # The loopback address every service binds (``EDTRACK_STACK_HOST``): any address of
    # 127.0.0.0/8, so that stacks differ by address as well as by port.
    host: str = "127.0.0.1"
    ports: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_PORTS))
    # The shift applied to the default ports (``EDTRACK_PORT_OFFSET``); reported by
    # `stack env`, whose exported ports already include it.
    port_offset: int = 0
    java_home: Path | None = None
    kafka_heap: str = "512m"
    hdfs_heap: str = "384m"
    metastore_heap: str = "512m"
    thrift_driver_memory: str = "2g"
    spark_shuffle_partitions: int = 4
    # How long `stack up` waits for each service to answer its health check
    # (``EDTRACK_START_TIMEOUT``, seconds). A service that exits is reported at once;
    # this only bounds a slow start, and a busy 2-core machine needs over 2 minutes.
    start_timeout_s: float = 300.0
    # The longest a statement may run on the Thrift Server before the server cancels it
    # (``EDTRACK_QUERY_TIMEOUT``, seconds; 0: no limit). Spark keeps it per session, so a
    # client may change it for its own session: a default, not a cap.
    query_timeout_s: int = 0
    auth: str = "none"
    # TLS on the Thrift Server's port (``--tls``, ``EDTRACK_TLS``): the stack makes a
    # certificate for its address once (stack/tls.py); clients trust it by
    # ``thrift.ssl_cafile``.
    tls: bool = False
    metastore_db: str = "derby"
    table_format: str = "iceberg"
    ldap_suffix: str = "dc=edtrack,dc=local"
    # The user `stack up` seeds into the directory; its password is generated once and
    # kept in the state dir (``ldap_password_file``), readable by the owner only.
    ldap_user: str = "edtrack"
    # PostgreSQL's server programs (initdb, postgres, psql); default: the newest
    # /usr/lib/postgresql/<version>/bin (Debian's layout).
    postgres_bin: Path | None = None
    nodes: int = 1

    def __post_init__(self) -> None:
        if not is_loopback(self.host):
            raise UserError(
                f"The local stack binds loopback addresses only (127.0.0.0/8), not "
                f"{self.host!r}: set EDTRACK_STACK_HOST to one, such as 127.0.0.2."
            )
        if self.nodes not in NODE_COUNTS:
            raise UserError(
                f"A stack runs on {' or '.join(map(str, NODE_COUNTS))} nodes, not {self.nodes}."
            )
        if not all(is_loopback(host) for host in self.node_hosts):
            raise UserError(
                f"The nodes of the stack take {self.nodes} consecutive loopback addresses "
                f"from {self.host}, and the last would leave 127.0.0.0/8: choose a lower "
                "EDTRACK_STACK_HOST, such as 127.0.1.1."
            )
        if self.nodes > 1 and self.metastore_db != "postgres":
            raise UserError(
                "A stack of several nodes keeps its metastore on PostgreSQL, as a cluster "
                "shares one: drop --metastore derby (or EDTRACK_METASTORE=derby)."
            )
        if self.auth not in AUTH_MODES:
            raise UserError(f"Unknown auth {self.auth!r}; choose one of {', '.join(AUTH_MODES)}.")
        if self.metastore_db not in METASTORE_BACKENDS:
            raise UserError(
                f"Unknown metastore {self.metastore_db!r}; "
                f"choose one of {', '.join(METASTORE_BACKENDS)}."
            )
        if self.table_format not in TABLE_FORMATS:
            raise UserError(
                f"Unknown table format {self.table_format!r}; "
                f"choose one of {', '.join(TABLE_FORMATS)}."
            )
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
    def node_hosts(self) -> tuple[str, ...]:
        """The address of each node, node 1 first: ``host`` and the addresses after it."""
        first = ipaddress.IPv4Address(self.host) if is_loopback(self.host) else None
        if first is None or self.nodes == 1:
            return (self.host,)
        return tuple(str(first + i) for i in range(self.nodes))

    def node_host(self, node: int) -> str:
        """The address of node ``node`` (1-based)."""
        return self.node_hosts[node - 1]

    @property
    def kafka_bootstrap(self) -> str:
        """Every broker: one per node."""
        return ",".join(f"{host}:{self.ports['kafka']}" for host in self.node_hosts)

    @property
    def replication(self) -> int:
        """Copies of each Kafka partition and HDFS block: one per node, at most three."""
        return min(self.nodes, 3)

    @property
    def hdfs_url(self) -> str:
        return f"hdfs://{self.host}:{self.ports['namenode']}"

    @property
    def hdfs_conf_dir(self) -> Path:
        """The Hadoop client configuration `stack up` renders (its daemons read it too)."""
        return self.service_dir("hdfs") / "conf"

    @property
    def metastore_uri(self) -> str:
        return f"thrift://{self.host}:{self.ports['metastore']}"

    @property
    def warehouse_dir(self) -> str:
        return f"{self.hdfs_url}/warehouse"

    def service_dir(self, name: str) -> Path:
        return self.state_dir / name

    # --- authentication (LDAP) ---------------------------------------------------------
    @property
    def ldap_url(self) -> str:
        return f"ldap://{self.host}:{self.ports['ldap']}"

    @property
    def ldap_people_dn(self) -> str:
        """Where users live; HiveServer2 binds as ``uid=<user>,<this>``."""
        return f"ou=people,{self.ldap_suffix}"

    def ldap_user_dn(self, user: str) -> str:
        return f"uid={user},{self.ldap_people_dn}"

    @property
    def ldap_password_file(self) -> Path:
        return self.service_dir("ldap") / f"{self.ldap_user}.password"

    # Who may read what (stack/java/CustomerAccess.java): a group per customer under
    # ou=customers (cn=<customer_id>), EdTech Co's analysts in one group, and an account
    # the Thrift Server reads the groups with.
    @property
    def ldap_customers_dn(self) -> str:
        return f"ou=customers,{self.ldap_suffix}"

    def ldap_customer_dn(self, customer: str) -> str:
        return f"cn={customer},{self.ldap_customers_dn}"

    @property
    def ldap_groups_dn(self) -> str:
        return f"ou=groups,{self.ldap_suffix}"

    @property
    def ldap_analysts_dn(self) -> str:
        return f"cn=analysts,{self.ldap_groups_dn}"

    @property
    def ldap_reader_dn(self) -> str:
        return f"cn=access-reader,{self.ldap_suffix}"

    @property
    def ldap_reader_password_file(self) -> Path:
        return self.service_dir("ldap") / "access-reader.password"

    @property
    def ldap_admin_dn(self) -> str:
        return f"cn=admin,{self.ldap_suffix}"

    @property
    def ldap_admin_password_file(self) -> Path:
        return self.service_dir("ldap") / "admin.password"

    # --- TLS on the Thrift Server (--tls) -------------------------------------------------
    @property
    def tls_dir(self) -> Path:
        return self.state_dir / "tls"

    @property
    def tls_cert_file(self) -> Path:
        """The server's self-signed certificate (PEM): the CA file clients trust."""
        return self.tls_dir / "thrift-server.pem"

    @property
    def tls_keystore(self) -> Path:
        """The server's key and certificate (JKS), readable by the owner only."""
        return self.tls_dir / "thrift-server.jks"

    @property
    def tls_truststore(self) -> Path:
        """The certificate alone (JKS), for JDBC clients: beeline's sslTrustStore."""
        return self.tls_dir / "truststore.jks"

    @property
    def tls_password_file(self) -> Path:
        """The server keystore's password, generated once."""
        return self.tls_dir / "keystore.password"

    @property
    def tls_truststore_password_file(self) -> Path:
        """The truststore's own password (it guards no secret: JDBC URLs carry it)."""
        return self.tls_dir / "truststore.password"

    # --- metastore database (PostgreSQL) -----------------------------------------------
    @property
    def postgres_user(self) -> str:
        return "edtrack"

    @property
    def postgres_password_file(self) -> Path:
        return self.service_dir("postgres") / "edtrack.password"

    @property
    def metastore_jdbc_url(self) -> str:
        if self.metastore_db == "postgres":
            return f"jdbc:postgresql://{self.host}:{self.ports['postgres']}/metastore"
        return f"jdbc:derby:;databaseName={self.service_dir('metastore')}/metastore_db;create=true"

    def settings(self) -> dict[str, str]:
        """The choices that `stack up` persists for later commands."""
        return {
            "auth": self.auth,
            "tls": "on" if self.tls else "off",
            "metastore": self.metastore_db,
            "table_format": self.table_format,
            "host": self.host,
            "nodes": str(self.nodes),
        }

    def endpoint_defaults(self) -> dict[str, str]:
        """Where this stack's services answer, keyed as ``core.endpoints`` settings: what
        every command reaches when nothing else is configured."""
        return {
            "kafka.bootstrap_servers": self.kafka_bootstrap,
            "hdfs.url": self.hdfs_url,
            "metastore.uri": self.metastore_uri,
            "thrift.host": self.host,
            "thrift.port": str(self.ports["thrift"]),
            "thrift.auth": "LDAP" if self.auth == "ldap" else "NONE",
            # The seeded directory user with LDAP; any name without (edtrack's own).
            "thrift.user": self.ldap_user if self.auth == "ldap" else Login.user,
            # Once made (stack/tls.py): the certificate clients trust.
            **(
                {"thrift.ssl_cafile": str(self.tls_cert_file)}
                if self.tls and self.tls_cert_file.is_file()
                else {}
            ),
            # Once rendered: how HDFS clients reach the DataNode (by its hostname).
            **(
                {"hdfs.conf_dir": str(self.hdfs_conf_dir)}
                if (self.hdfs_conf_dir / "hdfs-site.xml").is_file()
                else {}
            ),
        }

    def client_env(self) -> dict[str, str]:
        """Environment that points edtrack commands and dbt at this stack."""
        return {
            "EDTRACK_STATE_DIR": str(self.state_dir),
            "EDTRACK_CACHE_DIR": str(self.cache_dir),
            "EDTRACK_PORT_OFFSET": str(self.port_offset),
            "EDTRACK_TABLE_FORMAT": self.table_format,
            **{f"EDTRACK_{name.upper()}_PORT": str(port) for name, port in self.ports.items()},
            "DBT_THRIFT_HOST": self.host,
            "DBT_THRIFT_PORT": str(self.ports["thrift"]),
            "DBT_PROFILES_DIR": str(PROJECT_ROOT / "profiles"),
            # dbt's profiles turn TLS on when a CA file is named (profiles/profiles.yml).
            **({"EDTRACK_THRIFT_SSL_CAFILE": str(self.tls_cert_file)} if self.tls else {}),
        }


def is_loopback(host: str) -> bool:
    """Whether ``host`` is an IPv4 loopback address (127.0.0.0/8)."""
    try:
        return ipaddress.IPv4Address(host).is_loopback
    except ValueError:
        return False


def settings_path(state_dir: Path) -> Path:
    return state_dir / SETTINGS_FILE


def load_settings(state_dir: Path) -> dict[str, str]:
    """What the last `stack up` on ``state_dir`` chose (auth, metastore); {} if none."""
    path = settings_path(state_dir)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except ValueError:
        raise UserError(f"{path} is not valid JSON; delete it and run 'stack up' again.") from None
    kept = ("auth", "tls", "metastore", "table_format", "host", "nodes")
    return {k: str(v) for k, v in data.items() if k in kept}


def load_ports(state_dir: Path) -> dict[str, int]:
    """The ports the last `stack up` on ``state_dir`` used; {} if none were saved."""
    path = settings_path(state_dir)
    try:
        ports = json.loads(path.read_text()).get("ports", {})
    except (FileNotFoundError, ValueError, AttributeError):
        return {}
    return {str(k): int(v) for k, v in ports.items()} if isinstance(ports, dict) else {}


def save_settings(config: StackConfig) -> None:
    path = settings_path(config.state_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    saved = {**config.settings(), "ports": dict(config.ports)}
    path.write_text(json.dumps(saved, indent=2) + "\n")


def _parse_int(value: str, name: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise UserError(f"{name} must be a whole number, not {value!r}.") from None


_SWITCH = {"on": True, "true": True, "1": True, "off": False, "false": False, "0": False}


def _parse_switch(value: str, name: str) -> bool:
    try:
        return _SWITCH[value.strip().lower()]
    except KeyError:
        raise UserError(f"{name} must be on or off, not {value!r}.") from None


def from_env(
    env: Mapping[str, str] | None = None,
    *,
    state_dir: str | Path | None = None,
    cache_dir: str | Path | None = None,
    port_offset: int | None = None,
    auth: str | None = None,
    metastore: str | None = None,
    table_format: str | None = None,
    tls: bool | None = None,
    nodes: int | None = None,
) -> StackConfig:
    """Build the configuration from flags (keyword arguments) over environment variables.

    Flags win over ``EDTRACK_*`` variables, which win over the declared defaults.
    ``EDTRACK_<NAME>_PORT`` sets one port; ``EDTRACK_PORT_OFFSET`` shifts the defaults.
    Auth, TLS, metastore backend and table format: flag, then ``EDTRACK_AUTH`` /
    ``EDTRACK_TLS`` / ``EDTRACK_METASTORE`` / ``EDTRACK_TABLE_FORMAT``, then what the last
    `stack up` on the same state dir chose (``stack.json``), then the default. The same
    for the node count (``EDTRACK_NODES``); a stack of several nodes defaults to host
    ``CLUSTER_HOST`` and the PostgreSQL metastore.
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
    kwargs: dict[str, object] = {"ports": ports, "port_offset": port_offset}
    state = state_dir or env.get("EDTRACK_STATE_DIR")
    if state:
        kwargs["state_dir"] = Path(state).expanduser().resolve()
    cache = cache_dir or env.get("EDTRACK_CACHE_DIR")
    if cache:
        kwargs["cache_dir"] = Path(cache).expanduser().resolve()
    if env.get("JAVA_HOME"):
        kwargs["java_home"] = Path(env["JAVA_HOME"])
    persisted = load_settings(Path(kwargs.get("state_dir", StackConfig.state_dir)))  # type: ignore[arg-type]
    if nodes is None and (env.get("EDTRACK_NODES") or persisted.get("nodes")):
        nodes = _parse_int(env.get("EDTRACK_NODES") or persisted["nodes"], "EDTRACK_NODES")
    if nodes is not None:
        kwargs["nodes"] = nodes
        if int(persisted.get("nodes", "1") if persisted else nodes) != nodes:
            # Another topology's choices do not carry over; `up` refuses the change.
            persisted = {}
    chosen_host = env.get("EDTRACK_STACK_HOST") or persisted.get("host")
    if chosen_host:
        kwargs["host"] = chosen_host.strip()
    elif (nodes or 1) > 1:
        kwargs["host"] = CLUSTER_HOST
    chosen_auth = auth or env.get("EDTRACK_AUTH") or persisted.get("auth")
    if chosen_auth:
        kwargs["auth"] = chosen_auth.strip().lower()
    if tls is not None:
        kwargs["tls"] = tls
    elif env.get("EDTRACK_TLS") or persisted.get("tls"):
        kwargs["tls"] = _parse_switch(env.get("EDTRACK_TLS") or persisted["tls"], "EDTRACK_TLS")
    chosen_metastore = metastore or env.get("EDTRACK_METASTORE") or persisted.get("metastore")
    if chosen_metastore:
        kwargs["metastore_db"] = chosen_metastore.strip().lower()
    elif (nodes or 1) > 1:
        kwargs["metastore_db"] = "postgres"
    chosen_format = table_format or env.get("EDTRACK_TABLE_FORMAT") or persisted.get("table_format")
    if chosen_format:
        kwargs["table_format"] = chosen_format.strip().lower()
    if env.get("EDTRACK_START_TIMEOUT"):
        timeout = _parse_int(env["EDTRACK_START_TIMEOUT"], "EDTRACK_START_TIMEOUT")
        if timeout < 1:
            raise UserError("EDTRACK_START_TIMEOUT must be at least 1 (seconds).")
        kwargs["start_timeout_s"] = float(timeout)
    if env.get("EDTRACK_QUERY_TIMEOUT"):
        query_timeout = _parse_int(env["EDTRACK_QUERY_TIMEOUT"], "EDTRACK_QUERY_TIMEOUT")
        if query_timeout < 0:
            raise UserError("EDTRACK_QUERY_TIMEOUT must be 0 (no limit) or more (seconds).")
        kwargs["query_timeout_s"] = query_timeout
    if env.get("EDTRACK_POSTGRES_BIN"):
        kwargs["postgres_bin"] = Path(env["EDTRACK_POSTGRES_BIN"])
    for attr, var in [
        ("thrift_driver_memory", "EDTRACK_THRIFT_DRIVER_MEMORY"),
        ("kafka_heap", "EDTRACK_KAFKA_HEAP"),
    ]:
        if env.get(var):
            kwargs[attr] = env[var]
    return StackConfig(**kwargs)  # type: ignore[arg-type]


def with_ports(config: StackConfig, **ports: int) -> StackConfig:
    return dataclasses.replace(config, ports={**config.ports, **ports})

"""docker-compose.nodes.yml against `edtrack stack up --nodes 3`, service for service.

The generic checks of both compose files are in test_compose.py. Here each broker,
DataNode, Spark daemon, the Thrift Server, the metastore and the landers must have the
settings of the local service of the same name, except where Docker needs otherwise:
daemons listen on every interface of their node, addresses name the node (node1 for
127.0.1.1, as `named` maps them) and data lives in volumes. Each check is a function that
a broken copy must fail too (the tests named ``..._catches_...``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from core.endpoints import BY_KEY
from stack.config import StackConfig
from stack.services.base import Runtime
from tests.unit.compose_files import (
    BROKER_SETTINGS,
    NODES,
    hadoop_xml,
    is_bind,
    key_values,
    local_services,
    mounted_file,
    mounts,
    port_of,
    render_local,
    rendered_file,
    shared_namespace_owner,
)

SERVICES = NODES.services
LOCAL = NODES.local
HDFS_SITE = "/etc/edtrack/hadoop/hdfs-site.xml"
CORE_SITE = "/etc/edtrack/hadoop/core-site.xml"
SPARK_CONF = "/etc/edtrack/spark"
METASTORE_SITE = "/etc/edtrack/metastore/hive-site.xml"
# What a lander is told, as the local stack tells its commands (endpoint_defaults).
ENDPOINTS = ("kafka.bootstrap_servers", "hdfs.url", "metastore.uri", "thrift.host", "thrift.port")


@pytest.fixture(scope="module")
def local(tmp_path_factory) -> StackConfig:
    """The local stack of three nodes, its configuration rendered with default ports."""
    return render_local(3, tmp_path_factory.mktemp("state"))


def local_names(port_name: str) -> list[str]:
    """The local services of one kind (by the port their health check dials)."""
    return [name for name, s in local_services(LOCAL).items() if s.port_name == port_name]


def node_names() -> dict[str, str]:
    """Each node's host address: the name of the compose service that owns its namespace."""
    return {address: name for name, address in NODES.node_addresses().items()}


_NODE_ADDRESS = re.compile(
    r"(?<![\d.])(" + "|".join(map(re.escape, LOCAL.node_hosts)) + r")(?![\d])"
)


def named(text: str) -> str:
    """``text`` of the local stack with each node's address replaced by its node's name."""
    names = node_names()
    return _NODE_ADDRESS.sub(lambda match: names[match[1]], text)


def test_each_node_is_reached_by_the_name_its_services_use():
    """A node's container is its services' host: its compose network name (the service
    name), its hostname and the address it publishes on are one node's."""
    names = node_names()
    assert set(names) == set(LOCAL.node_hosts)
    for name in names.values():
        assert SERVICES[name].get("hostname") == name
        assert SERVICES[name].get("networks")


# --- Kafka --------------------------------------------------------------------------------


def check_broker(ours: dict[str, str], theirs: dict[str, str]) -> None:
    """The local broker's settings (its node id, the quorum's ids and ports, replication
    and in-sync copies), but for where it listens (every interface of its node), its
    addresses (its node's name) and its log folder (the volume)."""
    assert ours.keys() == theirs.keys()
    differ = {k for k in ours if ours[k] != theirs[k]}
    assert differ <= {"listeners", "advertised.listeners", "controller.quorum.voters", "log.dirs"}
    assert ours["listeners"] == re.sub(r"//[^:,]+:", "//0.0.0.0:", theirs["listeners"])
    for key in ("advertised.listeners", "controller.quorum.voters"):
        assert ours[key] == named(theirs[key])
    assert ours["log.dirs"] == "/var/lib/kafka/data"


def broker_settings(name: str) -> dict[str, str]:
    return key_values(mounted_file(SERVICES[name], BROKER_SETTINGS), "=")


def broker_pair(local: StackConfig, name: str) -> tuple[dict[str, str], dict[str, str]]:
    ours = broker_settings(name)
    theirs = key_values(rendered_file(local, name, "kafka-server.properties.j2"), "=")
    return ours, theirs


@pytest.mark.parametrize("name", local_names("kafka"))
def test_broker_matches_the_local_broker_of_its_node(local: StackConfig, name: str):
    ours, theirs = broker_pair(local, name)
    check_broker(ours, theirs)
    volumes = [target for source, target in mounts(SERVICES[name]) if not is_bind(source)]
    assert ours["log.dirs"] in volumes


def _same_node_id(settings: dict) -> None:
    settings["node.id"] = "1"


def _one_copy(settings: dict) -> None:
    settings["default.replication.factor"] = "1"


def _one_in_sync(settings: dict) -> None:
    settings["min.insync.replicas"] = "1"


def _voter_port(settings: dict) -> None:
    settings["controller.quorum.voters"] = settings["controller.quorum.voters"].replace(
        ":9093", ":9094"
    )


def _advertises_node1(settings: dict) -> None:
    settings["advertised.listeners"] = settings["advertised.listeners"].replace("node2", "node1")


@pytest.mark.parametrize(
    "break_it",
    [
        pytest.param(_same_node_id, id="node-id-of-broker-1"),
        pytest.param(_one_copy, id="replication-1"),
        pytest.param(_one_in_sync, id="min-insync-1"),
        pytest.param(_voter_port, id="voters-on-another-port"),
        pytest.param(_advertises_node1, id="advertises-another-node"),
    ],
)
def test_the_broker_check_catches_a_broker_unlike_the_local_one(
    local: StackConfig, break_it: Callable
):
    ours, theirs = broker_pair(local, "kafka-2")
    break_it(ours)
    with pytest.raises(AssertionError):
        check_broker(ours, theirs)


def test_the_brokers_are_formatted_as_one_cluster_of_static_voters():
    """One start script for all three: one cluster id, and no --standalone, which would
    make each broker a quorum of its own."""
    (script,) = {
        mounted_file(SERVICES[name], "/etc/edtrack/kafka/start.sh") for name in local_names("kafka")
    }
    code = [line for line in script.read_text().splitlines() if not line.startswith("#")]
    assert any(re.fullmatch(r"cluster_id=[A-Za-z0-9_-]{22}", line) for line in code)
    assert any('--cluster-id="$cluster_id"' in line for line in code)
    assert not any("--standalone" in line for line in code)


# --- HDFS ---------------------------------------------------------------------------------

BIND_ALL = {"dfs.namenode.rpc-bind-host", "dfs.namenode.http-bind-host"}
LISTEN = {"dfs.datanode.address", "dfs.datanode.http.address", "dfs.datanode.ipc.address"}
DIRS = {"dfs.namenode.name.dir", "dfs.datanode.data.dir"}
NAMED = {
    "dfs.namenode.rpc-address",
    "dfs.namenode.http-address",
    "dfs.namenode.secondary.http-address",
    "dfs.datanode.hostname",
}
# The local DataNodes bind their RPC sockets to their node's address (BoundSocketFactory),
# as all of them share one host's loopback; each container has an address of its own.
LOCAL_SOCKET_BINDING = {"hadoop.rpc.socket.factory.class.default", "edtrack.rpc.bind.address"}


def generic_options(args: list[str]) -> dict[str, str]:
    """Hadoop's ``-D key=value`` options of a command (DataNode parses them)."""
    pairs = [args[i + 1] for i, arg in enumerate(args) if arg == "-D"]
    pairs += [arg[2:] for arg in args if arg.startswith("-D") and arg != "-D"]
    return dict(pair.split("=", 1) for pair in pairs)


def datanode_settings(name: str) -> dict[str, str]:
    """What a DataNode runs with: the shared hdfs-site.xml and its own ``-D`` options."""
    spec = SERVICES[name]
    return {**hadoop_xml(mounted_file(spec, HDFS_SITE)), **generic_options(spec["command"])}


def check_hdfs(ours: dict[str, str], theirs: dict[str, str]) -> None:
    """The local DataNode's settings (three copies, the write pipeline's), but for what
    it binds (every interface of its node), its addresses (node names) and its folders."""
    assert ours.keys() == theirs.keys()
    differ = {k for k in ours if ours[k] != theirs[k]}
    assert differ <= BIND_ALL | LISTEN | DIRS | NAMED
    for key in BIND_ALL:
        assert ours[key] == "0.0.0.0"
    for key in LISTEN:
        assert ours[key] == f"0.0.0.0:{port_of(theirs[key])}"
    for key in DIRS:
        assert ours[key].startswith("file:///data/")
    for key in NAMED:
        assert ours[key] == named(theirs[key])


def hdfs_pair(local: StackConfig, name: str) -> tuple[dict[str, str], dict[str, str]]:
    return datanode_settings(name), hadoop_xml(rendered_file(local, name, "hdfs-site.xml.j2"))


@pytest.mark.parametrize("name", local_names("datanode"))
def test_datanode_matches_the_local_datanode_of_its_node(local: StackConfig, name: str):
    ours, theirs = hdfs_pair(local, name)
    check_hdfs(ours, theirs)
    core = hadoop_xml(mounted_file(SERVICES[name], CORE_SITE))
    local_core = hadoop_xml(rendered_file(local, name, "core-site.xml.j2"))
    assert core.keys() == local_core.keys() - LOCAL_SOCKET_BINDING
    assert core["fs.defaultFS"] == named(local_core["fs.defaultFS"])
    volumes = [target for source, target in mounts(SERVICES[name]) if not is_bind(source)]
    assert Path(ours["dfs.datanode.data.dir"].removeprefix("file://")).parent.as_posix() in volumes


def _one_block_copy(settings: dict) -> None:
    settings["dfs.replication"] = "1"


def _pipeline_of_one_node(settings: dict) -> None:
    settings["dfs.client.block.write.replace-datanode-on-failure.enable"] = "false"


def _registers_node1(settings: dict) -> None:
    settings["dfs.datanode.hostname"] = "node1"


def _ipc_on_loopback(settings: dict) -> None:
    settings["dfs.datanode.ipc.address"] = "127.0.0.1:9867"


@pytest.mark.parametrize(
    "break_it",
    [
        pytest.param(_one_block_copy, id="replication-1"),
        pytest.param(_pipeline_of_one_node, id="one-node-write-pipeline"),
        pytest.param(_registers_node1, id="registers-another-node"),
        pytest.param(_ipc_on_loopback, id="ipc-on-loopback"),
    ],
)
def test_the_hdfs_check_catches_a_datanode_unlike_the_local_one(
    local: StackConfig, break_it: Callable
):
    ours, theirs = hdfs_pair(local, "datanode-2")
    break_it(ours)
    with pytest.raises(AssertionError):
        check_hdfs(ours, theirs)


def test_the_namenode_reads_the_datanodes_configuration():
    """One hdfs-site.xml and core-site.xml for the NameNode and every DataNode (each gives
    its own hostname with -D), whose name folder is the one its entrypoint formats."""
    daemons = ["namenode", *local_names("datanode")]
    for path in (HDFS_SITE, CORE_SITE):
        assert len({mounted_file(SERVICES[name], path) for name in daemons}) == 1, path
    name_dir = hadoop_xml(mounted_file(SERVICES["namenode"], HDFS_SITE))["dfs.namenode.name.dir"]
    assert (
        name_dir.removeprefix("file://")
        == SERVICES["namenode"]["environment"]["ENSURE_NAMENODE_DIR"]
    )


# --- Spark ----------------------------------------------------------------------------------

# Locally these point into the state dir and the jar cache.
LOCAL_PATHS = {
    "spark.driver.extraJavaOptions",
    "spark.local.dir",
    "spark.driver.extraClassPath",
    "spark.executor.extraClassPath",
    "spark.scheduler.allocation.file",
}
SPARK_NAMED = {
    "spark.master",
    "spark.driver.host",
    "spark.sql.warehouse.dir",
    "spark.hadoop.fs.defaultFS",
    "spark.hadoop.hive.metastore.uris",
    "spark.sql.catalog.spark_catalog.uri",
}


def check_spark_defaults(ours: dict[str, str], theirs: dict[str, str]) -> None:
    """The local Thrift Server's settings (its executors' cores and memory among them),
    but for its addresses (node names), where the driver binds (every interface of
    node1), and paths: the executors load the driver's jars, from the image the workers
    share with the Thrift Server. The driver memory comes from SPARK_DRIVER_MEMORY."""
    assert theirs.keys() - ours.keys() == {"spark.driver.memory"}
    assert ours.keys() <= theirs.keys()
    differ = {k for k in ours if ours[k] != theirs[k]}
    assert differ <= LOCAL_PATHS | SPARK_NAMED | {"spark.driver.bindAddress"}
    for key in SPARK_NAMED:
        assert ours[key] == named(theirs[key])
    assert ours["spark.driver.bindAddress"] == "0.0.0.0"
    assert theirs["spark.executor.extraClassPath"] == theirs["spark.driver.extraClassPath"]
    assert ours["spark.executor.extraClassPath"] == ours["spark.driver.extraClassPath"]
    assert ours["spark.scheduler.allocation.file"] == f"file://{SPARK_CONF}/fairscheduler.xml"
    local_options = theirs["spark.driver.extraJavaOptions"].split()
    assert ours["spark.driver.extraJavaOptions"].split() == [
        o for o in local_options if not o.startswith("-Dderby.system.home=")
    ]


def spark_pair(local: StackConfig) -> tuple[dict[str, str], dict[str, str]]:
    ours = key_values(mounted_file(SERVICES["thrift"], f"{SPARK_CONF}/spark-defaults.conf"), None)
    theirs = key_values(rendered_file(local, "thrift", "spark-defaults.conf.j2"), None)
    return ours, theirs


def test_spark_settings_match_the_local_stack(local: StackConfig):
    check_spark_defaults(*spark_pair(local))
    assert "SPARK_DRIVER_MEMORY" in SERVICES["thrift"]["environment"]
    assert SERVICES["thrift"]["environment"]["SPARK_CONF_DIR"] == SPARK_CONF
    client = hadoop_xml(mounted_file(SERVICES["thrift"], f"{SPARK_CONF}/hive-site.xml"))
    local_site = hadoop_xml(rendered_file(local, "thrift", "hive-site.xml.j2"))
    assert client == {key: named(local_site[key]) for key in client}
    pools = mounted_file(SERVICES["thrift"], f"{SPARK_CONF}/fairscheduler.xml").read_text()
    local_pools = rendered_file(local, "thrift", "spark-fairscheduler.xml.j2").read_text()
    assert pools.split("<allocations>")[1] == local_pools.split("<allocations>")[1]


def _local_master(settings: dict) -> None:
    settings["spark.master"] = "local[2]"


def _bigger_executors(settings: dict) -> None:
    settings["spark.executor.memory"] = "2g"


def _driver_on_node2(settings: dict) -> None:
    settings["spark.driver.host"] = "node2"


@pytest.mark.parametrize(
    "break_it",
    [
        pytest.param(_local_master, id="local-master"),
        pytest.param(_bigger_executors, id="executor-memory"),
        pytest.param(_driver_on_node2, id="driver-on-another-node"),
    ],
)
def test_the_spark_check_catches_settings_unlike_the_local_ones(
    local: StackConfig, break_it: Callable
):
    ours, theirs = spark_pair(local)
    break_it(ours)
    with pytest.raises(AssertionError):
        check_spark_defaults(ours, theirs)


def split_args(args: list[str]) -> tuple[list[str], dict[str, str]]:
    """A command's positional arguments and its ``--option value`` pairs."""
    positional, opts = [], {}
    words = iter(args)
    for word in words:
        if word.startswith("--"):
            opts[word] = next(words)
        else:
            positional.append(word)
    return positional, opts


def check_daemon(ours: list[str], theirs: list[str]) -> None:
    """The local daemon's program, main class, master and options (the worker's cores
    and memory among them) on its node's name, but its work folder, inside the image."""
    assert Path(ours[0]).name == Path(theirs[0]).name
    ours_positional, ours_opts = split_args(ours[1:])
    theirs_positional, theirs_opts = split_args(theirs[1:])
    assert ours_positional == [named(arg) for arg in theirs_positional]
    assert ours_opts.keys() == theirs_opts.keys()
    for key, value in theirs_opts.items():
        if key != "--work-dir":
            assert ours_opts[key] == named(value), key


def daemon_pair(name: str) -> tuple[list[str], list[str]]:
    return SERVICES[name]["command"], local_services(LOCAL)[name].command(Runtime(LOCAL))


@pytest.mark.parametrize("name", [*local_names("spark_master"), *local_names("spark_worker")])
def test_spark_daemon_matches_the_local_one_of_its_node(name: str):
    check_daemon(*daemon_pair(name))
    ours_env = SERVICES[name]["environment"]
    theirs_env = local_services(LOCAL)[name].environment(LOCAL)
    # Executors keep their scratch files in the container's /tmp, Spark's default.
    assert ours_env.keys() - {"SPARK_CONF_DIR"} == theirs_env.keys() - {"SPARK_LOCAL_DIRS"}
    for key in ours_env.keys() - {"SPARK_CONF_DIR"}:
        assert ours_env[key] == named(theirs_env[key]), key


def _two_cores(args: list[str]) -> None:
    args[args.index("--cores") + 1] = "2"


def _more_memory(args: list[str]) -> None:
    args[args.index("--memory") + 1] = "2g"


def _on_node3(args: list[str]) -> None:
    args[args.index("--host") + 1] = "node3"


def _master_on_node2(args: list[str]) -> None:
    args[args.index("spark://node1:7077")] = "spark://node2:7077"


@pytest.mark.parametrize(
    "break_it",
    [
        pytest.param(_two_cores, id="cores"),
        pytest.param(_more_memory, id="memory"),
        pytest.param(_on_node3, id="host-of-another-node"),
        pytest.param(_master_on_node2, id="master-elsewhere"),
    ],
)
def test_the_daemon_check_catches_a_worker_unlike_the_local_one(break_it: Callable):
    ours, theirs = daemon_pair("spark-worker-1")
    ours = list(ours)
    break_it(ours)
    with pytest.raises(AssertionError):
        check_daemon(ours, theirs)


# --- metastore ------------------------------------------------------------------------------


def test_metastore_settings_match_the_local_stack_except_the_database(local: StackConfig):
    ours = hadoop_xml(mounted_file(SERVICES["metastore"], METASTORE_SITE))
    theirs = hadoop_xml(rendered_file(local, "metastore", "hive-site.xml.j2"))
    # Both on PostgreSQL: here the compose service `postgres`, schema made by schematool,
    # the login from the container's environment.
    database = {
        "javax.jdo.option.ConnectionURL",
        "javax.jdo.option.ConnectionUserName",
        "javax.jdo.option.ConnectionPassword",
        "hive.metastore.schema.verification",
    }
    assert ours.keys() - database == theirs.keys() - {"hive.metastore.uris"} - database
    assert {k: ours[k] for k in ours.keys() - database} == {
        k: named(theirs[k]) for k in ours.keys() - database
    }
    assert ours["javax.jdo.option.ConnectionURL"].startswith("jdbc:postgresql://postgres:5432/")
    assert ours["hive.metastore.schema.verification"] == "true"


# --- per-node health checks -----------------------------------------------------------------


def own_node_marks() -> list:
    """(service, what its health check must name): the broker's node id, the name the
    DataNode registers, the worker's host."""
    marks = [(name, f"(id: {broker_settings(name)['node.id']} ") for name in local_names("kafka")]
    marks += [
        (name, f"Hostname: {datanode_settings(name)['dfs.datanode.hostname']}")
        for name in local_names("datanode")
    ]
    marks += [
        (name, f"//{split_args(SERVICES[name]['command'])[1]['--host']}:")
        for name in local_names("spark_worker")
    ]
    return [pytest.param(name, mark, id=name) for name, mark in marks]


@pytest.mark.parametrize(("name", "mark"), own_node_marks())
def test_health_check_asks_after_its_own_node(name: str, mark: str):
    assert mark in SERVICES[name]["healthcheck"]["test"][1]


# --- landers --------------------------------------------------------------------------------

LANDERS = [name for name, spec in SERVICES.items() if spec.get("command", [""])[0] == "land"]


def check_lander(spec: dict, endpoints: dict[str, str]) -> None:
    """A lander of the group that finds the local stack's services by node name."""
    assert "--group" in spec["command"]
    for key in ENDPOINTS:
        assert spec["environment"][BY_KEY[key].env] == named(endpoints[key]), key


@pytest.mark.parametrize("name", LANDERS)
def test_lander_joins_the_group_and_finds_the_services_by_node_name(name: str):
    check_lander(SERVICES[name], LOCAL.endpoint_defaults())


def _alone(spec: dict) -> None:
    spec["command"].remove("--group")


def _one_broker(spec: dict) -> None:
    spec["environment"][BY_KEY["kafka.bootstrap_servers"].env] = "node1:9092"


@pytest.mark.parametrize(
    "break_it", [pytest.param(_alone, id="no-group"), pytest.param(_one_broker, id="one-broker")]
)
def test_the_lander_check_catches_a_lander_unlike_the_group(break_it: Callable):
    spec = {
        "command": list(SERVICES[LANDERS[0]]["command"]),
        "environment": dict(SERVICES[LANDERS[0]]["environment"]),
    }
    break_it(spec)
    with pytest.raises(AssertionError):
        check_lander(spec, LOCAL.endpoint_defaults())


def group_id(args: list[str]) -> str | None:
    """The lander's --group-id, None for the default."""
    return args[args.index("--group-id") + 1] if "--group-id" in args else None


def test_the_landers_share_one_group_from_different_nodes():
    assert len(LANDERS) >= 2
    assert len({shared_namespace_owner(SERVICES[name]) for name in LANDERS}) == len(LANDERS)
    assert len({group_id(SERVICES[name]["command"]) for name in LANDERS}) == 1
    states = [source for name in LANDERS for source, _ in mounts(SERVICES[name])]
    assert len(set(states)) == len(LANDERS), "each lander keeps its own state"


def test_the_publisher_sends_to_every_broker():
    key = BY_KEY["kafka.bootstrap_servers"]
    expected = named(LOCAL.endpoint_defaults()[key.key])
    assert SERVICES["publisher"]["environment"][key.env] == expected

"""A stack of three nodes (`stack up --nodes 3`): its addresses, services and rendered
configuration, without starting anything. The integration test starts it."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from core.errors import UserError
from stack import process
from stack.config import from_env, save_settings
from stack.launcher import Stack, render_configs, rendered_files
from stack.services import services_for


def cluster(tmp_path: Path, **env: str):
    return from_env({"EDTRACK_PORT_OFFSET": "2000", **env}, state_dir=tmp_path, nodes=3)


def properties(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines())
    return {k: v for k, v in (p for p in pairs if len(p) == 2 and not p[0].startswith("#"))}


def hadoop(path: Path) -> dict[str, str]:
    root = ET.parse(path).getroot()
    return {p.findtext("name"): p.findtext("value") for p in root.iter("property")}


def test_three_nodes_take_three_addresses_and_a_postgres_metastore(tmp_path):
    config = cluster(tmp_path)
    assert config.node_hosts == ("127.0.1.1", "127.0.1.2", "127.0.1.3")
    assert config.host == "127.0.1.1"
    assert config.metastore_db == "postgres"
    assert config.replication == 3
    assert config.kafka_bootstrap == "127.0.1.1:11092,127.0.1.2:11092,127.0.1.3:11092"
    assert config.endpoint_defaults()["kafka.bootstrap_servers"] == config.kafka_bootstrap


def test_the_nodes_follow_a_chosen_first_address(tmp_path):
    config = cluster(tmp_path, EDTRACK_STACK_HOST="127.0.5.7")
    assert config.node_hosts == ("127.0.5.7", "127.0.5.8", "127.0.5.9")


def test_one_node_is_the_stack_as_before(tmp_path):
    config = from_env({}, state_dir=tmp_path)
    assert (config.nodes, config.node_hosts, config.replication) == (1, ("127.0.0.1",), 1)
    assert config.kafka_bootstrap == "127.0.0.1:9092"
    names = [s.name for s in services_for(config)]
    assert names == ["kafka", "namenode", "metastore", "datanode", "thrift"]


@pytest.mark.parametrize(
    "env, nodes, says",
    [
        ({}, 2, "on 1 or 3 nodes, not 2"),
        ({"EDTRACK_METASTORE": "derby"}, 3, "PostgreSQL"),
        ({"EDTRACK_STACK_HOST": "127.255.255.254"}, 3, "would leave 127.0.0.0/8"),
    ],
    ids=["two-nodes", "derby", "past-loopback"],
)
def test_an_impossible_cluster_is_refused_in_one_sentence(tmp_path, env, nodes, says):
    with pytest.raises(UserError, match=says):
        from_env(env, state_dir=tmp_path, nodes=nodes)


def test_each_node_runs_its_own_broker_datanode_and_worker(tmp_path):
    config = cluster(tmp_path)
    services = {s.name: s for s in services_for(config)}
    assert list(services) == [
        "kafka-1",
        "kafka-2",
        "kafka-3",
        "namenode",
        "postgres",
        "metastore",
        "datanode-1",
        "datanode-2",
        "datanode-3",
        "spark-master",
        "spark-worker-1",
        "spark-worker-2",
        "thrift",
    ]
    hosts = {name: s.host(config) for name, s in services.items()}
    assert [hosts[f"kafka-{n}"] for n in (1, 2, 3)] == list(config.node_hosts)
    assert [hosts[f"datanode-{n}"] for n in (1, 2, 3)] == list(config.node_hosts)
    assert hosts["spark-worker-1"] == "127.0.1.2" and hosts["spark-worker-2"] == "127.0.1.3"
    assert {hosts[n] for n in ("namenode", "metastore", "spark-master", "thrift")} == {"127.0.1.1"}
    assert set(services["thrift"].requires) >= {
        "metastore",
        "datanode-1",
        "datanode-2",
        "datanode-3",
        "spark-master",
        "spark-worker-1",
        "spark-worker-2",
    }


def test_the_brokers_form_one_quorum_and_keep_three_copies(tmp_path):
    config = cluster(tmp_path)
    render_configs(config)
    controller = config.ports["kafka_controller"]
    voters = ",".join(f"{n}@127.0.1.{n}:{controller}" for n in (1, 2, 3))
    for node in (1, 2, 3):
        props = properties(tmp_path / f"kafka-{node}" / "server.properties")
        assert props["node.id"] == str(node)
        assert props["controller.quorum.voters"] == voters
        assert "controller.quorum.bootstrap.servers" not in props
        assert props["listeners"] == (
            f"PLAINTEXT://127.0.1.{node}:{config.ports['kafka']},"
            f"CONTROLLER://127.0.1.{node}:{controller}"
        )
        assert props["log.dirs"] == str(tmp_path / f"kafka-{node}" / "data")
        for key in (
            "default.replication.factor",
            "offsets.topic.replication.factor",
            "transaction.state.log.replication.factor",
        ):
            assert props[key] == "3", key
        assert props["min.insync.replicas"] == props["transaction.state.log.min.isr"] == "2"


def test_each_datanode_binds_its_node_and_hdfs_keeps_three_copies(tmp_path):
    config = cluster(tmp_path)
    render_configs(config)
    client = hadoop(tmp_path / "hdfs/conf/hdfs-site.xml")
    assert client["dfs.replication"] == "3"
    # The one-node shortcut is off: a failed DataNode is replaced in a write pipeline.
    assert "dfs.client.block.write.replace-datanode-on-failure.enable" not in client
    assert client["dfs.namenode.rpc-address"] == f"127.0.1.1:{config.ports['namenode']}"
    for node in (1, 2, 3):
        site = hadoop(tmp_path / f"hdfs/datanode-{node}/conf/hdfs-site.xml")
        assert site["dfs.datanode.address"] == f"127.0.1.{node}:{config.ports['datanode']}"
        assert site["dfs.datanode.hostname"] == f"127.0.1.{node}"
        assert site["dfs.datanode.data.dir"] == f"file://{tmp_path}/hdfs/data-{node}"
        assert site["dfs.namenode.rpc-address"] == client["dfs.namenode.rpc-address"]
        # It reaches the NameNode from its own address, which registers it as that node.
        core = hadoop(tmp_path / f"hdfs/datanode-{node}/conf/core-site.xml")
        assert core["edtrack.rpc.bind.address"] == f"127.0.1.{node}"
        assert core["hadoop.rpc.socket.factory.class.default"] == "BoundSocketFactory"
    assert "edtrack.rpc.bind.address" not in hadoop(tmp_path / "hdfs/conf/core-site.xml")
    files = {relative for _, relative in rendered_files(config)}
    assert "hdfs/datanode-3/conf/core-site.xml" in files


def test_the_thrift_server_submits_to_the_standalone_master(tmp_path):
    config = cluster(tmp_path)
    render_configs(config)
    spark = properties_spaced(tmp_path / "spark/conf/spark-defaults.conf")
    assert spark["spark.master"] == f"spark://127.0.1.1:{config.ports['spark_master']}"
    assert spark["spark.cores.max"] == "2"
    # Executors load the table format as the driver does.
    assert spark["spark.executor.extraClassPath"] == spark["spark.driver.extraClassPath"]
    alone = from_env({}, state_dir=tmp_path / "alone")
    render_configs(alone)
    one = properties_spaced(tmp_path / "alone/spark/conf/spark-defaults.conf")
    assert one["spark.master"] == "local[2]" and "spark.cores.max" not in one


def properties_spaced(path: Path) -> dict[str, str]:
    rows = (line.split(None, 1) for line in path.read_text().splitlines())
    return {r[0]: r[1].strip() for r in rows if len(r) == 2 and not r[0].startswith("#")}


def test_a_state_dir_keeps_its_node_count(tmp_path, monkeypatch):
    save_settings(from_env({}, state_dir=tmp_path))
    spawned: list = []
    monkeypatch.setattr(process, "spawn", lambda *a, **k: spawned.append(a))
    with pytest.raises(UserError, match="made with 1 node"):
        Stack(cluster(tmp_path), log=lambda m: None).up()
    assert spawned == []


def test_the_node_count_comes_from_the_environment_and_is_kept_for_later_commands(tmp_path):
    config = from_env({"EDTRACK_NODES": "3"}, state_dir=tmp_path)
    assert (config.nodes, config.host, config.metastore_db) == (3, "127.0.1.1", "postgres")
    save_settings(config)
    again = from_env({}, state_dir=tmp_path)
    assert (again.nodes, again.node_hosts) == (3, config.node_hosts)
    assert again.metastore_db == "postgres"
    with pytest.raises(UserError, match="EDTRACK_NODES must be a whole number"):
        from_env({"EDTRACK_NODES": "three"}, state_dir=tmp_path / "other")

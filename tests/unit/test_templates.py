import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from core.project import PROJECT_ROOT
from stack.config import from_env
from stack.launcher import render_configs, rendered_files
from stack.services import hdfs
from stack.services.base import Runtime
from stack.services.kafka import kafka_cluster_id


@pytest.fixture
def rendered(tmp_path: Path) -> Path:
    config = from_env({"EDTRACK_PORT_OFFSET": "1000"}, state_dir=tmp_path)
    render_configs(config)
    return tmp_path


def hadoop_properties(path: Path) -> dict[str, str]:
    root = ET.parse(path).getroot()
    return {p.findtext("name"): p.findtext("value") for p in root.iter("property")}


def properties(path: Path) -> dict[str, str]:
    pairs = (
        line.split("=", 1)
        for line in path.read_text().splitlines()
        if line and not line.startswith("#") and "=" in line
    )
    return {k.strip(): v.strip() for k, v in pairs}


def test_every_template_is_rendered(rendered: Path):
    config = from_env({"EDTRACK_PORT_OFFSET": "1000"}, state_dir=rendered)
    for _, relative in rendered_files(config):
        assert (rendered / relative).stat().st_size > 0, relative


def test_kafka_listens_on_loopback_in_kraft_combined_mode(rendered: Path):
    props = properties(rendered / "kafka/server.properties")
    assert props["process.roles"] == "broker,controller"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:10092,CONTROLLER://127.0.0.1:10093"
    assert props["controller.quorum.bootstrap.servers"] == "127.0.0.1:10093"
    assert props["log.dirs"] == str(rendered / "kafka" / "data")
    assert props["auto.create.topics.enable"] == "false"


def test_hdfs_daemons_bind_every_address_to_loopback(rendered: Path):
    props = hadoop_properties(rendered / "hdfs/conf/hdfs-site.xml")
    for key in (
        "dfs.namenode.rpc-address",
        "dfs.namenode.http-address",
        "dfs.datanode.address",
        "dfs.datanode.http.address",
        "dfs.datanode.ipc.address",
    ):
        assert props[key].startswith("127.0.0.1:"), key
    assert props["dfs.namenode.rpc-address"] == "127.0.0.1:9020"
    assert props["dfs.replication"] == "1"
    core = hadoop_properties(rendered / "hdfs/conf/core-site.xml")
    assert core["fs.defaultFS"] == "hdfs://127.0.0.1:9020"


def test_metastore_and_spark_share_one_metastore_and_an_hdfs_warehouse(rendered: Path):
    for relative in ("metastore/conf/hive-site.xml", "spark/conf/hive-site.xml"):
        props = hadoop_properties(rendered / relative)
        assert props["hive.metastore.uris"] == "thrift://127.0.0.1:10083"
        assert props["hive.metastore.warehouse.dir"] == "hdfs://127.0.0.1:9020/warehouse"
        assert props["hive.async.log.enabled"] == "false"
    derby = hadoop_properties(rendered / "metastore/conf/hive-site.xml")
    assert str(rendered / "metastore" / "metastore_db") in derby["javax.jdo.option.ConnectionURL"]
    spark = (rendered / "spark/conf/spark-defaults.conf").read_text()
    assert "spark.sql.warehouse.dir                   hdfs://127.0.0.1:9020/warehouse" in spark
    assert "spark.driver.bindAddress                  127.0.0.1" in spark


def test_the_namenode_preparation_writes_the_webapps_and_formats_once(tmp_path: Path):
    runtime = Runtime(from_env({}, state_dir=tmp_path), log=lambda line: None)
    formatted: list[list[str]] = []
    runtime.run_once = lambda what, cmd, user=None: formatted.append(cmd)
    hdfs.format_namenode(runtime)
    for app in ("hdfs", "datanode"):
        assert (tmp_path / "hdfs/webapps" / app / "WEB-INF/web.xml").exists()
    assert formatted[0][-3:] == [hdfs.NAMENODE_MAIN, "-format", "-nonInteractive"]
    (tmp_path / "hdfs/name/current").mkdir(parents=True)
    (tmp_path / "hdfs/name/current/VERSION").write_text("formatted")
    hdfs.format_namenode(runtime)
    assert len(formatted) == 1


def test_kafka_cluster_ids_are_22_urlsafe_characters_and_random():
    ids = {kafka_cluster_id() for _ in range(50)}
    assert len(ids) == 50
    assert all(
        len(i) == 22
        and set(i) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        for i in ids
    )


def spark_defaults(path: Path) -> dict[str, str]:
    pairs = (
        line.split(None, 1)
        for line in path.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    )
    return {k: v.strip() for k, v in pairs}


@pytest.mark.parametrize(
    ("env", "timeout"),
    [
        pytest.param({}, "0", id="no-limit-by-default"),
        pytest.param({"EDTRACK_QUERY_TIMEOUT": "90"}, "90", id="operator-limit"),
    ],
)
def test_the_thrift_server_serves_any_dbt_project(tmp_path: Path, env, timeout):
    """Hive serde tables with dynamic partitions, statements on the background pool
    (dbt's query_timeout), and the operator's statement timeout (docs/stack.md)."""
    render_configs(from_env(env, state_dir=tmp_path))
    conf = spark_defaults(tmp_path / "spark/conf/spark-defaults.conf")
    assert conf["spark.hadoop.hive.exec.dynamic.partition.mode"] == "nonstrict"
    assert conf["spark.sql.hive.thriftServer.async"] == "true"
    assert conf["spark.sql.thriftServer.queryTimeout"] == timeout


def test_the_thrift_server_schedules_fairly_between_the_pools_dbt_and_clients_use(
    rendered: Path,
):
    conf = spark_defaults(rendered / "spark/conf/spark-defaults.conf")
    assert conf["spark.scheduler.mode"] == "FAIR"
    allocation = conf["spark.scheduler.allocation.file"]
    assert allocation == f"file://{rendered}/spark/conf/fairscheduler.xml"
    pools = {
        pool.get("name"): {child.tag: child.text for child in pool}
        for pool in ET.parse(allocation.removeprefix("file://")).getroot()
    }
    assert set(pools) == {"default", "builds"}
    # Each pool is owed a core when both wait, so neither starves the other; inside a
    # pool, FIFO: Spark's FAIR order between task sets starves some stages by their names.
    assert all(p["minShare"] == "1" and p["schedulingMode"] == "FIFO" for p in pools.values())
    profiles = yaml.safe_load((PROJECT_ROOT / "profiles/profiles.yml").read_text())
    key = "set:hiveconf:spark.sql.thriftserver.scheduler.pool"
    for name, output in profiles["edtrack"]["outputs"].items():
        assert "'builds'" in output["server_side_parameters"][key], name

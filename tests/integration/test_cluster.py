"""The pipeline on a stack of three nodes (`stack up --nodes 3`), each on its own loopback
address: three Kafka brokers in one quorum, a DataNode on each node, Spark's standalone
master and two workers, the metastore on PostgreSQL.

Publishing goes to a topic of three copies, two landers in one group land it, the
files get HDFS's three copies, `dbt build` runs in executors on the workers, and the
client answers equal plain Python's on the same records. A broker killed while
publishing loses and duplicates nothing.
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request

import pytest

from core.project import PROJECT_ROOT
from ingestion.generate import generate, write
from ingestion.topic import topic_size
from tests.reliability.reconcile import Place, reconcile

from .conftest import BIN, Cli, private_stack
from .expected import popularity, scores

pytestmark = pytest.mark.integration
OFFSET_SHIFT = 1100  # beside the main stack (+0) and the other private ones (+500-+900)
RECORDS = 600
KILL_RECORDS = 20_000  # several seconds of publishing: the kill lands in the middle
TOPIC = "assessment-attempts"


@pytest.fixture(scope="module")
def cluster():
    with private_stack("cluster", OFFSET_SHIFT, nodes=3) as launcher:
        yield launcher


@pytest.fixture(scope="module")
def ccli(cluster) -> Cli:
    return Cli(cluster.config)


@pytest.fixture(scope="module")
def landed(cluster, ccli, tmp_path_factory):
    """RECORDS attempts published, landed by two landers in one group, built by dbt."""
    records = list(generate(RECORDS, seed=11, days=4))
    export = tmp_path_factory.mktemp("cluster") / "export.jsonl"
    write(iter(records), export)
    ccli.run("publish", str(export))
    ccli.run("land", "--processes", "2", "--until-caught-up", timeout=900)
    ccli.dbt("build")
    return records


def test_each_node_runs_its_services_on_its_own_address(cluster):
    rows = {row["service"]: row for row in cluster.status()}
    assert all(row["healthy"] for row in rows.values()), rows
    nodes = cluster.config.node_hosts
    assert nodes == ("127.0.1.1", "127.0.1.2", "127.0.1.3")
    for service in ("kafka", "datanode"):
        assert [rows[f"{service}-{n}"]["host"] for n in (1, 2, 3)] == list(nodes)
    assert [rows[f"spark-worker-{n}"]["host"] for n in (1, 2)] == list(nodes[1:])
    for service in ("namenode", "metastore", "postgres", "spark-master", "thrift"):
        assert rows[service]["host"] == nodes[0], service


def test_the_topic_keeps_three_copies_and_needs_two_for_a_write(cluster, landed):
    from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=cluster.config.kafka_bootstrap)
    try:
        (topic,) = admin.describe_topics([TOPIC])
        replicas = {len(p["replica_nodes"]) for p in topic["partitions"]}
        in_sync = {len(p["isr_nodes"]) for p in topic["partitions"]}
        leaders = {p["leader_id"] for p in topic["partitions"]}
        configs = admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, TOPIC)], config_filter="all"
        )
    finally:
        admin.close()
    assert replicas == {3} and in_sync == {3}
    assert leaders <= {1, 2, 3} and len(topic["partitions"]) == 3
    assert configs["topic"][TOPIC]["min.insync.replicas"]["value"] == "2"


def test_landed_files_get_three_copies(cluster, landed):
    from hdfs_native import Client

    config = cluster.config
    client = Client(config.hdfs_url, config_dir=str(config.hdfs_conf_dir))
    files = [s for s in client.list_status("/edtrack/raw", recursive=True) if not s.isdir]
    landed_files = [s for s in files if s.path.endswith(".jsonl")]
    assert landed_files, files
    assert {s.replication for s in landed_files} == {3}


def test_dbt_builds_on_the_workers_and_answers_as_plain_python(cluster, ccli, landed):
    config = cluster.config
    base = f"http://{config.host}:{config.ports['spark_ui']}/api/v1/applications"
    with urllib.request.urlopen(base, timeout=10) as answer:
        (app,) = json.load(answer)
    with urllib.request.urlopen(f"{base}/{app['id']}/allexecutors", timeout=10) as answer:
        executors = json.load(answer)
    worked = {e["hostPort"].rsplit(":", 1)[0] for e in executors if e["id"] != "driver"}
    assert worked == set(config.node_hosts[1:])
    assert sum(e["totalTasks"] for e in executors if e["id"] != "driver") > 0
    rows = ccli.sql("select base_exam_id, distinct_attempts from marts.mart_exam_popularity")
    expected = {exam: e["distinct_attempts"] for exam, e in popularity(landed).items()}
    assert {r["base_exam_id"]: r["distinct_attempts"] for r in rows} == expected
    rows = ccli.sql("select base_exam_id, scored_attempts from marts.mart_exam_scores")
    expected_scores = {exam: s["scored_attempts"] for exam, s in scores(landed).items()}
    assert {r["base_exam_id"]: r["scored_attempts"] for r in rows} == expected_scores


def test_a_broker_killed_while_publishing_loses_and_duplicates_nothing(
    cluster, ccli, landed, tmp_path
):
    """Kafka elects new leaders for the dead broker's partitions; the publisher and the
    lander go on without a restart. Every message lands once, with its bytes."""
    place = Place(topic="cluster-broker-kill", root="/edtrack/raw-broker-kill", schema="raw_kill")
    export = tmp_path / "more.jsonl"
    write(generate(KILL_RECORDS, seed=12, days=2), export)
    publisher = subprocess.Popen(
        [str(BIN / "edtrack"), "publish", str(export), "--topic", place.topic],
        env=ccli.env,
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        sent_at_kill = first_records(cluster.config.kafka_bootstrap, place.topic, publisher)
        assert cluster.kill_service("kafka-2")
        out, err = publisher.communicate(timeout=600)
    finally:
        if publisher.poll() is None:
            publisher.kill()
    try:
        assert 0 < sent_at_kill < KILL_RECORDS, "the broker died before or after publishing"
        assert publisher.returncode == 0, err[-3000:]
        assert f"published {KILL_RECORDS:,} of {KILL_RECORDS:,}" in err + out, err[-2000:]
        ccli.run("land", *place.args, "--until-caught-up", timeout=900)
        result = reconcile(cluster.config, place)
        assert result.ok and result.on_topic == KILL_RECORDS, result.describe()
        assert result.raw + result.quarantined == KILL_RECORDS
    finally:
        cluster.start_service("kafka-2")


def first_records(bootstrap: str, topic: str, publisher: subprocess.Popen) -> int:
    """Wait until the publisher's first records are on the topic; return how many."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and publisher.poll() is None:
        sent = topic_size(bootstrap, topic)
        if sent:
            return sent
        time.sleep(0.05)
    raise AssertionError(f"nothing reached {topic} (publisher exit {publisher.poll()})")

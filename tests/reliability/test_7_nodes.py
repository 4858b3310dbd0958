"""Nodes of a three-node stack (`stack up --nodes 3`) failing under the pipeline:

- a Kafka broker SIGKILLed while attempts are published and two landers land them;
- a lander of a group of two SIGKILLed: the other takes over its partitions;
- a DataNode SIGKILLed during landing, and another during `dbt build`;
- a DataNode SIGKILLed in the middle of a block the lander's HDFS client writes;
- a Spark worker SIGKILLed during `dbt run`.

A stack of its own, beside the suite's one-node stack. Each scenario ends with the usual
checks: every message once in raw or quarantine with its bytes, landed by the processes
that were running (no restart); HDFS copies again the blocks a dead DataNode held once it
is back; the marts after a build equal the marts before it (the build had no new input).
The services' RSS after the first full build goes to ``nodes_rss.json`` in the results.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from core.project import PROJECT_ROOT
from ingestion.landing.stall import STALL_EXIT_CODE
from ingestion.topic import topic_size
from tests.integration.conftest import Cli, private_stack
from tests.reliability.conftest import LanderProcess, check, land_until_caught_up, publishing
from tests.reliability.data import attempts_file
from tests.reliability.group import (
    Member,
    group_args,
    group_lag,
    held_by,
    land_out,
    wait_for,
)
from tests.reliability.reconcile import LEDGER, Place
from tests.reliability.warehouse import dbt, fingerprints

pytestmark = [pytest.mark.reliability, pytest.mark.reliability_full, pytest.mark.timeout(2700)]

OFFSET_SHIFT = 1200  # beside the reliability stack (+1000) and the integration cluster (+1100)
PLACE = Place()  # the stack's own topic, root and schema: what dbt builds from
SMALL_BATCHES = ("--batch-records", "500", "--batch-age", "1")
STALL = ("--stall-timeout", "60")  # a write round takes seconds here
BROKER_KILL_RECORDS = 40_000  # some seconds of publishing to three copies
LANDER_KILL_RECORDS = 30_000  # a minute of landing in batches of 200
MID_BLOCK_TRIALS = 5
NO_BEST_EFFORT = "dfs.client.block.write.replace-datanode-on-failure.best-effort=false"


@pytest.fixture(scope="module")
def cluster():
    with private_stack("reliability cluster", OFFSET_SHIFT, nodes=3) as launcher:
        yield launcher


@pytest.fixture(scope="module")
def ncli(cluster) -> Cli:
    return Cli(cluster.config)


@pytest.fixture(scope="module")
def built(cluster, ncli, tmp_path_factory) -> dict:
    """The marts' fingerprints after a full build; each service's RSS then, kept. Run
    alone (``-k``), it lands some attempts of its own first."""
    if not topic_size(cluster.config.kafka_bootstrap, PLACE.topic):
        export = attempts_file(tmp_path_factory.mktemp("built"), "built", 2_000, seed=705)
        ncli.run("publish", "--topic", PLACE.topic, str(export))
        land_until_caught_up(ncli, PLACE)
    ncli.dbt("build")
    rss = {row["service"]: row["rss_mb"] for row in cluster.status()}
    print(f"[reliability] RSS after a build (MB): {rss}; total {sum(rss.values())}")
    if os.environ.get("EDTRACK_RELIABILITY_RESULTS"):
        folder = Path(os.environ["EDTRACK_RELIABILITY_RESULTS"])
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "nodes_rss.json").write_text(json.dumps(rss, indent=2) + "\n")
    assert all(rss.values()), rss
    return fingerprints(cluster.config)


def under_replicated(config) -> int:
    """Blocks with fewer copies than they should have, by the NameNode's count."""
    url = (
        f"http://{config.host}:{config.ports['namenode_http']}/jmx"
        "?qry=Hadoop:service=NameNode,name=FSNamesystem"
    )
    with urllib.request.urlopen(url, timeout=10) as answer:
        return int(json.load(answer)["beans"][0]["UnderReplicatedBlocks"])


def test_a_datanode_killed_during_landing_loses_nothing_and_its_blocks_are_copied_again(
    cluster, ncli, tmp_path
):
    """The lander writes on with two DataNodes; should its HDFS client block for good
    (see the mid-block scenario), its stall deadline ends it (exit 75) and a restart
    lands the rest: either way nothing is lost or duplicated."""
    path = attempts_file(tmp_path, "nodes-dn", 20_000, seed=701)
    ncli.run("publish", "--topic", PLACE.topic, str(path))
    lander = LanderProcess(ncli, PLACE, tmp_path / "lander.log", *SMALL_BATCHES, *STALL)
    try:
        time.sleep(4)
        assert lander.proc.poll() is None, lander.tail()
        assert cluster.kill_service("datanode-3")
        LEDGER.fault("datanode-3 SIGKILLed during landing")
        time.sleep(8)
        assert lander.proc.poll() in (None, STALL_EXIT_CODE), lander.tail()
        code = lander.stop(timeout=300)
        assert code in (0, STALL_EXIT_CODE), lander.tail()
        print(f"[reliability] the lander {'stalled' if code else 'wrote on'} (exit {code})")
    finally:
        lander.kill()
    land_until_caught_up(ncli, PLACE, *SMALL_BATCHES)
    check(cluster.config, PLACE, "datanode SIGKILLed during landing (3 nodes)", faults=1)
    back_and_copied_again(cluster, "datanode-3")


def test_a_datanode_killed_mid_block_the_landers_client_writes_on_or_stalls_never_fails(
    cluster, tmp_path
):
    """With three DataNodes none is left to replace one that dies in a write pipeline.
    The stack's client settings (best-effort replacement) let the write go on with the
    two others; without them hdfs-native failed the write ("No new datanode found in
    updated block locations"), which stopped the lander. hdfs-native can also block for
    good in that recovery (the lander's ``--stall-timeout`` ends it for a restart): each
    trial writes in a process of its own, and a stall is counted, not failed."""
    outcomes = []
    for trial in range(MID_BLOCK_TRIALS):
        outcomes.append(mid_block_trial(cluster, trial, f"/edtrack/mid-block-{trial}.bin"))
    # The control: the same with best-effort off, as Hadoop's default has it.
    controls = [
        mid_block_trial(cluster, trial, f"/edtrack/mid-block-control-{trial}.bin", NO_BEST_EFFORT)
        for trial in range(2)
    ]
    counts = {o: outcomes.count(o) for o in ("written", "stalled", "failed")}
    print(
        f"[reliability] a DataNode killed mid-block, {len(outcomes)} trials: {counts}; "
        f"without best-effort: {controls}"
    )
    assert counts["failed"] == 0, outcomes
    assert counts["written"] > 0, outcomes
    assert "failed" in controls and "written" not in controls, controls


def mid_block_trial(cluster, trial: int, path: str, *setting: str) -> str:
    """One file written by ``mid_block`` whose open block's pipeline holds every DataNode
    (none is spare); one of them (the first, second or third by ``trial``) is SIGKILLed
    meanwhile. The result: "written" (all 12 MiB there), "stalled" (no return in 120 s)
    or "failed"."""
    config = cluster.config
    writer, pipeline = full_pipeline_writer(config, path, setting)
    victim = f"datanode-{config.node_hosts.index(pipeline[trial % 3]) + 1}"
    try:
        assert cluster.kill_service(victim)
        LEDGER.fault(f"{victim}, {trial % 3 + 1} of 3 in a pipeline, SIGKILLed mid-block")
        time.sleep(2)
        writer.stdin.write("\n")
        writer.stdin.flush()
        try:
            out, _ = writer.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            return "stalled"
        if writer.returncode == 0 and f"written {12 * 2**20}" in out:
            return "written"
        print(f"[reliability] the write with {victim} killed failed: {out[-300:]}")
        return "failed"
    finally:
        if writer.poll() is None:
            writer.kill()
            writer.wait(30)
        cluster.start_service(victim)


def full_pipeline_writer(config, path: str, setting) -> tuple[subprocess.Popen, list[str]]:
    """``mid_block`` paused in its first block, once the NameNode has put every DataNode
    in the block's pipeline (a DataNode just started again is left out for a while: with
    two in the pipeline, the third would take a dead one's place)."""
    for attempt in range(10):
        where = f"{path}.{attempt}"  # a killed writer's file stays open a while
        writer = subprocess.Popen(
            [sys.executable, "-m", "tests.reliability.mid_block"]
            + [config.hdfs_url, str(config.hdfs_conf_dir), where, *setting],
            cwd=PROJECT_ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert writer.stdout.readline().strip() == "open", writer.stdout.read()
        pipeline = pipeline_of(config, where)
        if len(pipeline) == len(config.node_hosts):
            return writer, pipeline
        writer.kill()
        writer.wait(30)
        time.sleep(5)
    raise AssertionError(f"the NameNode kept writing {path} to {pipeline} only")


def pipeline_of(config, path: str) -> list[str]:
    """The DataNodes (node addresses) writing the open last block of ``path``, in the
    pipeline's order, by the NameNode."""
    url = (
        f"http://{config.host}:{config.ports['namenode_http']}/webhdfs/v1{path}"
        "?op=GET_BLOCK_LOCATIONS"
    )
    with urllib.request.urlopen(url, timeout=10) as answer:
        located = json.load(answer)["LocatedBlocks"]
    assert located["isUnderConstruction"], located
    return [node["ipAddr"] for node in located["lastLocatedBlock"]["locations"]]


def back_and_copied_again(cluster, datanode: str) -> None:
    """Start ``datanode`` again and wait until HDFS has copied again every block written
    while it was away (two copies each: the NameNode counts them under-replicated)."""
    missing = under_replicated(cluster.config)
    cluster.start_service(datanode)
    deadline = time.monotonic() + 600
    while (left := under_replicated(cluster.config)) and time.monotonic() < deadline:
        time.sleep(3)
    print(f"[reliability] under-replicated blocks: {missing} with {datanode} away, {left} after")
    assert missing > 0, f"nothing was written while {datanode} was away"
    assert left == 0, f"{left} blocks still have fewer than 3 copies"


def dbt_underway(ncli, where: Path, command: str) -> tuple[subprocess.Popen, Path]:
    """``dbt <command> --full-refresh`` started, once two models are built."""
    run = dbt(ncli, where, command, "--full-refresh")
    log = where / f"dbt-{command}.out"
    deadline = time.monotonic() + 600
    while log.read_text().count(" OK created ") < 2:
        assert run.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
        time.sleep(0.5)
    return run, log


@pytest.mark.parametrize(
    ("service", "command"),
    [
        pytest.param("spark-worker-1", "run", id="spark-worker-during-dbt-run"),
        pytest.param("datanode-2", "build", id="datanode-during-dbt-build"),
    ],
)
def test_a_node_killed_during_a_full_refresh_the_dbt_command_completes_the_same(
    cluster, ncli, built, tmp_path, service: str, command: str
):
    """A worker: the command completes on the other. A DataNode: Spark's HDFS clients
    read the other copies and write on with two DataNodes, every test of the build
    passes, and once it is back HDFS copies again the blocks written without it."""
    run, log = dbt_underway(ncli, tmp_path / "dbt", command)
    assert cluster.kill_service(service)
    LEDGER.fault(f"{service} SIGKILLed during dbt {command}")
    try:
        code = run.wait(1500)
        assert code == 0, f"dbt {command} failed:\n{log.read_text()[-4000:]}"
        assert fingerprints(cluster.config) == built
    finally:
        if service.startswith("datanode"):
            back_and_copied_again(cluster, service)
        else:
            cluster.start_service(service)


def test_a_broker_killed_while_publishing_and_landing_loses_and_duplicates_nothing(
    cluster, ncli, tmp_path
):
    """Two landers of one group land while 40,000 attempts are published; the broker
    leading most of the topic's partitions dies. Kafka elects new leaders, and the
    publisher and both landers go on without a restart: the group's lag reaches 0 with
    the same landers running."""
    place = Place("nodes-broker-kill", "/edtrack/nodes-broker-kill", "nodes_broker_kill")
    group_id = "nodes-broker-kill"
    group = group_args(group_id)
    bootstrap = cluster.config.kafka_bootstrap
    ncli.run("publish", "--topic", place.topic, str(attempts_file(tmp_path, "first", 500, 702)))
    landers = Member(ncli, place, tmp_path, "landers", *group, *SMALL_BATCHES, processes=2)
    export = attempts_file(tmp_path, "nodes-broker", BROKER_KILL_RECORDS, seed=703)
    publisher = victim = None
    try:
        wait_for(
            lambda: group_lag(bootstrap, group_id, place.topic) == 0,
            "the first 500 landed",
            [landers],
            timeout=180,
        )
        publisher = publishing(ncli, place.topic, export)
        wait_for(
            lambda: topic_size(bootstrap, place.topic) >= 2_500 or publisher.poll() is not None,
            "publishing under way",
            [landers],
        )
        assert publisher.poll() is None, "publishing ended before the kill"
        leaders = partition_leaders(bootstrap, place.topic)
        assert leaders, "the topic's leaders are unknown before the kill"
        victim = max(set(leaders.values()), key=list(leaders.values()).count)
        assert cluster.kill_service(f"kafka-{victim}")
        LEDGER.fault(f"kafka-{victim} SIGKILLed while publishing and landing")
        wait_for(
            lambda: leads_nothing(bootstrap, place.topic, victim),
            f"new leaders for kafka-{victim}'s partitions",
            [landers],
        )
        out, err = publisher.communicate(timeout=900)
        assert publisher.returncode == 0, err[-3000:]
        done = f"published {BROKER_KILL_RECORDS:,} of {BROKER_KILL_RECORDS:,}"
        assert done in err + out, err[-2000:]
        land_out([landers], bootstrap, group_id, place.topic, "the landers catching up")
    finally:
        if publisher is not None and publisher.poll() is None:
            publisher.kill()
        landers.lander.kill()
        if victim is not None:
            cluster.start_service(f"kafka-{victim}")
    result = check(cluster.config, place, "broker SIGKILLed while publishing and landing", 1)
    assert result.on_topic == 500 + BROKER_KILL_RECORDS, result.describe()


def test_a_lander_killed_the_other_of_its_group_takes_over_its_partitions(cluster, ncli, tmp_path):
    place = Place("nodes-lander-kill", "/edtrack/nodes-lander-kill", "nodes_lander_kill")
    group_id = "nodes-lander-kill"
    group = group_args(group_id)
    bootstrap = cluster.config.kafka_bootstrap
    export = attempts_file(tmp_path, "nodes-lander", LANDER_KILL_RECORDS, seed=704)
    ncli.run("publish", "--topic", place.topic, str(export))
    members = [
        Member(ncli, place, tmp_path, name, *group, "--batch-records", "200", "--batch-age", "1")
        for name in ("first", "second")
    ]
    victim, survivor = members
    try:
        wait_for(
            lambda: victim.held() and survivor.held() and held_by(members) == {0, 1, 2},
            "the two landers sharing the three partitions",
            members,
            timeout=180,
        )
        assert group_lag(bootstrap, group_id, place.topic) > 0, "all landed before the kill"
        victim.lander.kill()
        LEDGER.fault("a lander of a group of two SIGKILLed")
        wait_for(
            lambda: survivor.held() == {0, 1, 2},
            "the other lander taking over the dead one's partitions",
            [survivor],
        )
        land_out([survivor], bootstrap, group_id, place.topic, "the other landing everything")
    finally:
        for member in members:
            member.lander.kill()
    result = check(cluster.config, place, "a lander of two SIGKILLed (3 nodes)", faults=1)
    assert result.on_topic == LANDER_KILL_RECORDS, result.describe()


def partition_leaders(bootstrap: str, topic: str) -> dict[int, int] | None:
    """Partition -> the broker leading it; None while the cluster's metadata still names
    a dead broker that the question went to (the controller fences it after its session
    timeout)."""
    from kafka.admin import KafkaAdminClient
    from kafka.errors import KafkaError

    try:
        admin = KafkaAdminClient(bootstrap_servers=bootstrap)
        try:
            (described,) = admin.describe_topics([topic])
        finally:
            admin.close()
    except KafkaError:
        return None
    return {p["partition_index"]: p["leader_id"] for p in described["partitions"]}


def leads_nothing(bootstrap: str, topic: str, broker: int) -> bool:
    """Whether every partition of ``topic`` has a leader other than ``broker``."""
    leaders = partition_leaders(bootstrap, topic)
    return leaders is not None and broker not in leaders.values()

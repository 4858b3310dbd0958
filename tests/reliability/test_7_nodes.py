"""Nodes of a three-node stack (`stack up --nodes 3`) failing under the pipeline: a
DataNode SIGKILLed during landing, and a Spark worker SIGKILLed during `dbt run`.

A stack of its own, beside the suite's one-node stack. Each scenario ends with the usual
checks: every message once in raw or quarantine with its bytes; HDFS copies again the
blocks the dead DataNode held once it is back; the marts after the run equal the marts
before it (the run had no new input).
"""

from __future__ import annotations

import json
import time
import urllib.request

import pytest

from tests.integration.conftest import Cli, private_stack
from tests.reliability.conftest import LanderProcess, check, land_until_caught_up
from tests.reliability.data import attempts_file
from tests.reliability.reconcile import LEDGER, Place
from tests.reliability.warehouse import dbt, fingerprints

pytestmark = [pytest.mark.reliability, pytest.mark.reliability_full, pytest.mark.timeout(2700)]

OFFSET_SHIFT = 1200  # beside the reliability stack (+1000) and the integration cluster (+1100)
PLACE = Place()  # the stack's own topic, root and schema: what dbt builds from
SMALL_BATCHES = ("--batch-records", "500", "--batch-age", "1")


@pytest.fixture(scope="module")
def cluster():
    with private_stack("reliability cluster", OFFSET_SHIFT, nodes=3) as launcher:
        yield launcher


@pytest.fixture(scope="module")
def ncli(cluster) -> Cli:
    return Cli(cluster.config)


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
    path = attempts_file(tmp_path, "nodes-dn", 20_000, seed=701)
    ncli.run("publish", "--topic", PLACE.topic, str(path))
    lander = LanderProcess(ncli, PLACE, tmp_path / "lander.log", *SMALL_BATCHES)
    try:
        time.sleep(4)
        assert lander.proc.poll() is None, lander.tail()
        assert cluster.kill_service("datanode-3")
        LEDGER.fault("datanode-3 SIGKILLed during landing")
        time.sleep(8)  # the lander writes on with two DataNodes
        assert lander.proc.poll() is None, f"the lander stopped:\n{lander.tail()}"
        assert lander.stop(timeout=300) == 0, lander.tail()
    finally:
        lander.kill()
    land_until_caught_up(ncli, PLACE, *SMALL_BATCHES)
    check(cluster.config, PLACE, "datanode SIGKILLed during landing (3 nodes)", faults=1)
    # Files written while it was away have two copies; once it is back, HDFS copies
    # them again (the NameNode counts them under-replicated until then).
    missing = under_replicated(cluster.config)
    cluster.start_service("datanode-3")
    deadline = time.monotonic() + 600
    while (left := under_replicated(cluster.config)) and time.monotonic() < deadline:
        time.sleep(3)
    print(f"[reliability] under-replicated blocks: {missing} with the DataNode away, {left} after")
    assert left == 0, f"{left} blocks still have fewer than 3 copies"


def test_a_spark_worker_killed_during_dbt_run_the_run_completes_on_the_other(
    cluster, ncli, tmp_path
):
    ncli.dbt("build")
    before = fingerprints(cluster.config)
    where = tmp_path / "dbt"
    run = dbt(ncli, where, "run", "--full-refresh")
    log = where / "dbt-run.out"
    deadline = time.monotonic() + 600
    while log.read_text().count(" OK created ") < 2:
        assert run.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
        time.sleep(0.5)
    assert cluster.kill_service("spark-worker-1")
    LEDGER.fault("spark-worker-1 SIGKILLed during dbt run")
    try:
        code = run.wait(1500)
        assert code == 0, f"dbt run failed:\n{log.read_text()[-4000:]}"
        assert fingerprints(cluster.config) == before
    finally:
        cluster.start_service("spark-worker-1")

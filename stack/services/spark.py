"""Spark's standalone cluster, on a stack of several nodes: a master on node 1 and a
worker on each other node, from pyspark's own jars. The Thrift Server submits to the
master, so queries and dbt builds run in executors on the workers' nodes."""

from __future__ import annotations

import json
import urllib.request

from core.net import port_open
from stack.config import NODE_COUNTS, StackConfig
from stack.services.base import Runtime, Service, Unhealthy, spark_home

MASTER_MAIN = "org.apache.spark.deploy.master.Master"
WORKER_MAIN = "org.apache.spark.deploy.worker.Worker"
# Each worker offers one core and this much memory, for one executor: two workers give
# the Thrift Server the two cores `local[2]` has on one node.
WORKER_CORES = 1
WORKER_MEMORY = "1g"
DAEMON_MEMORY = "256m"


def master_url(config: StackConfig) -> str:
    return f"spark://{config.host}:{config.ports['spark_master']}"


def worker_name(worker: int) -> str:
    return f"spark-worker-{worker}"


def worker_names(config: StackConfig) -> tuple[str, ...]:
    """The workers ``config`` runs: one on each node but the first."""
    return tuple(worker_name(w) for w in range(1, config.nodes))


def _cluster_state(config: StackConfig) -> dict:
    """The master's own account of the cluster (its web UI's /json)."""
    url = f"http://{config.host}:{config.ports['spark_master_ui']}/json/"
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return json.load(answer)
    except (OSError, ValueError) as exc:
        raise Unhealthy(f"the Spark master's status page did not answer: {exc}") from exc


def check_master(config: StackConfig) -> None:
    if not port_open(config.host, config.ports["spark_master"]):
        raise Unhealthy(f"nothing listens on {master_url(config)}")
    status = _cluster_state(config).get("status")
    if status != "ALIVE":
        raise Unhealthy(f"the master is {status}, not ALIVE")


def check_worker(config: StackConfig, worker: int) -> None:
    """The worker listens on its node and the master counts it alive."""
    host = config.node_host(worker + 1)
    if not port_open(host, config.ports["spark_worker"]):
        raise Unhealthy(f"nothing listens on {host}:{config.ports['spark_worker']}")
    alive = {
        w.get("host")
        for w in _cluster_state(config).get("workers", [])
        if w.get("state") == "ALIVE"
    }
    if host not in alive:
        raise Unhealthy(f"the master does not count it alive (alive: {sorted(alive) or 'none'})")


def _daemon_env(config: StackConfig, host: str, folder: str) -> dict[str, str]:
    return {
        "SPARK_LOCAL_IP": host,
        "SPARK_DAEMON_MEMORY": DAEMON_MEMORY,
        # Executors' scratch space (shuffle files, spills), under the worker's folder.
        "SPARK_LOCAL_DIRS": str(config.service_dir(folder) / "tmp"),
    }


def _prepare(rt: Runtime, folder: str) -> None:
    for sub in ("work", "tmp"):
        (rt.config.service_dir(folder) / sub).mkdir(parents=True, exist_ok=True)


def _enabled(config: StackConfig) -> bool:
    return config.nodes > 1


MASTER = Service(
    "spark-master",
    check_master,
    lambda rt: [
        str(spark_home() / "bin" / "spark-class"),
        MASTER_MAIN,
        "--host",
        rt.config.host,
        "--port",
        str(rt.config.ports["spark_master"]),
        "--webui-port",
        str(rt.config.ports["spark_master_ui"]),
    ],
    enabled=_enabled,
    prepare=lambda rt: _prepare(rt, "spark-master"),
    node=1,
    port="spark_master",
    environment=lambda config: _daemon_env(config, config.host, "spark-master"),
)


def worker(number: int) -> Service:
    """Worker ``number`` (1-based), on node ``number + 1``."""
    folder = worker_name(number)
    return Service(
        folder,
        lambda config: check_worker(config, number),
        lambda rt: [
            str(spark_home() / "bin" / "spark-class"),
            WORKER_MAIN,
            master_url(rt.config),
            "--host",
            rt.config.node_host(number + 1),
            "--port",
            str(rt.config.ports["spark_worker"]),
            "--webui-port",
            str(rt.config.ports["spark_worker_ui"]),
            "--cores",
            str(WORKER_CORES),
            "--memory",
            WORKER_MEMORY,
            "--work-dir",
            str(rt.config.service_dir(folder) / "work"),
        ],
        enabled=lambda config: config.nodes > 1 and number < config.nodes,
        needs=lambda config: ("spark-master",),
        prepare=lambda rt: _prepare(rt, folder),
        node=number + 1,
        port="spark_worker",
        environment=lambda config: _daemon_env(config, config.node_host(number + 1), folder),
    )


# A cluster's workers, on every node but the first (``StackConfig.nodes``).
WORKERS = tuple(worker(number) for number in range(1, max(NODE_COUNTS)))

"""Kafka: one broker that is its own KRaft controller, or, on a stack of several nodes,
a broker on each node, all three controllers of one KRaft quorum."""

from __future__ import annotations

import base64
import contextlib
import os
import uuid

from core.net import port_open
from stack.config import NODE_COUNTS, StackConfig
from stack.services.base import Runtime, Service, Unhealthy, alone_or_on_node

HEALTH_TOPIC = "edtrack-health"


def name(node: int) -> str:
    """The broker's service name: ``kafka`` alone, ``kafka-<node>`` on a node."""
    return f"kafka-{node}" if node else "kafka"


def kafka_cmd(rt: Runtime, node: int, *args: str) -> list[str]:
    """A JVM on Kafka's jars, running ``args`` (a main class and its arguments)."""
    kdir = rt.config.service_dir(name(node))
    return [
        rt.java(),
        *rt.jvm_opts(rt.config.kafka_heap),
        f"-Dlog4j2.configurationFile={kdir / 'log4j2.properties'}",
        "-cp",
        str(rt.config.jars_dir / "kafka" / "*"),
        *args,
    ]


def kafka_cluster_id() -> str:
    """A Kafka cluster id: 16 random bytes, URL-safe base64 without padding."""
    return base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("=")


def format_storage(rt: Runtime, node: int) -> None:
    """Format the broker's log folder once. Every broker of a cluster takes the cluster id
    of ``kafka/cluster-id``; one broker alone is a quorum by itself (``--standalone``),
    a cluster's brokers know their quorum from ``controller.quorum.voters``."""
    kdir = rt.config.service_dir(name(node))
    (kdir / "data").mkdir(parents=True, exist_ok=True)
    id_file = rt.config.service_dir("kafka") / "cluster-id"
    id_file.parent.mkdir(parents=True, exist_ok=True)
    if not id_file.exists():
        id_file.write_text(kafka_cluster_id())
    if (kdir / "data" / "meta.properties").exists():
        return
    rt.log(f"formatting {name(node)}'s storage (once)")
    rt.run_once(
        f"{name(node)}-format",
        kafka_cmd(
            rt,
            node,
            "kafka.tools.StorageTool",
            "format",
            *(() if node else ("--standalone",)),
            "--ignore-formatted",
            # '=' form: a base64 id may start with '-'
            f"--cluster-id={id_file.read_text().strip()}",
            f"--config={kdir / 'server.properties'}",
        ),
    )


def settings(config: StackConfig, node: int) -> dict[str, object]:
    """The broker's own values for ``kafka-server.properties.j2``."""
    host = config.node_host(node) if node else config.host
    voters = ",".join(
        f"{i}@{h}:{config.ports['kafka_controller']}"
        for i, h in enumerate(config.node_hosts, start=1)
    )
    return {
        "kafka": {
            "node_id": node or 1,
            "host": host,
            "voters": voters if node else "",
            "data_dir": str(config.service_dir(name(node)) / "data"),
            # Each partition on every broker (at most three); a write counts once two
            # of them have it.
            "replication": config.replication,
            "min_insync": 2 if config.replication >= 3 else 1,
        }
    }


def check(config: StackConfig, timeout_s: float = 10.0, node: int = 0) -> None:
    """Produce one message to the health topic and consume that same message back; on a
    node, through that node's broker, which must also be a member of the cluster."""
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition
    from kafka.admin import KafkaAdminClient, NewTopic
    from kafka.errors import KafkaError, TopicAlreadyExistsError

    host = config.node_host(node) if node else config.host
    bootstrap = f"{host}:{config.ports['kafka']}"
    if not port_open(host, config.ports["kafka"]):
        raise Unhealthy(f"nothing listens on {bootstrap}")
    token = uuid.uuid4().hex.encode()
    timeout_ms = int(timeout_s * 1000)
    try:
        admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=timeout_ms)
        try:
            if node:
                brokers = admin.describe_cluster()["brokers"]
                members = {b["broker_id"] for b in brokers if not b.get("is_fenced")}
                if node not in members:
                    raise Unhealthy(
                        f"broker {node} is not an active member of the cluster (members: "
                        f"{', '.join(map(str, sorted(members))) or 'none'})"
                    )
            if HEALTH_TOPIC not in admin.list_topics():
                with contextlib.suppress(TopicAlreadyExistsError):
                    # The brokers' replication factor (-1): one copy on each, at most 3.
                    admin.create_topics([NewTopic(HEALTH_TOPIC, 1, -1)])
        finally:
            admin.close()
        producer = KafkaProducer(bootstrap_servers=bootstrap, request_timeout_ms=timeout_ms)
        try:
            meta = producer.send(HEALTH_TOPIC, token).get(timeout=timeout_s)
        finally:
            producer.close()
        consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        try:
            tp = TopicPartition(HEALTH_TOPIC, meta.partition)
            consumer.assign([tp])
            consumer.seek(tp, meta.offset)
            for records in consumer.poll(timeout_ms=timeout_ms, max_records=1).values():
                if records and records[0].value == token:
                    return
        finally:
            consumer.close()
    except KafkaError as exc:
        raise Unhealthy(f"Kafka round trip failed: {exc}") from exc
    raise Unhealthy("produced a message but could not consume it back")


def broker(node: int = 0) -> Service:
    """The broker alone (``node`` 0), or the broker of node ``node`` of a cluster."""
    folder = name(node)
    return Service(
        folder,
        lambda config: check(config, node=node),
        lambda rt: kafka_cmd(
            rt, node, "kafka.Kafka", str(rt.config.service_dir(folder) / "server.properties")
        ),
        enabled=alone_or_on_node(node),
        configs=(
            ("kafka-server.properties.j2", f"{folder}/server.properties"),
            ("kafka-log4j2.properties.j2", f"{folder}/log4j2.properties"),
        ),
        prepare=lambda rt: format_storage(rt, node),
        node=node,
        port="kafka",
        template_values=lambda config: settings(config, node),
    )


SERVICE = broker()
# A cluster's brokers, one per node (``StackConfig.nodes``).
BROKERS = tuple(broker(node) for node in range(1, max(NODE_COUNTS) + 1))

"""Kafka: one broker that is its own KRaft controller."""

from __future__ import annotations

import base64
import contextlib
import os
import uuid

from core.net import port_open
from stack.config import StackConfig
from stack.services.base import Runtime, Service, Unhealthy

HEALTH_TOPIC = "edtrack-health"


def kafka_cmd(rt: Runtime, *args: str) -> list[str]:
    """A JVM on Kafka's jars, running ``args`` (a main class and its arguments)."""
    kdir = rt.config.service_dir("kafka")
    return [
        rt.java(),
        *rt.jvm_opts(rt.config.kafka_heap),
        f"-Dlog4j2.configurationFile={kdir / 'log4j2.properties'}",
        "-cp",
        str(rt.config.jars_dir / "kafka" / "*"),
        *args,
    ]


def command(rt: Runtime) -> list[str]:
    return kafka_cmd(rt, "kafka.Kafka", str(rt.config.service_dir("kafka") / "server.properties"))


def kafka_cluster_id() -> str:
    """A Kafka cluster id: 16 random bytes, URL-safe base64 without padding."""
    return base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("=")


def format_storage(rt: Runtime) -> None:
    kdir = rt.config.service_dir("kafka")
    id_file = kdir / "cluster-id"
    if not id_file.exists():
        id_file.write_text(kafka_cluster_id())
    if (kdir / "data" / "meta.properties").exists():
        return
    rt.log("formatting Kafka storage (once)")
    rt.run_once(
        "kafka-format",
        kafka_cmd(
            rt,
            "kafka.tools.StorageTool",
            "format",
            "--standalone",
            "--ignore-formatted",
            # '=' form: a base64 id may start with '-'
            f"--cluster-id={id_file.read_text().strip()}",
            f"--config={kdir / 'server.properties'}",
        ),
    )


def check(config: StackConfig, timeout_s: float = 10.0) -> None:
    """Produce one message to the health topic and consume that same message back."""
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition
    from kafka.admin import KafkaAdminClient, NewTopic
    from kafka.errors import KafkaError, TopicAlreadyExistsError

    bootstrap = config.kafka_bootstrap
    if not port_open(config.host, config.ports["kafka"]):
        raise Unhealthy(f"nothing listens on {bootstrap}")
    token = uuid.uuid4().hex.encode()
    timeout_ms = int(timeout_s * 1000)
    try:
        admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=timeout_ms)
        try:
            if HEALTH_TOPIC not in admin.list_topics():
                with contextlib.suppress(TopicAlreadyExistsError):
                    admin.create_topics([NewTopic(HEALTH_TOPIC, 1, 1)])
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


SERVICE = Service(
    "kafka",
    check,
    command,
    configs=(
        ("kafka-server.properties.j2", "kafka/server.properties"),
        ("kafka-log4j2.properties.j2", "kafka/log4j2.properties"),
    ),
    prepare=format_storage,
)

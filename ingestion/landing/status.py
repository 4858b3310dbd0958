"""``edtrack land --status``: the lag of the lander's consumer group, from Kafka's
committed offsets, with the running lander's own figures when it reports."""

from __future__ import annotations

import json
import os
from pathlib import Path

from core.net import require_kafka
from ingestion.landing.lander import LandConfig
from ingestion.landing.lock import holder, member_status_paths


def _alive(pid: object) -> bool:
    """Whether a process of this machine with that pid runs."""
    if not isinstance(pid, int):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def status(config: LandConfig, lock: Path | None = None) -> dict[str, object]:
    """Per-partition lag of the lander's consumer group, from Kafka's committed offsets,
    with the running lander's own figures (rate, files, quarantined) when it reports."""
    from kafka import KafkaConsumer, TopicPartition

    require_kafka(config.bootstrap, security=config.security)
    consumer = KafkaConsumer(
        bootstrap_servers=config.bootstrap,
        group_id=config.group_id,
        enable_auto_commit=False,
        **config.security,
    )
    try:
        partitions = sorted(consumer.partitions_for_topic(config.topic) or ())
        tps = [TopicPartition(config.topic, p) for p in partitions]
        starts = consumer.beginning_offsets(tps) if tps else {}
        ends = consumer.end_offsets(tps) if tps else {}
        rows = []
        for tp in tps:
            committed = consumer.committed(tp)
            done = starts[tp] if committed is None else committed
            rows.append(
                {
                    "partition": tp.partition,
                    "committed": committed,
                    "end": ends[tp],
                    "lag": max(0, ends[tp] - done),
                }
            )
    finally:
        consumer.close()
    pid = holder(lock) if lock is not None else None
    report = None
    if config.status_path is not None and config.status_path.exists():
        report = json.loads(config.status_path.read_text())
    members = []
    if config.status_path is not None:
        for path in member_status_paths(config.status_path):
            member = json.loads(path.read_text())
            members.append({**member, "running": _alive(member.get("pid"))})
    return {
        "topic": config.topic,
        "group": config.group_id,
        "running": pid is not None,
        "pid": pid,
        "partitions": rows,
        "total_lag": sum(r["lag"] for r in rows),
        "last_report": report,
        "group_landers": members,  # the last reports of landers run with --group
    }

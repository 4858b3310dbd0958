"""The one place a lander is connected to the real Kafka, HDFS and Thrift Server: the
CLI (``edtrack land`` and ``replay``), the demo, the benchmark and the tests all land
through :func:`land`."""

from __future__ import annotations

import dataclasses
import os
import signal
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

from core import sql
from core.net import require_kafka
from ingestion.catalog import Catalog, Tables
from ingestion.landing.faults import Faults
from ingestion.landing.lander import LandConfig, Lander, Replay, Stats
from ingestion.landing.lock import exclusive, lock_path, member_status_path, status_path
from ingestion.landing.store import HdfsStore


def in_run_dir(config: LandConfig, run_dir: Path) -> LandConfig:
    """``config`` writing its status file where ``edtrack land --status`` reads it (in a
    group, one file per lander process)."""
    path = status_path(run_dir, config.topic, config.root)
    if config.group:
        path = member_status_path(path, os.getpid())
    return dataclasses.replace(config, status_path=path)


def member_report(pid: int) -> Callable[[str], None]:
    """Progress lines of one lander of a group, which name it: several write to one
    terminal."""

    def report(line: str) -> None:
        print(f"[lander {pid}] {line}", file=sys.stderr, flush=True)

    return report


def make_consumer(config: LandConfig):
    from kafka import KafkaConsumer

    require_kafka(config.bootstrap, security=config.security)
    return KafkaConsumer(
        bootstrap_servers=config.bootstrap,
        **config.security,
        group_id=config.group_id,
        session_timeout_ms=int(config.session_timeout_s * 1000),
        heartbeat_interval_ms=max(1000, int(config.session_timeout_s * 1000) // 3),
        metadata_max_age_ms=config.metadata_max_age_ms,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=max(config.max_message_bytes * 2, 1024 * 1024) * 8,
        fetch_max_bytes=config.fetch_max_bytes,
    )


def make_hdfs_client(hdfs_url: str, user: str | None = None, conf_dir: Path | None = None):
    """An HDFS client of ``hdfs_url`` (a NameNode or an HA nameservice, which
    ``conf_dir``'s hdfs-site.xml, else ``HADOOP_CONF_DIR``'s, defines), acting as
    ``user``: hdfs-native takes that from ``HADOOP_USER_NAME``, so it is set for this
    process."""
    from hdfs_native import Client

    if user is not None:
        os.environ["HADOOP_USER_NAME"] = user
    return Client(hdfs_url, config_dir=str(conf_dir) if conf_dir is not None else None)


def land(
    config: LandConfig,
    hdfs_url: str,
    thrift_host: str,
    thrift_port: int,
    *,
    run_dir: Path | None = None,
    login: sql.Login | None = None,
    hdfs_user: str | None = None,
    hdfs_conf_dir: Path | None = None,
    thrift_ssl_cafile: Path | None = None,
    until_caught_up: bool = False,
    report: Callable[[str], None] | None = None,
    handle_signals: bool = False,
    replays: Iterable[Replay] = (),
) -> Stats:
    """Run a lander until stopped (SIGTERM or SIGINT with ``handle_signals``) or, with
    ``until_caught_up``, until its lag is zero; close every connection it opened.

    ``run_dir``: where the lock that keeps it the only lander of its topic and root on
    this machine is held (not in a group: the group shares the topic), and where it
    writes the status file ``edtrack land --status`` reads (None: no lock, and the
    status file ``config`` names). ``login``: for a Thrift Server with LDAP auth on;
    ``thrift_ssl_cafile``: for one behind TLS. ``hdfs_user``, ``hdfs_conf_dir``: see
    :func:`make_hdfs_client`.
    """
    lock = None
    if run_dir is not None:
        lock = None if config.group else lock_path(run_dir, config.topic, config.root)
        config = in_run_dir(config, run_dir)
    if config.group and report is None:
        report = member_report(os.getpid())
    # A SIGTERM before the lander exists (connecting takes seconds) stops it as soon as
    # it does, with the same clean exit.
    early: list[int] = []
    if handle_signals:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda got, _frame: early.append(got))
    with exclusive(lock, config.topic):
        login = login or sql.Login()
        tables = Tables(hdfs_url, config.root, config.schema)
        connection = sql.connect(
            thrift_host, thrift_port, login.user, login.password, ssl_cafile=thrift_ssl_cafile
        )
        try:
            consumer = make_consumer(config)
            try:
                client = make_hdfs_client(hdfs_url, hdfs_user, hdfs_conf_dir)
                store = HdfsStore(client, tables, Faults(config.fault))
                catalog = Catalog(connection, tables, f"{thrift_host}:{thrift_port}")
                lander = Lander(config, consumer, store, catalog, report=report)
                if handle_signals:
                    signal.signal(signal.SIGTERM, lander.stop)
                    signal.signal(signal.SIGINT, lander.stop)
                    if early:
                        lander.stop()
                return lander.run(until_caught_up=until_caught_up, replays=replays)
            finally:
                consumer.close()
        finally:
            connection.close()

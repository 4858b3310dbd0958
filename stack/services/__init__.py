"""The services of the local stack, one module each (its record ``SERVICE``: command,
configuration files, preparation, health check), listed here in start order.

Adding a service: its module here, its templates in ``stack/templates``, its port in
``stack.config.DEFAULT_PORTS``, one line below, and its tests.
"""

from __future__ import annotations

from dataclasses import replace

from stack.config import StackConfig
from stack.services import hdfs, kafka, ldap, metastore, postgres, spark, thrift
from stack.services.base import Service

# Every service any configuration may run, in start order.
ALL_SERVICES: tuple[Service, ...] = (
    kafka.SERVICE,
    *kafka.BROKERS,
    hdfs.NAMENODE,
    postgres.SERVICE,
    metastore.SERVICE,
    hdfs.DATANODE,
    *hdfs.DATANODES,
    ldap.SERVICE,
    spark.MASTER,
    *spark.WORKERS,
    thrift.SERVICE,
)
SERVICE_NAMES = tuple(s.name for s in ALL_SERVICES)


def services_for(config: StackConfig) -> tuple[Service, ...]:
    """The services ``config`` runs, in start order, each with what it waits for."""
    return tuple(
        replace(service, requires=service.needs(config))
        for service in ALL_SERVICES
        if service.enabled(config)
    )

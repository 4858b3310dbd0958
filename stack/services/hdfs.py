"""HDFS: a NameNode and one DataNode, sharing one configuration folder; on a stack of
several nodes, a DataNode on each node, each with its own folder and configuration."""

from __future__ import annotations

import json
import os
import urllib.request
import uuid
from pathlib import Path

from core.net import port_open
from stack import jars
from stack.config import NODE_COUNTS, StackConfig
from stack.services.base import (
    JAVA_SOURCES,
    Runtime,
    Service,
    Unhealthy,
    alone_or_on_node,
    find_java,
)

NAMENODE_MAIN = "org.apache.hadoop.hdfs.server.namenode.NameNode"
DATANODE_MAIN = "org.apache.hadoop.hdfs.server.datanode.DataNode"


def hdfs_cmd(rt: Runtime, main: str, *args: str, conf: Path | None = None) -> list[str]:
    """A JVM on Hadoop's jars and the stack's HDFS configuration (``conf``: a DataNode's
    own, whose RPC sockets BoundSocketFactory binds to its node's address), running
    ``main``."""
    hdir = rt.config.service_dir("hdfs")
    hadoop_jars = str(rt.config.jars_dir / "hdfs" / "*")
    parts = [str(conf or hdir / "conf"), str(hdir), hadoop_jars]
    if conf is not None:
        parts.append(
            str(
                jars.compile_java(
                    JAVA_SOURCES / "BoundSocketFactory.java",
                    hadoop_jars,
                    rt.config.cache_dir / "classes",
                    find_java(rt.config),
                )
            )
        )
    classpath = os.pathsep.join(parts)
    return [
        rt.java(),
        *rt.jvm_opts(rt.config.hdfs_heap),
        f"-Dhadoop.home.dir={hdir}",
        f"-Dhadoop.log.dir={rt.config.logs_dir}",
        "-cp",
        classpath,
        main,
        *args,
    ]


def format_namenode(rt: Runtime) -> None:
    hdir = rt.config.service_dir("hdfs")
    _write_webapps(hdir / "webapps")
    if (hdir / "name" / "current" / "VERSION").exists():
        return
    rt.log("formatting the HDFS NameNode (once)")
    rt.run_once("namenode-format", hdfs_cmd(rt, NAMENODE_MAIN, "-format", "-nonInteractive"))


def _write_webapps(root) -> None:
    # Hadoop's Maven jars carry no webapps/ folder (only the binary tarball does), but
    # the NameNode and DataNode HTTP servers (WebHDFS, /jmx) refuse to start without it.
    for app in ("hdfs", "datanode", "secondary", "static"):
        (root / app / "WEB-INF").mkdir(parents=True, exist_ok=True)
        (root / app / "WEB-INF" / "web.xml").write_text(
            '<?xml version="1.0"?>\n<web-app version="2.5" '
            'xmlns="http://java.sun.com/xml/ns/javaee"/>\n'
        )
    (root / "hdfs" / "index.html").write_text(
        "<html><body><h1>edtrack local HDFS</h1><p>WebHDFS: <a href='/webhdfs/v1/?op=LISTSTATUS'>"
        "/webhdfs/v1</a>, metrics: <a href='/jmx'>/jmx</a>.</p></body></html>\n"
    )


def _client(config: StackConfig):
    from hdfs_native import Client

    return Client(config.hdfs_url, config_dir=str(config.hdfs_conf_dir))


def check_namenode(config: StackConfig) -> None:
    """The NameNode answers a metadata call and is out of safe mode for writes."""
    if not port_open(config.host, config.ports["namenode"]):
        raise Unhealthy(f"nothing listens on {config.hdfs_url}")
    try:
        info = _client(config).get_file_info("/")
    except Exception as exc:  # hdfs-native raises plain RuntimeError / OSError variants
        raise Unhealthy(f"NameNode did not answer: {exc}") from exc
    if not info.isdir:
        raise Unhealthy("NameNode reports / is not a directory")


def live_datanodes(config: StackConfig) -> set[str]:
    """The DataNodes the NameNode counts live, as ``host:port`` of their data transfer
    (its JMX bean NameNodeInfo)."""
    url = (
        f"http://{config.host}:{config.ports['namenode_http']}/jmx"
        "?qry=Hadoop:service=NameNode,name=NameNodeInfo"
    )
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            beans = json.load(answer)["beans"]
    except (OSError, ValueError, KeyError) as exc:
        raise Unhealthy(f"the NameNode's JMX did not answer: {exc}") from exc
    if not beans:
        raise Unhealthy("the NameNode's JMX has no NameNodeInfo yet")
    return {info["xferaddr"] for info in json.loads(beans[0]["LiveNodes"]).values()}


def check_datanode(config: StackConfig, node: int = 0) -> None:
    """The DataNode is live at the NameNode (on a node), and a file written to HDFS (its
    blocks go to the DataNodes) reads back."""
    host = config.node_host(node) if node else config.host
    address = f"{host}:{config.ports['datanode']}"
    if not port_open(host, config.ports["datanode"]):
        raise Unhealthy(f"nothing listens on {address}")
    if node and address not in (live := live_datanodes(config)):
        raise Unhealthy(f"the NameNode does not count it live (live: {sorted(live) or 'none'})")
    client = _client(config)
    token = uuid.uuid4().hex.encode()
    path = f"/tmp/edtrack-health/{token.decode()}"
    try:
        client.mkdirs("/tmp/edtrack-health", create_parent=True)
        with client.create(path) as writer:
            writer.write(token)
        with client.read(path) as reader:
            back = reader.read()
        client.delete(path)
    except Exception as exc:
        raise Unhealthy(f"HDFS write/read failed: {exc}") from exc
    if back != token:
        raise Unhealthy(f"HDFS read back {back!r}, wrote {token!r}")


def datanode_name(node: int) -> str:
    return f"datanode-{node}" if node else "datanode"


def datanode_settings(config: StackConfig, node: int) -> dict[str, object]:
    """A DataNode's own values for ``hdfs-site.xml.j2``: its address and data folder. The
    stack's client configuration (``hdfs/conf``) carries the first DataNode's."""
    host = config.node_host(node) if node else config.host
    folder = config.service_dir("hdfs") / (f"data-{node}" if node else "data")
    return {"datanode": {"host": host, "data_dir": str(folder)}}


def own_datanode_settings(config: StackConfig, node: int) -> dict[str, object]:
    """A cluster DataNode's values for its own configuration folder: its address, and
    its RPC sockets bound to it."""
    return {**datanode_settings(config, node), "rpc_bind_address": config.node_host(node)}


def datanode_names(config: StackConfig) -> tuple[str, ...]:
    """The DataNodes ``config`` runs."""
    if config.nodes == 1:
        return (datanode_name(0),)
    return tuple(datanode_name(node) for node in range(1, config.nodes + 1))


NAMENODE = Service(
    "namenode",
    check_namenode,
    lambda rt: hdfs_cmd(rt, NAMENODE_MAIN),
    # The single DataNode's too: both daemons read hdfs/conf, as do HDFS's clients.
    configs=(
        ("core-site.xml.j2", "hdfs/conf/core-site.xml"),
        ("hdfs-site.xml.j2", "hdfs/conf/hdfs-site.xml"),
        ("hadoop-log4j.properties.j2", "hdfs/conf/log4j.properties"),
    ),
    prepare=format_namenode,
    template_values=lambda config: datanode_settings(config, 1 if config.nodes > 1 else 0),
)


def datanode(node: int = 0) -> Service:
    """The DataNode alone (``node`` 0), or the DataNode of node ``node`` of a cluster,
    with its configuration in ``hdfs/datanode-<node>/conf``."""
    conf = f"hdfs/{datanode_name(node)}/conf"
    return Service(
        datanode_name(node),
        lambda config: check_datanode(config, node),
        lambda rt: hdfs_cmd(rt, DATANODE_MAIN, conf=rt.config.state_dir / conf if node else None),
        enabled=alone_or_on_node(node),
        needs=lambda config: ("namenode",),
        configs=(
            (
                ("core-site.xml.j2", f"{conf}/core-site.xml"),
                ("hdfs-site.xml.j2", f"{conf}/hdfs-site.xml"),
                ("hadoop-log4j.properties.j2", f"{conf}/log4j.properties"),
            )
            if node
            else ()
        ),
        node=node,
        port="datanode",
        template_values=lambda config: own_datanode_settings(config, node)
        if node
        else datanode_settings(config, 0),
    )


DATANODE = datanode()
# A cluster's DataNodes, one per node (``StackConfig.nodes``).
DATANODES = tuple(datanode(node) for node in range(1, max(NODE_COUNTS) + 1))

"""HDFS: a NameNode and one DataNode, sharing one configuration folder."""

from __future__ import annotations

import os
import uuid

from core.net import port_open
from stack.config import StackConfig
from stack.services.base import Runtime, Service, Unhealthy

NAMENODE_MAIN = "org.apache.hadoop.hdfs.server.namenode.NameNode"
DATANODE_MAIN = "org.apache.hadoop.hdfs.server.datanode.DataNode"


def hdfs_cmd(rt: Runtime, main: str, *args: str) -> list[str]:
    """A JVM on Hadoop's jars and the stack's HDFS configuration, running ``main``."""
    hdir = rt.config.service_dir("hdfs")
    classpath = os.pathsep.join(
        [str(hdir / "conf"), str(hdir), str(rt.config.jars_dir / "hdfs" / "*")]
    )
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


def check_datanode(config: StackConfig) -> None:
    """Write a file to HDFS (its block goes to the DataNode) and read it back."""
    if not port_open(config.host, config.ports["datanode"]):
        raise Unhealthy(f"nothing listens on {config.host}:{config.ports['datanode']}")
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


NAMENODE = Service(
    "namenode",
    check_namenode,
    lambda rt: hdfs_cmd(rt, NAMENODE_MAIN),
    # The DataNode's too: both daemons read hdfs/conf.
    configs=(
        ("core-site.xml.j2", "hdfs/conf/core-site.xml"),
        ("hdfs-site.xml.j2", "hdfs/conf/hdfs-site.xml"),
        ("hadoop-log4j.properties.j2", "hdfs/conf/log4j.properties"),
    ),
    prepare=format_namenode,
)

DATANODE = Service(
    "datanode",
    check_datanode,
    lambda rt: hdfs_cmd(rt, DATANODE_MAIN),
    needs=lambda config: ("namenode",),
)

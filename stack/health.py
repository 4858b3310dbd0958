"""Health checks that prove each service does its job, not just that a port is open.

Each check returns ``None`` when healthy or raises :class:`Unhealthy` with a short reason.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import uuid

from core.net import port_open
from stack.config import StackConfig
from stack.postgres import postgres_bin

HEALTH_TOPIC = "edtrack-health"


class Unhealthy(Exception):
    """A service answered wrongly or not at all."""

    def __str__(self) -> str:  # server errors may carry a Java stack trace: keep line one
        text = super().__str__().strip()
        return text.splitlines()[0] if text else text


def kafka(config: StackConfig, timeout_s: float = 10.0) -> None:
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


def _hdfs_client(config: StackConfig):
    from hdfs_native import Client

    return Client(config.hdfs_url)


def namenode(config: StackConfig) -> None:
    """The NameNode answers a metadata call and is out of safe mode for writes."""
    if not port_open(config.host, config.ports["namenode"]):
        raise Unhealthy(f"nothing listens on {config.hdfs_url}")
    try:
        info = _hdfs_client(config).get_file_info("/")
    except Exception as exc:  # hdfs-native raises plain RuntimeError / OSError variants
        raise Unhealthy(f"NameNode did not answer: {exc}") from exc
    if not info.isdir:
        raise Unhealthy("NameNode reports / is not a directory")


def datanode(config: StackConfig) -> None:
    """Write a file to HDFS (its block goes to the DataNode) and read it back."""
    if not port_open(config.host, config.ports["datanode"]):
        raise Unhealthy(f"nothing listens on {config.host}:{config.ports['datanode']}")
    client = _hdfs_client(config)
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


def metastore_databases(host: str, port: int, timeout_s: float = 10.0) -> list[str]:
    """Call the metastore's ``get_all_databases`` over its Thrift binary protocol."""
    from thrift.protocol import TBinaryProtocol
    from thrift.Thrift import TApplicationException, TMessageType, TType
    from thrift.transport import TSocket, TTransport

    sock = TSocket.TSocket(host, port)
    sock.setTimeout(int(timeout_s * 1000))
    transport = TTransport.TBufferedTransport(sock)
    proto = TBinaryProtocol.TBinaryProtocol(transport)
    transport.open()
    try:
        proto.writeMessageBegin("get_all_databases", TMessageType.CALL, 1)
        proto.writeStructBegin("get_all_databases_args")
        proto.writeFieldStop()
        proto.writeStructEnd()
        proto.writeMessageEnd()
        transport.flush()
        _, mtype, _ = proto.readMessageBegin()
        if mtype == TMessageType.EXCEPTION:
            error = TApplicationException()
            error.read(proto)
            raise Unhealthy(f"metastore error: {error.message}")
        databases: list[str] = []
        proto.readStructBegin()
        while True:
            _, ftype, fid = proto.readFieldBegin()
            if ftype == TType.STOP:
                break
            if fid == 0 and ftype == TType.LIST:
                _, size = proto.readListBegin()
                databases = [proto.readString() for _ in range(size)]
                proto.readListEnd()
            elif fid == 1:
                proto.skip(ftype)
                raise Unhealthy("metastore answered with a MetaException")
            else:
                proto.skip(ftype)
            proto.readFieldEnd()
        proto.readStructEnd()
        proto.readMessageEnd()
        return databases
    finally:
        transport.close()


def metastore(config: StackConfig) -> None:
    """The metastore lists its databases (``default`` always exists)."""
    if not port_open(config.host, config.ports["metastore"]):
        raise Unhealthy(f"nothing listens on {config.metastore_uri}")
    try:
        databases = metastore_databases(config.host, config.ports["metastore"])
    except Unhealthy:
        raise
    except Exception as exc:
        raise Unhealthy(f"metastore call failed: {exc}") from exc
    if "default" not in databases:
        raise Unhealthy(f"metastore lists no 'default' database: {databases}")


def postgres_login(config: StackConfig) -> tuple[str, str]:
    from stack.secrets_file import password

    return config.postgres_user, password(config.postgres_password_file)


def psql(config: StackConfig, database: str, sql: str, timeout_s: float = 20.0) -> str:
    """Run one statement with ``psql`` over TCP as the stack's database user; its output."""
    user, secret = postgres_login(config)
    cmd = [
        str(postgres_bin(config) / "psql"),
        "-h",
        config.host,
        "-p",
        str(config.ports["postgres"]),
        "-U",
        user,
        "-d",
        database,
        "-v",
        "ON_ERROR_STOP=1",
        "-tAc",
        sql,
    ]
    env = {**os.environ, "PGPASSWORD": secret, "PGCONNECT_TIMEOUT": "5"}
    try:
        result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        raise Unhealthy(f"psql took over {timeout_s:.0f} s") from None
    if result.returncode != 0:
        raise Unhealthy(f"psql failed: {result.stderr.strip()}")
    return result.stdout.strip()


def postgres(config: StackConfig) -> None:
    """PostgreSQL accepts the stack's login and answers ``select 1``."""
    address = f"{config.host}:{config.ports['postgres']}"
    if not port_open(config.host, config.ports["postgres"]):
        raise Unhealthy(f"nothing listens on {address}")
    answer = psql(config, "postgres", "select 1")
    if answer != "1":
        raise Unhealthy(f"select 1 returned {answer!r}")


def ldap(config: StackConfig) -> None:
    """The seeded user binds with its password (``ldapwhoami``) and is told its DN."""
    from stack.ldap import find_program

    if not port_open(config.host, config.ports["ldap"]):
        raise Unhealthy(f"nothing listens on {config.ldap_url}")
    dn = config.ldap_user_dn(config.ldap_user)
    cmd = [
        str(find_program("ldapwhoami")),
        "-x",
        "-H",
        config.ldap_url,
        "-D",
        dn,
        "-y",
        str(config.ldap_password_file),
    ]
    try:
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
    except subprocess.TimeoutExpired:
        raise Unhealthy("ldapwhoami took over 10 s") from None
    if result.returncode != 0:
        raise Unhealthy(f"LDAP bind as {dn} failed: {result.stderr.strip()}")
    if result.stdout.strip() != f"dn:{dn}":
        raise Unhealthy(f"LDAP whoami answered {result.stdout.strip()!r}")


def thrift_login(config: StackConfig) -> dict[str, object]:
    """How the stack's own checks log in: the seeded LDAP user when auth is on."""
    if config.auth != "ldap":
        return {"username": "edtrack"}
    from stack.secrets_file import password

    return {
        "username": config.ldap_user,
        "password": password(config.ldap_password_file),
        "auth": "LDAP",
    }


def thrift(config: StackConfig) -> None:
    """``select 1`` over HiveServer2 returns 1."""
    from pyhive import hive

    if not port_open(config.host, config.ports["thrift"]):
        raise Unhealthy(f"nothing listens on {config.host}:{config.ports['thrift']}")
    try:
        conn = hive.connect(host=config.host, port=config.ports["thrift"], **thrift_login(config))
        try:
            cursor = conn.cursor()
            cursor.execute("select 1")
            rows = cursor.fetchall()
        finally:
            conn.close()
    except Exception as exc:
        raise Unhealthy(f"select 1 failed: {exc}") from exc
    if rows != [(1,)]:
        raise Unhealthy(f"select 1 returned {rows!r}")

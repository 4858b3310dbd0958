"""The commands take their addresses from the endpoints (flags > EDTRACK_* > the
endpoints file > the local stack), show them with `edtrack config`, and `stack env`
prints the local stack in the same form."""

from __future__ import annotations

import json
import os
import shlex

from click.testing import CliRunner

from core import endpoints
from edtrack.cli import main
from stack.config import from_env
from tests.unit.test_cli_errors import free_port_offset

# Every setting's variable unset, so that the machine's environment does not leak in.
CLEAN = {setting.env: None for setting in endpoints.SETTINGS}


def run(tmp_path, *args: str, env: dict | None = None):
    return CliRunner().invoke(
        main, ["--state-dir", str(tmp_path), *args], env={**CLEAN, **(env or {})}
    )


def shown(result) -> dict[str, tuple[str, str]]:
    assert result.exit_code == 0, result.output
    return {row["setting"]: (row["value"], row["source"]) for row in json.loads(result.output)}


def test_with_nothing_configured_every_address_is_the_local_stacks(tmp_path):
    rows = shown(run(tmp_path, "--port-offset", "300", "config", "--format", "json"))
    assert rows["kafka.bootstrap_servers"] == ("127.0.0.1:9392", "local stack")
    assert rows["hdfs.url"] == ("hdfs://127.0.0.1:8320", "local stack")
    assert rows["metastore.uri"] == ("thrift://127.0.0.1:9383", "local stack")
    assert rows["thrift.port"] == ("10300", "local stack")
    assert rows["thrift.auth"] == ("NONE", "local stack")
    assert rows["thrift.user"] == ("edtrack", "local stack")  # the login commands use
    assert rows["kafka.security_protocol"] == ("PLAINTEXT", "default")
    assert rows["kafka.sasl_password"] == ("-", "not set")


def test_a_flag_beats_the_environment_which_beats_the_file(tmp_path):
    toml = tmp_path / "edtrack.toml"
    toml.write_text(
        '[kafka]\nbootstrap_servers = ["file1:9092", "file2:9092"]\n'
        '[thrift]\nhost = "sts.file"\nport = 10001\n'
        '[hdfs]\nurl = "hdfs://analytics"\n'
    )
    rows = shown(
        run(
            tmp_path,
            "--config",
            str(toml),
            "--thrift-host",
            "sts.flag",
            "config",
            "--format",
            "json",
            env={"EDTRACK_THRIFT_HOST": "sts.env", "EDTRACK_THRIFT_PORT": "10002"},
        )
    )
    assert rows["thrift.host"] == ("sts.flag", "flag --thrift-host")
    assert rows["thrift.port"] == ("10002", "environment EDTRACK_THRIFT_PORT")
    assert rows["kafka.bootstrap_servers"] == ("file1:9092,file2:9092", f"file {toml}")
    assert rows["hdfs.url"] == ("hdfs://analytics", f"file {toml}")  # an HA nameservice
    assert rows["metastore.uri"][1] == "local stack"


def test_config_masks_passwords(tmp_path):
    result = run(tmp_path, "config", env={"EDTRACK_PASSWORD": "s3cret-value"})
    assert result.exit_code == 0, result.output
    assert "s3cret-value" not in result.output
    assert "****" in result.output


def test_a_malformed_address_is_one_sentence_naming_where_it_came_from(tmp_path):
    result = run(tmp_path, "sql", "select 1", env={"EDTRACK_KAFKA_BOOTSTRAP_SERVERS": "kafka"})
    assert result.exit_code != 0
    message = result.output.strip()
    assert len(message.splitlines()) == 1
    assert "kafka.bootstrap_servers" in message
    assert "environment EDTRACK_KAFKA_BOOTSTRAP_SERVERS" in message


def test_an_unknown_key_in_the_endpoints_file_is_one_sentence(tmp_path):
    toml = tmp_path / "edtrack.toml"
    toml.write_text('[thrift]\nhots = "x"\n')
    result = run(tmp_path, "--config", str(toml), "config")
    assert result.exit_code != 0
    assert len(result.output.strip().splitlines()) == 1
    assert "hots" in result.output and str(toml) in result.output


def test_sql_dials_the_thrift_server_the_endpoints_name(tmp_path):
    port = 10000 + free_port_offset()
    result = run(tmp_path, "--thrift-host", "127.0.0.1", "--thrift-port", str(port), "sql", "1")
    assert result.exit_code == 3, result.output
    assert f"127.0.0.1:{port} is not answering" in result.output


def test_stack_env_prints_the_local_stack_as_endpoint_settings_that_read_back(tmp_path):
    result = run(tmp_path, "--port-offset", "500", "stack", "env")
    assert result.exit_code == 0, result.output
    exported = dict(
        shlex.split(line.removeprefix("export "))[0].split("=", 1)
        for line in result.output.splitlines()
    )
    config = from_env({}, state_dir=tmp_path, port_offset=500)
    local = endpoints.resolve(defaults=config.endpoint_defaults())
    read_back = endpoints.resolve(env=exported)
    assert read_back.values == local.values
    assert exported["EDTRACK_KAFKA_BOOTSTRAP_SERVERS"] == "127.0.0.1:9592"
    assert exported["EDTRACK_HDFS_URL"] == "hdfs://127.0.0.1:8520"


def test_kafka_tls_and_sasl_settings_reach_the_producer_and_the_lander_consumer(
    monkeypatch, tmp_path
):
    from ingestion.landing.lander import LandConfig
    from ingestion.landing.wiring import make_consumer
    from ingestion.publish import PublishConfig, make_producer

    created: list[dict] = []

    class Client:
        def __init__(self, **options) -> None:
            created.append(options)

    monkeypatch.setattr("kafka.KafkaProducer", Client)
    monkeypatch.setattr("kafka.KafkaConsumer", Client)
    monkeypatch.setattr("ingestion.publish.require_kafka", lambda *a, **k: None)
    monkeypatch.setattr("ingestion.landing.wiring.require_kafka", lambda *a, **k: None)
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    found = endpoints.resolve(
        env={
            "EDTRACK_KAFKA_BOOTSTRAP_SERVERS": "b1:9093,b2:9093",
            "EDTRACK_KAFKA_SECURITY_PROTOCOL": "sasl_ssl",
            "EDTRACK_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
            "EDTRACK_KAFKA_SASL_USERNAME": "lander",
            "EDTRACK_KAFKA_SASL_PASSWORD": "pw",
            "EDTRACK_KAFKA_SSL_CAFILE": str(ca),
            "EDTRACK_HDFS_URL": "hdfs://analytics",
            "EDTRACK_THRIFT_HOST": "sts",
            "EDTRACK_THRIFT_PORT": "10000",
        }
    )
    security = found.kafka_security()
    make_producer(PublishConfig(bootstrap=found.kafka_bootstrap, security=security))
    make_consumer(LandConfig(bootstrap=found.kafka_bootstrap, security=security))
    assert len(created) == 2
    for options in created:
        assert options["bootstrap_servers"] == "b1:9093,b2:9093"
        assert options["security_protocol"] == "SASL_SSL"
        assert options["sasl_mechanism"] == "SCRAM-SHA-512"
        assert options["sasl_plain_username"] == "lander"
        assert options["sasl_plain_password"] == "pw"
        assert options["ssl_cafile"] == str(ca)


def test_the_hdfs_client_takes_the_user_and_the_configuration_folder(monkeypatch, tmp_path):
    from ingestion.landing.wiring import make_hdfs_client

    made: list[tuple] = []
    monkeypatch.setattr(
        "hdfs_native.Client", lambda url, config_dir=None: made.append((url, config_dir))
    )
    monkeypatch.delenv("HADOOP_USER_NAME", raising=False)
    make_hdfs_client("hdfs://analytics", "lander", tmp_path)
    assert made == [("hdfs://analytics", str(tmp_path))]
    assert os.environ["HADOOP_USER_NAME"] == "lander"
    make_hdfs_client("hdfs://127.0.0.1:8020")
    assert made[-1] == ("hdfs://127.0.0.1:8020", None)


def test_the_scaling_out_page_lists_every_endpoint_setting():
    from core.project import PROJECT_ROOT

    page = (PROJECT_ROOT / "docs" / "scaling-out.md").read_text()
    for setting in endpoints.SETTINGS:
        assert f"| `{setting.key}` | `{setting.flag}` | `{setting.env}` |" in page, setting.key

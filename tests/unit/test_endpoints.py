"""core.endpoints: where the services are, from flags over the environment over the
endpoints file over the local stack, with one-sentence errors and masked secrets."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from core.endpoints import BY_KEY, CONFIG_ENV, SETTINGS, Endpoints, read_file, resolve
from core.errors import UserError

# The local stack's addresses, as the CLI will pass them.
LOCAL = {
    "kafka.bootstrap_servers": "127.0.0.1:9092",
    "hdfs.url": "hdfs://127.0.0.1:8020",
    "metastore.uri": "thrift://127.0.0.1:9083",
    "thrift.host": "127.0.0.1",
    "thrift.port": "10000",
}
KAFKA_SECRET = "kafka-s3cret-value"
THRIFT_SECRET = "thrift-s3cret-value"


def one_sentence(exc: pytest.ExceptionInfo[UserError]) -> str:
    message = str(exc.value)
    assert "\n" not in message
    assert message.endswith(".")
    return message


def refused(**kwargs) -> str:
    with pytest.raises(UserError) as exc:
        resolve(**kwargs)
    return one_sentence(exc)


def write(tmp_path: Path, text: str, name: str = "endpoints.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.fixture
def cafile(tmp_path: Path) -> Path:
    path = tmp_path / "ca.pem"
    path.write_text("-----BEGIN CERTIFICATE-----\n")
    return path


@pytest.fixture
def conf_dir(tmp_path: Path) -> Path:
    path = tmp_path / "hadoop-conf"
    path.mkdir()
    (path / "hdfs-site.xml").write_text("<configuration/>\n")
    return path


# --- the settings -------------------------------------------------------------------------


def test_settings_are_the_declared_keys_in_order_with_their_environment_variables():
    assert [(s.key, s.env) for s in SETTINGS] == [
        ("kafka.bootstrap_servers", "EDTRACK_KAFKA_BOOTSTRAP_SERVERS"),
        ("kafka.security_protocol", "EDTRACK_KAFKA_SECURITY_PROTOCOL"),
        ("kafka.sasl_mechanism", "EDTRACK_KAFKA_SASL_MECHANISM"),
        ("kafka.sasl_username", "EDTRACK_KAFKA_SASL_USERNAME"),
        ("kafka.sasl_password", "EDTRACK_KAFKA_SASL_PASSWORD"),
        ("kafka.ssl_cafile", "EDTRACK_KAFKA_SSL_CAFILE"),
        ("hdfs.url", "EDTRACK_HDFS_URL"),
        ("hdfs.user", "EDTRACK_HDFS_USER"),
        ("hdfs.conf_dir", "HADOOP_CONF_DIR"),
        ("metastore.uri", "EDTRACK_METASTORE_URI"),
        ("thrift.host", "EDTRACK_THRIFT_HOST"),
        ("thrift.port", "EDTRACK_THRIFT_PORT"),
        ("thrift.auth", "EDTRACK_THRIFT_AUTH"),
        ("thrift.user", "EDTRACK_USER"),
        ("thrift.password", "EDTRACK_PASSWORD"),
        ("thrift.ssl_cafile", "EDTRACK_THRIFT_SSL_CAFILE"),
    ]
    assert list(BY_KEY) == [s.key for s in SETTINGS]
    assert [s.key for s in SETTINGS if s.secret] == ["kafka.sasl_password", "thrift.password"]
    assert all(s.help.strip() for s in SETTINGS)
    assert CONFIG_ENV == "EDTRACK_CONFIG"


def test_flags_and_environment_variables_are_unique():
    assert len({s.flag for s in SETTINGS}) == len(SETTINGS)
    assert len({s.env for s in SETTINGS}) == len(SETTINGS)


def test_a_setting_derives_its_flag_section_and_name_from_its_key():
    setting = BY_KEY["kafka.bootstrap_servers"]
    assert (setting.flag, setting.section, setting.name) == (
        "--kafka-bootstrap-servers",
        "kafka",
        "bootstrap_servers",
    )
    assert BY_KEY["hdfs.conf_dir"].flag == "--hdfs-conf-dir"


# --- precedence ---------------------------------------------------------------------------

# Per key, four distinct values: (flag, environment, file as TOML, local stack).
LEVELS = {
    "thrift.port": ("10001", "10002", "10003", "10004"),
    "thrift.host": ("flag-host", "env-host", "file-host", "stack-host"),
    "hdfs.url": ("hdfs://flag:1", "hdfs://env:2", "hdfs://file:3", "hdfs://stack:4"),
    "kafka.bootstrap_servers": ("flag:1", "env:2", "file:3", "stack:4"),
}
PARSED = {
    "thrift.port": (10001, 10002, 10003, 10004),
    "thrift.host": ("flag-host", "env-host", "file-host", "stack-host"),
    "hdfs.url": ("hdfs://flag:1", "hdfs://env:2", "hdfs://file:3", "hdfs://stack:4"),
    "kafka.bootstrap_servers": (("flag:1",), ("env:2",), ("file:3",), ("stack:4",)),
}


def levels(tmp_path: Path, key: str, top: int) -> dict:
    """resolve's arguments giving ``key`` at every level, less the ``top`` highest."""
    setting = BY_KEY[key]
    flag, env, file_value, stack = LEVELS[key]
    literal = file_value if key == "thrift.port" else f'"{file_value}"'
    kwargs = {
        "flags": {key: flag},
        "env": {setting.env: env},
        "file": write(tmp_path, f"[{setting.section}]\n{setting.name} = {literal}\n"),
        "defaults": {**LOCAL, key: stack},
    }
    for name in ["flags", "env", "file"][:top]:
        del kwargs[name]
    return kwargs


@pytest.mark.parametrize("key", list(LEVELS))
@pytest.mark.parametrize(
    ("level", "source"),
    [(0, "flag {flag}"), (1, "environment {env}"), (2, "file {file}"), (3, "local stack")],
    ids=["flag", "environment", "file", "local-stack"],
)
def test_each_level_beats_the_ones_below_it(tmp_path, key, level, source):
    kwargs = levels(tmp_path, key, level)
    endpoints = resolve(**kwargs)
    setting = BY_KEY[key]
    assert endpoints.values[key] == PARSED[key][level]
    expected = source.format(flag=setting.flag, env=setting.env, file=tmp_path / "endpoints.toml")
    assert endpoints.sources[key] == expected


def test_precedence_is_per_key_and_sources_say_which(tmp_path):
    file = write(tmp_path, '[hdfs]\nuser = "from-file"\n[thrift]\nhost = "file-host"\n')
    endpoints = resolve(
        flags={"thrift.port": "10010", "thrift.host": None},
        env={"EDTRACK_THRIFT_HOST": "env-host", "EDTRACK_HDFS_USER": ""},
        file=file,
        defaults=LOCAL,
    )
    assert endpoints.thrift_port == 10010
    assert endpoints.thrift_host == "env-host"
    assert endpoints.hdfs_user == "from-file"
    assert endpoints.hdfs_url == "hdfs://127.0.0.1:8020"
    assert endpoints.sources == {
        **{s.key: "not set" for s in SETTINGS},
        "kafka.bootstrap_servers": "local stack",
        "kafka.security_protocol": "default",
        "hdfs.url": "local stack",
        "hdfs.user": f"file {file}",
        "metastore.uri": "local stack",
        "thrift.host": "environment EDTRACK_THRIFT_HOST",
        "thrift.port": "flag --thrift-port",
    }


def test_an_empty_environment_variable_is_unset_and_a_flag_of_none_not_given(tmp_path):
    file = write(tmp_path, "[thrift]\nport = 10020\n")
    endpoints = resolve(
        flags={"thrift.port": None}, env={"EDTRACK_THRIFT_PORT": ""}, file=file, defaults=LOCAL
    )
    assert endpoints.thrift_port == 10020
    assert endpoints.sources["thrift.port"] == f"file {file}"


def test_unset_settings_are_none_and_the_protocol_defaults_to_plaintext():
    endpoints = resolve(defaults=LOCAL)
    assert endpoints.values["kafka.security_protocol"] == "PLAINTEXT"
    assert endpoints.sources["kafka.security_protocol"] == "default"
    assert endpoints.thrift_auth is None
    assert endpoints.thrift_user is None
    assert endpoints.hdfs_conf_dir is None
    assert endpoints.sources["thrift.user"] == "not set"


def test_the_local_stack_beats_the_built_in_protocol_default():
    endpoints = resolve(defaults={**LOCAL, "kafka.security_protocol": "ssl"})
    assert endpoints.values["kafka.security_protocol"] == "SSL"
    assert endpoints.sources["kafka.security_protocol"] == "local stack"


@pytest.mark.parametrize("where", ["flags", "defaults"])
def test_an_unknown_key_in_flags_or_defaults_is_a_programming_error(where):
    with pytest.raises(ValueError, match="kafka.bootstrap") as exc:
        resolve(**{where: {**LOCAL, "kafka.bootstrap": "x:1"}})
    assert not isinstance(exc.value, UserError)


# --- the typed view, kafka-python's options, shown() and as_env() -------------------------


def full(cafile: Path, conf_dir: Path) -> Endpoints:
    """Every setting set, SASL over TLS to Kafka and LDAP to the Thrift Server."""
    return resolve(
        flags={
            "kafka.bootstrap_servers": "b1.example.com:9093, [::1]:9094",
            "kafka.security_protocol": "sasl_ssl",
            "kafka.sasl_mechanism": "scram-sha-512",
            "kafka.sasl_username": "edtrack",
            "kafka.sasl_password": KAFKA_SECRET,
            "kafka.ssl_cafile": str(cafile),
            "hdfs.url": "hdfs://analytics/",
            "hdfs.user": "etl",
            "hdfs.conf_dir": str(conf_dir),
            "metastore.uri": "thrift://m1:9083,THRIFT://m2:9083",
            "thrift.host": "sts.example.com",
            "thrift.port": "10443",
            "thrift.auth": "ldap",
            "thrift.user": "analyst",
            "thrift.password": THRIFT_SECRET,
            "thrift.ssl_cafile": str(cafile),
        }
    )


def test_the_typed_properties_read_the_parsed_values(cafile, conf_dir):
    endpoints = full(cafile, conf_dir)
    assert endpoints.kafka_servers == ("b1.example.com:9093", "[::1]:9094")
    assert endpoints.kafka_bootstrap == "b1.example.com:9093,[::1]:9094"
    assert endpoints.hdfs_url == "hdfs://analytics"
    assert endpoints.hdfs_user == "etl"
    assert endpoints.hdfs_conf_dir == conf_dir
    assert endpoints.metastore_uri == "thrift://m1:9083,thrift://m2:9083"
    assert (endpoints.thrift_host, endpoints.thrift_port) == ("sts.example.com", 10443)
    assert endpoints.thrift_auth == "LDAP"
    assert (endpoints.thrift_user, endpoints.thrift_password) == ("analyst", THRIFT_SECRET)
    assert endpoints.thrift_ssl_cafile == cafile


def test_endpoints_are_frozen_and_their_mappings_read_only(cafile, conf_dir):
    endpoints = full(cafile, conf_dir)
    with pytest.raises(dataclasses.FrozenInstanceError):
        endpoints.values = {}  # type: ignore[misc]
    with pytest.raises(TypeError):
        endpoints.values["thrift.port"] = 1  # type: ignore[index]


def test_endpoints_need_every_key():
    with pytest.raises(ValueError, match="exactly the setting keys"):
        Endpoints(values={"thrift.port": 1}, sources={"thrift.port": "flag --thrift-port"})


def test_kafka_options_for_plaintext_have_no_sasl_or_tls_keys():
    options = resolve(
        flags={"kafka.bootstrap_servers": "k1:9092,k2:9092"}, defaults=LOCAL
    ).kafka_options()
    assert options == {
        "bootstrap_servers": ["k1:9092", "k2:9092"],
        "security_protocol": "PLAINTEXT",
    }


def test_kafka_options_for_sasl_ssl_have_every_key(cafile, conf_dir):
    assert full(cafile, conf_dir).kafka_options() == {
        "bootstrap_servers": ["b1.example.com:9093", "[::1]:9094"],
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "edtrack",
        "sasl_plain_password": KAFKA_SECRET,
        "ssl_cafile": str(cafile),
    }


def test_shown_masks_set_secrets_and_marks_unset_values(cafile, conf_dir):
    rows = {key: (value, source) for key, value, source in full(cafile, conf_dir).shown()}
    assert list(rows) == [s.key for s in SETTINGS]
    assert rows["kafka.sasl_password"] == ("****", "flag --kafka-sasl-password")
    assert rows["thrift.password"] == ("****", "flag --thrift-password")
    assert rows["kafka.bootstrap_servers"][0] == "b1.example.com:9093,[::1]:9094"
    assert rows["thrift.port"][0] == "10443"
    assert rows["hdfs.conf_dir"][0] == str(conf_dir)
    assert all(KAFKA_SECRET not in v and THRIFT_SECRET not in v for v, _ in rows.values())
    local = {key: (value, source) for key, value, source in resolve(defaults=LOCAL).shown()}
    assert local["thrift.password"] == ("-", "not set")
    assert local["thrift.host"] == ("127.0.0.1", "local stack")


def test_as_env_round_trips_through_resolve(cafile, conf_dir):
    endpoints = full(cafile, conf_dir)
    env = endpoints.as_env(include_secrets=True)
    assert len(env) == len(SETTINGS)
    again = resolve(env=env)
    assert again.values == endpoints.values
    assert set(again.sources.values()) == {f"environment {s.env}" for s in SETTINGS}


def test_as_env_leaves_secrets_out_unless_asked_and_unset_settings_always(cafile, conf_dir):
    env = full(cafile, conf_dir).as_env()
    assert "EDTRACK_KAFKA_SASL_PASSWORD" not in env
    assert "EDTRACK_PASSWORD" not in env
    assert env["EDTRACK_USER"] == "analyst"
    assert env["HADOOP_CONF_DIR"] == str(conf_dir)
    assert resolve(defaults=LOCAL).as_env() == {
        "EDTRACK_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9092",
        "EDTRACK_KAFKA_SECURITY_PROTOCOL": "PLAINTEXT",
        "EDTRACK_HDFS_URL": "hdfs://127.0.0.1:8020",
        "EDTRACK_METASTORE_URI": "thrift://127.0.0.1:9083",
        "EDTRACK_THRIFT_HOST": "127.0.0.1",
        "EDTRACK_THRIFT_PORT": "10000",
    }


# --- the parsers --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "text", "value"),
    [
        ("kafka.bootstrap_servers", "kafka:9092", ("kafka:9092",)),
        ("kafka.bootstrap_servers", " a:1 , b.example.com:65535 ", ("a:1", "b.example.com:65535")),
        ("kafka.bootstrap_servers", "10.0.0.5:9092", ("10.0.0.5:9092",)),
        ("kafka.bootstrap_servers", "[::1]:9092", ("[::1]:9092",)),
        ("kafka.bootstrap_servers", "[2001:DB8::1]:9092", ("[2001:db8::1]:9092",)),
        ("kafka.bootstrap_servers", "kafka_1:9092", ("kafka_1:9092",)),
        ("kafka.security_protocol", "sasl_plaintext", "SASL_PLAINTEXT"),
        ("kafka.security_protocol", " SSL ", "SSL"),
        ("kafka.sasl_mechanism", "PLAIN", "PLAIN"),
        ("kafka.sasl_mechanism", "scram-sha-256", "SCRAM-SHA-256"),
        ("kafka.sasl_username", " edtrack ", "edtrack"),
        ("kafka.sasl_password", " spaces kept ", " spaces kept "),
        ("hdfs.url", "hdfs://namenode:8020", "hdfs://namenode:8020"),
        ("hdfs.url", "hdfs://namenode:8020/", "hdfs://namenode:8020"),
        ("hdfs.url", "hdfs://analytics", "hdfs://analytics"),
        ("hdfs.url", "HDFS://analytics-ha/", "hdfs://analytics-ha"),
        ("hdfs.url", "viewfs://cluster", "viewfs://cluster"),
        ("hdfs.url", "hdfs://[::1]:8020", "hdfs://[::1]:8020"),
        ("metastore.uri", "thrift://meta:9083", "thrift://meta:9083"),
        (
            "metastore.uri",
            "thrift://m1:9083, thrift://m2:9083/",
            "thrift://m1:9083,thrift://m2:9083",
        ),
        ("thrift.host", "sts.example.com", "sts.example.com"),
        ("thrift.host", "::1", "::1"),
        ("thrift.host", "[::1]", "::1"),
        ("thrift.port", "1", 1),
        ("thrift.port", " 65535 ", 65535),
        ("thrift.auth", "none", "NONE"),
        ("thrift.auth", "Ldap", "LDAP"),
        ("thrift.user", "analyst", "analyst"),
    ],
)
def test_a_parser_accepts(key, text, value):
    assert BY_KEY[key].parse(text) == value


@pytest.mark.parametrize(
    ("key", "text", "reason"),
    [
        ("kafka.bootstrap_servers", "", "it is empty"),
        ("kafka.bootstrap_servers", "kafka", "there is no port"),
        ("kafka.bootstrap_servers", "kafka:", "the port must be a whole number"),
        ("kafka.bootstrap_servers", ":9092", "there is no host"),
        ("kafka.bootstrap_servers", "kafka:0", "port 0 is outside 1-65535"),
        ("kafka.bootstrap_servers", "kafka:65536", "port 65536 is outside 1-65535"),
        ("kafka.bootstrap_servers", "kafka:90x2", "the port must be a whole number"),
        ("kafka.bootstrap_servers", "a:1,,b:2", "empty entry"),
        ("kafka.bootstrap_servers", "a:1,b", "in 'b', there is no port"),
        ("kafka.bootstrap_servers", "::1:9092", "in brackets, as [::1]:9092"),
        ("kafka.bootstrap_servers", "[::1]", "there is no port"),
        ("kafka.bootstrap_servers", "[::1:9092", "closing ']'"),
        ("kafka.bootstrap_servers", "[kafka]:9092", "[kafka] is not an IPv6 address"),
        ("kafka.bootstrap_servers", "my kafka:9092", "'my kafka' is not a host name"),
        ("kafka.bootstrap_servers", "PLAINTEXT://kafka:9092", "without a scheme"),
        (
            "kafka.security_protocol",
            "TLS",
            "choose one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL",
        ),
        ("kafka.sasl_mechanism", "GSSAPI", "choose one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512"),
        ("kafka.sasl_username", "  ", "it is empty"),
        ("hdfs.url", "namenode:8020", "write hdfs://host:port"),
        ("hdfs.url", "s3a://bucket", "the scheme must be hdfs:// or viewfs://, not s3a://"),
        ("hdfs.url", "hdfs://namenode:8020/warehouse", "nothing may follow the address"),
        ("hdfs.url", "hdfs://namenode:8020?x=1", "nothing may follow the address"),
        ("hdfs.url", "hdfs://", "there is no host"),
        ("hdfs.url", "hdfs://nn:99999", "port 99999 is outside 1-65535"),
        ("hdfs.url", "hdfs://me@nn:8020", "'me@nn' is not a host name"),
        ("metastore.uri", "meta:9083", "write thrift://host:port"),
        ("metastore.uri", "thrift://meta", "there is no port"),
        ("metastore.uri", "thrift://m1:9083,http://m2:9083", "in 'http://m2:9083', write thrift"),
        ("metastore.uri", "thrift://meta:9083/db", "write thrift://host:port"),
        ("thrift.host", "", "it is empty"),
        ("thrift.host", "sts:10000", "write the host alone"),
        ("thrift.host", "jdbc://sts", "without a scheme"),
        ("thrift.host", "s t s", "is not a host name"),
        ("thrift.port", "ten", "the port must be a whole number"),
        ("thrift.port", "-1", "the port must be a whole number"),
        ("thrift.port", "0", "port 0 is outside 1-65535"),
        ("thrift.port", "65536", "port 65536 is outside 1-65535"),
        ("thrift.port", "²", "the port must be a whole number"),
        ("thrift.auth", "KERBEROS", "choose one of NONE, LDAP"),
        ("thrift.user", "", "it is empty"),
    ],
)
def test_a_malformed_value_is_one_sentence_naming_key_value_and_source(key, text, reason):
    message = refused(flags={key: text}, defaults=LOCAL)
    setting = BY_KEY[key]
    assert message.startswith(f"{key} = {text!r} (from flag {setting.flag}) is not valid: ")
    assert reason in message


def test_a_malformed_value_names_the_environment_variable_it_came_from():
    message = refused(env={"EDTRACK_THRIFT_PORT": "10000x"}, defaults=LOCAL)
    assert message == (
        "thrift.port = '10000x' (from environment EDTRACK_THRIFT_PORT) is not valid: "
        "the port must be a whole number."
    )


def test_a_malformed_value_from_the_local_stack_says_so():
    message = refused(defaults={**LOCAL, "hdfs.url": "hdfs://nn:8020/x"})
    assert "(from local stack)" in message


def test_paths_must_exist_as_a_file_or_a_configuration_directory(tmp_path, cafile, conf_dir):
    assert BY_KEY["kafka.ssl_cafile"].parse(str(cafile)) == cafile
    assert BY_KEY["thrift.ssl_cafile"].parse(f" {cafile} ") == cafile
    assert BY_KEY["hdfs.conf_dir"].parse(str(conf_dir)) == conf_dir
    core_only = tmp_path / "core-only"
    core_only.mkdir()
    (core_only / "core-site.xml").write_text("<configuration/>\n")
    assert BY_KEY["hdfs.conf_dir"].parse(str(core_only)) == core_only
    cases = [
        ("thrift.ssl_cafile", tmp_path / "missing.pem", "there is no such file"),
        ("thrift.ssl_cafile", tmp_path, "it is a directory, not a file"),
        ("hdfs.conf_dir", tmp_path / "missing", "there is no such directory"),
        ("hdfs.conf_dir", cafile, "it is not a directory"),
        ("hdfs.conf_dir", tmp_path, "it holds neither core-site.xml nor hdfs-site.xml"),
    ]
    for key, path, reason in cases:
        message = refused(flags={key: str(path)}, defaults=LOCAL)
        assert (
            message
            == f"{key} = {str(path)!r} (from flag {BY_KEY[key].flag}) is not valid: {reason}."
        )


def test_a_relative_path_is_taken_from_the_working_directory(tmp_path, monkeypatch, cafile):
    monkeypatch.chdir(tmp_path)
    assert BY_KEY["thrift.ssl_cafile"].parse("ca.pem") == cafile


def test_hadoop_conf_dir_from_the_environment(conf_dir):
    endpoints = resolve(env={"HADOOP_CONF_DIR": str(conf_dir)}, defaults=LOCAL)
    assert endpoints.hdfs_conf_dir == conf_dir
    assert endpoints.sources["hdfs.conf_dir"] == "environment HADOOP_CONF_DIR"


def test_a_stale_hadoop_conf_dir_is_left_out_and_says_why(tmp_path):
    endpoints = resolve(env={"HADOOP_CONF_DIR": str(tmp_path)}, defaults=LOCAL)
    assert endpoints.hdfs_conf_dir is None
    assert endpoints.sources["hdfs.conf_dir"] == (
        f"environment HADOOP_CONF_DIR = {str(tmp_path)!r}, ignored: it holds neither "
        "core-site.xml nor hdfs-site.xml"
    )
    # Given to edtrack itself, the same folder is an error.
    message = refused(flags={"hdfs.conf_dir": str(tmp_path)}, defaults=LOCAL)
    assert "is not valid: it holds neither" in message


def test_an_ha_nameservice_url_resolves_without_a_port():
    endpoints = resolve(env={"EDTRACK_HDFS_URL": "hdfs://analytics"}, defaults=LOCAL)
    assert endpoints.hdfs_url == "hdfs://analytics"


# --- secrets ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        # a secret that is malformed (empty, from a flag)
        {"flags": {"thrift.password": ""}},
        # a secret the protocol would ignore
        {"env": {"EDTRACK_KAFKA_SASL_PASSWORD": KAFKA_SECRET}},
        # a secret given with a SASL protocol that lacks the other settings
        {
            "flags": {"kafka.security_protocol": "SASL_SSL"},
            "env": {"EDTRACK_KAFKA_SASL_PASSWORD": KAFKA_SECRET, "EDTRACK_PASSWORD": THRIFT_SECRET},
        },
        # a secret set while a required setting is missing
        {"env": {"EDTRACK_PASSWORD": THRIFT_SECRET}, "defaults": {}},
        # a secret beside a malformed value
        {"flags": {"thrift.password": THRIFT_SECRET, "thrift.port": "x"}},
    ],
    ids=["malformed", "ignored", "sasl-incomplete", "required-missing", "beside-malformed"],
)
def test_a_secret_is_never_in_an_error_message(kwargs):
    kwargs = {"defaults": LOCAL} | kwargs
    message = refused(**kwargs)
    assert KAFKA_SECRET not in message
    assert THRIFT_SECRET not in message


def test_a_malformed_secret_names_its_key_and_source_but_not_its_value():
    message = refused(flags={"thrift.password": ""}, defaults=LOCAL)
    assert message == "thrift.password (from flag --thrift-password) is not valid: it is empty."


# --- the cross-checks ---------------------------------------------------------------------


@pytest.mark.parametrize("protocol", ["SASL_PLAINTEXT", "SASL_SSL"])
def test_a_sasl_protocol_needs_mechanism_user_and_password(protocol):
    message = refused(
        env={"EDTRACK_KAFKA_SECURITY_PROTOCOL": protocol, "EDTRACK_KAFKA_SASL_USERNAME": "u"},
        defaults=LOCAL,
    )
    assert message.startswith(
        f"kafka.security_protocol = {protocol} (from environment "
        "EDTRACK_KAFKA_SECURITY_PROTOCOL) needs kafka.sasl_mechanism and kafka.sasl_password: "
    )
    assert "--kafka-sasl-mechanism, EDTRACK_KAFKA_SASL_MECHANISM or sasl_mechanism in [kafka]" in (
        message
    )
    assert "EDTRACK_KAFKA_SASL_PASSWORD" in message
    assert "kafka.sasl_username" not in message


def test_a_complete_sasl_plaintext_login_resolves():
    endpoints = resolve(
        flags={
            "kafka.security_protocol": "SASL_PLAINTEXT",
            "kafka.sasl_mechanism": "PLAIN",
            "kafka.sasl_username": "u",
            "kafka.sasl_password": KAFKA_SECRET,
        },
        defaults=LOCAL,
    )
    assert endpoints.kafka_options()["sasl_plain_password"] == KAFKA_SECRET
    assert "ssl_cafile" not in endpoints.kafka_options()


@pytest.mark.parametrize("protocol", [None, "PLAINTEXT", "SSL"])
@pytest.mark.parametrize(
    "key", ["kafka.sasl_mechanism", "kafka.sasl_username", "kafka.sasl_password"]
)
def test_a_sasl_setting_without_a_sasl_protocol_is_refused(tmp_path, protocol, key):
    value = "PLAIN" if key == "kafka.sasl_mechanism" else "x"
    file = write(tmp_path, f'[kafka]\n{BY_KEY[key].name} = "{value}"\n')
    flags = {"kafka.security_protocol": protocol}
    message = refused(flags=flags, file=file, defaults=LOCAL)
    source = "flag --kafka-security-protocol" if protocol else "default"
    stated = f"= {protocol or 'PLAINTEXT'} (from {source})"
    assert message.startswith(
        f"{key} (from file {file}) is set but kafka.security_protocol {stated}"
    )
    assert "it would be ignored" in message
    assert "SASL_PLAINTEXT or SASL_SSL" in message


@pytest.mark.parametrize("protocol", ["PLAINTEXT", "SASL_PLAINTEXT"])
def test_a_kafka_ca_file_without_tls_is_refused(cafile, protocol):
    flags = {"kafka.security_protocol": protocol, "kafka.ssl_cafile": str(cafile)}
    if protocol == "SASL_PLAINTEXT":
        flags |= {"kafka.sasl_mechanism": "PLAIN", "kafka.sasl_username": "u"}
        flags |= {"kafka.sasl_password": "p"}
    message = refused(flags=flags, defaults=LOCAL)
    assert message.startswith("kafka.ssl_cafile (from flag --kafka-ssl-cafile) is set but")
    assert "SSL or SASL_SSL" in message


def test_ldap_auth_needs_a_user_but_not_yet_a_password():
    message = refused(flags={"thrift.auth": "LDAP"}, defaults=LOCAL)
    assert message == (
        "thrift.auth = LDAP (from flag --thrift-auth) needs thrift.user: give it as "
        "--thrift-user, EDTRACK_USER or user in [thrift] of the endpoints file."
    )
    endpoints = resolve(flags={"thrift.auth": "LDAP"}, env={"EDTRACK_USER": "ana"}, defaults=LOCAL)
    assert (endpoints.thrift_user, endpoints.thrift_password) == ("ana", None)


@pytest.mark.parametrize(
    "key", ["kafka.bootstrap_servers", "hdfs.url", "thrift.host", "thrift.port"]
)
def test_a_required_setting_that_is_not_set_names_its_flag_variable_and_file_key(key):
    defaults = {k: v for k, v in LOCAL.items() if k != key}
    setting = BY_KEY[key]
    message = refused(defaults=defaults)
    assert message == (
        f"{key} is not set: give it as {setting.flag}, {setting.env} or {setting.name} in "
        f"[{setting.section}] of the endpoints file."
    )


def test_every_missing_required_setting_is_named_in_one_sentence():
    message = refused()
    assert message.startswith(
        "kafka.bootstrap_servers, hdfs.url, thrift.host and thrift.port are not set: give "
    )
    for key in ("kafka.bootstrap_servers", "hdfs.url", "thrift.host", "thrift.port"):
        assert f"{key} as {BY_KEY[key].flag}, {BY_KEY[key].env} or " in message


def test_the_metastore_is_not_required():
    defaults = {k: v for k, v in LOCAL.items() if k != "metastore.uri"}
    assert resolve(defaults=defaults).metastore_uri is None


# --- the file -----------------------------------------------------------------------------


def test_a_file_gives_strings_integers_booleans_and_arrays_as_text(tmp_path):
    file = write(
        tmp_path,
        """
        [kafka]
        bootstrap_servers = ["b1:9093", "b2:9093"]
        [hdfs]
        user = true
        [thrift]
        host = "sts"
        port = 10000
        """,
    )
    assert read_file(file) == {
        "kafka.bootstrap_servers": "b1:9093,b2:9093",
        "hdfs.user": "true",
        "thrift.host": "sts",
        "thrift.port": "10000",
    }


def test_a_file_with_every_section_resolves(tmp_path, cafile, conf_dir):
    file = write(
        tmp_path,
        f"""
        [kafka]
        bootstrap_servers = ["broker1.example.com:9093", "broker2.example.com:9093"]
        security_protocol = "SASL_SSL"
        sasl_mechanism = "SCRAM-SHA-512"
        sasl_username = "edtrack"
        ssl_cafile = "{cafile}"

        [hdfs]
        url = "hdfs://analytics"
        conf_dir = "{conf_dir}"

        [metastore]
        uri = "thrift://meta1.example.com:9083,thrift://meta2.example.com:9083"

        [thrift]
        host = "sts.example.com"
        port = 10000
        auth = "LDAP"
        user = "analyst"
        """,
    )
    endpoints = resolve(env={"EDTRACK_KAFKA_SASL_PASSWORD": KAFKA_SECRET}, file=file)
    assert endpoints.kafka_servers == ("broker1.example.com:9093", "broker2.example.com:9093")
    assert endpoints.hdfs_url == "hdfs://analytics"
    assert endpoints.thrift_port == 10000
    assert endpoints.sources["kafka.sasl_password"] == "environment EDTRACK_KAFKA_SASL_PASSWORD"
    assert endpoints.sources["thrift.user"] == f"file {file}"


def test_an_empty_file_gives_nothing(tmp_path):
    assert read_file(write(tmp_path, "# nothing yet\n")) == {}


def test_a_missing_file_is_one_sentence_naming_it(tmp_path):
    path = tmp_path / "nowhere.toml"
    with pytest.raises(UserError) as exc:
        read_file(path)
    assert one_sentence(exc) == (
        f"The endpoints file {path} does not exist: check the path (EDTRACK_CONFIG names it)."
    )
    assert refused(file=path, defaults=LOCAL) == one_sentence(exc)


def test_a_directory_is_not_a_file(tmp_path):
    with pytest.raises(UserError) as exc:
        read_file(tmp_path)
    assert one_sentence(exc) == f"The endpoints file {tmp_path} is a directory, not a TOML file."


@pytest.mark.parametrize(
    ("text", "where", "reason"),
    [
        (
            '[kafka]\nbootstrap_servers = "a:1"\nsecurity_protocol SSL\n',
            "at line 3, column 19",
            "expected '='",
        ),
        ("[thrift]\nport = 10000\nport = 10001\n", "at line 3", "cannot overwrite a value"),
        ("[kafka\n", "at line 1", "expected ']'"),
    ],
    ids=["no-equals", "duplicate-key", "open-section"],
)
def test_invalid_toml_says_where(tmp_path, text, where, reason):
    path = write(tmp_path, text)
    with pytest.raises(UserError) as exc:
        read_file(path)
    message = one_sentence(exc)
    assert message.startswith(f"{path} is not valid TOML {where}")
    assert reason in message.lower()


def test_a_file_that_is_not_utf8_is_one_sentence(tmp_path):
    path = tmp_path / "endpoints.toml"
    path.write_bytes(b'[thrift]\nhost = "\xff"\n')
    with pytest.raises(UserError) as exc:
        read_file(path)
    assert one_sentence(exc) == f"The endpoints file {path} is not UTF-8 text."


def test_an_unknown_section_is_named_with_the_known_ones(tmp_path):
    path = write(tmp_path, '[spark]\nhost = "x"\n')
    with pytest.raises(UserError) as exc:
        read_file(path)
    assert one_sentence(exc) == (
        f"{path} has an unknown section [spark]; "
        "the sections are [kafka], [hdfs], [metastore], [thrift]."
    )


def test_a_top_level_key_is_an_unknown_section(tmp_path):
    path = write(tmp_path, 'bootstrap_servers = "a:1"\n')
    with pytest.raises(UserError) as exc:
        read_file(path)
    assert "unknown section [bootstrap_servers]" in one_sentence(exc)


def test_a_section_given_as_a_value_is_refused(tmp_path):
    path = write(tmp_path, 'kafka = "a:1"\n')
    with pytest.raises(UserError) as exc:
        read_file(path)
    assert one_sentence(exc) == (
        f"{path} gives kafka a value; it must be a section, [kafka], of settings."
    )


def test_an_unknown_key_is_named_with_the_keys_of_its_section(tmp_path):
    path = write(tmp_path, '[hdfs]\nnamenode = "hdfs://nn:8020"\n')
    with pytest.raises(UserError) as exc:
        read_file(path)
    assert one_sentence(exc) == (
        f"{path} has an unknown key 'namenode' in [hdfs]; its keys are url, user, conf_dir."
    )


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("1.5", "a decimal number"),
        ("[1, 2]", "an array that holds more than strings"),
        ('["a:1", 2]', "an array that holds more than strings"),
        ("{ host = 'x' }", "a table"),
        ("1979-05-27", "a date or time"),
    ],
)
def test_a_value_of_another_type_is_one_sentence(tmp_path, value, kind):
    path = write(tmp_path, f"[thrift]\nport = {value}\n")
    with pytest.raises(UserError) as exc:
        read_file(path)
    assert one_sentence(exc) == (
        f"{path} gives port in [thrift] {kind}; write a string, an integer, a boolean or an "
        "array of strings."
    )


def test_a_secret_in_a_file_of_the_wrong_type_is_not_echoed(tmp_path):
    path = write(tmp_path, "[thrift]\npassword = [31415926]\n")
    with pytest.raises(UserError) as exc:
        read_file(path)
    assert "31415926" not in one_sentence(exc)


def test_a_malformed_file_value_names_the_file(tmp_path):
    path = write(tmp_path, "[thrift]\nport = 70000\n")
    assert refused(file=path, defaults=LOCAL) == (
        f"thrift.port = '70000' (from file {path}) is not valid: port 70000 is outside 1-65535."
    )

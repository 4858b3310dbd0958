"""Where the services are, declared once, apart from the local stack: Kafka's brokers,
HDFS, the metastore and the Spark Thrift Server, as one frozen :class:`Endpoints`
that every command uses.

Each setting has a dotted key (``kafka.bootstrap_servers``), a flag
(``--kafka-bootstrap-servers``) and an environment variable
(``EDTRACK_KAFKA_BOOTSTRAP_SERVERS``; three keep the names they had before:
``EDTRACK_USER``, ``EDTRACK_PASSWORD`` and Hadoop's own ``HADOOP_CONF_DIR``). For each
setting on its own, the first of these that gives a value wins:

1. the flag;
2. the environment variable (an empty one counts as unset);
3. the endpoints file, a TOML file (``EDTRACK_CONFIG`` names it);
4. the local stack's address (what `edtrack stack up` runs);
5. the setting's default (only ``kafka.security_protocol`` has one: PLAINTEXT).

The file has one section per service; its keys are the settings' names. A value is a
string, an integer, a boolean or an array of strings (an array is a comma-separated
list)::

    [kafka]
    bootstrap_servers = ["broker1.example.com:9093", "broker2.example.com:9093"]
    security_protocol = "SASL_SSL"
    sasl_mechanism = "SCRAM-SHA-512"
    sasl_username = "edtrack"
    ssl_cafile = "/etc/edtrack/kafka-ca.pem"

    [hdfs]
    url = "hdfs://analytics"        # an HA nameservice, defined in conf_dir's hdfs-site.xml
    user = "edtrack"
    conf_dir = "/etc/hadoop/conf"

    [metastore]
    uri = "thrift://meta1.example.com:9083,thrift://meta2.example.com:9083"

    [thrift]
    host = "sts.example.com"
    port = 10000
    auth = "LDAP"
    user = "analyst"

Passwords (``kafka.sasl_password``, ``thrift.password``) may be written there too, but
are better kept in the environment (``EDTRACK_KAFKA_SASL_PASSWORD``,
``EDTRACK_PASSWORD``); they are never printed. Relative paths are taken from the
working directory.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from core.errors import UserError

# The environment variable naming the endpoints file; the caller decides the path.
CONFIG_ENV = "EDTRACK_CONFIG"

KAFKA_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
THRIFT_AUTHS = ("NONE", "LDAP")

# The built-in defaults, below the local stack's addresses (see the docstring).
BUILT_IN = MappingProxyType({"kafka.security_protocol": "PLAINTEXT"})

_EMPTY: Mapping[str, Any] = MappingProxyType({})
_MASK = "****"
_UNSET = "-"


# --- parsers: each returns the value or raises ValueError(reason), a phrase without a
# final period that never repeats a secret ------------------------------------------------

_HOSTNAME = re.compile(r"[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?")
_DIGITS = re.compile(r"[0-9]+")


def _text(text: str) -> str:
    value = text.strip()
    if not value:
        raise ValueError("it is empty")
    return value


def _secret(text: str) -> str:
    # Kept as given: a password's spaces are its own.
    if not text:
        raise ValueError("it is empty")
    return text


def _choice(options: tuple[str, ...]) -> Callable[[str], str]:
    def parse(text: str) -> str:
        value = text.strip().upper()
        if value not in options:
            raise ValueError(f"choose one of {', '.join(options)}")
        return value

    return parse


def _port(text: str) -> int:
    if not _DIGITS.fullmatch(text):
        raise ValueError("the port must be a whole number")
    port = int(text)
    if not 1 <= port <= 65535:
        raise ValueError(f"port {port} is outside 1-65535")
    return port


def _hostname(host: str) -> str:
    if not host:
        raise ValueError("there is no host")
    if not _HOSTNAME.fullmatch(host):
        raise ValueError(f"{host!r} is not a host name or IPv4 address")
    return host


def _ipv6(text: str) -> str:
    try:
        return str(ipaddress.IPv6Address(text))
    except ValueError:
        raise ValueError(f"[{text}] is not an IPv6 address") from None


def _address(text: str, *, port_required: bool) -> tuple[str, int | None]:
    """``host``, ``host:port`` or ``[v6]:port`` as (host, port); an IPv6 host keeps its
    brackets, as it is written beside a port."""
    if "://" in text:
        raise ValueError("write host:port, without a scheme")
    port_text: str | None
    if text.startswith("["):
        inner, bracket, rest = text[1:].partition("]")
        if not bracket:
            raise ValueError("an IPv6 address needs its closing ']'")
        host = f"[{_ipv6(inner)}]"
        if not rest:
            port_text = None
        elif rest.startswith(":"):
            port_text = rest[1:]
        else:
            raise ValueError("only ':port' may follow an IPv6 address in brackets")
    elif text.count(":") > 1:
        raise ValueError("write an IPv6 address in brackets, as [::1]:9092")
    else:
        host, colon, port_text = text.partition(":")
        _hostname(host)
        if not colon:
            port_text = None
    if port_text is None:
        if port_required:
            raise ValueError("there is no port: write host:port")
        return host, None
    return host, _port(port_text)


def _entries(text: str) -> list[str]:
    """The entries of a comma-separated list, none of them empty."""
    entries = [entry.strip() for entry in text.split(",")]
    if entries == [""]:
        raise ValueError("it is empty")
    if "" in entries:
        raise ValueError("the list has an empty entry (two commas, or one at an end)")
    return entries


def _in_list(entries: list[str], parse: Callable[[str], str]) -> list[str]:
    values = []
    for entry in entries:
        try:
            values.append(parse(entry))
        except ValueError as exc:
            if len(entries) == 1:
                raise
            raise ValueError(f"in {entry!r}, {exc}") from None
    return values


def _bootstrap_servers(text: str) -> tuple[str, ...]:
    def server(entry: str) -> str:
        host, port = _address(entry, port_required=True)
        return f"{host}:{port}"

    return tuple(_in_list(_entries(text), server))


def _hdfs_url(text: str) -> str:
    match = re.fullmatch(r"([A-Za-z][A-Za-z0-9+.-]*)://([^/?#]*)(.*)", text.strip())
    if not match:
        raise ValueError("write hdfs://host:port, or hdfs://nameservice for an HA nameservice")
    scheme, authority, rest = match[1].lower(), match[2], match[3]
    if scheme not in ("hdfs", "viewfs"):
        raise ValueError(f"the scheme must be hdfs:// or viewfs://, not {match[1]}://")
    if rest not in ("", "/"):
        raise ValueError("nothing may follow the address but '/' (it names the file system)")
    host, port = _address(authority, port_required=False)
    return f"{scheme}://{host}" + ("" if port is None else f":{port}")


def _metastore_uri(text: str) -> str:
    def uri(entry: str) -> str:
        match = re.fullmatch(r"(?i)thrift://([^/?#]*)/?", entry)
        if not match:
            raise ValueError("write thrift://host:port")
        host, port = _address(match[1], port_required=True)
        return f"thrift://{host}:{port}"

    return ",".join(_in_list(_entries(text), uri))


def _host(text: str) -> str:
    value = _text(text)
    if "://" in value:
        raise ValueError("write the host alone, without a scheme")
    if value.startswith("[") and value.endswith("]"):
        return _ipv6(value[1:-1])
    if ":" in value:
        try:
            return str(ipaddress.IPv6Address(value))
        except ValueError:
            raise ValueError(
                "write the host alone, without ':port' (the port is a setting of its own)"
            ) from None
    return _hostname(value)


def _port_number(text: str) -> int:
    return _port(text.strip())


def _path(text: str) -> Path:
    value = text.strip()
    if not value:
        raise ValueError("it is empty")
    return Path(value).expanduser().absolute()


def _file(text: str) -> Path:
    path = _path(text)
    if path.is_dir():
        raise ValueError("it is a directory, not a file")
    if not path.is_file():
        raise ValueError("there is no such file")
    return path


def _conf_dir(text: str) -> Path:
    path = _path(text)
    if not path.exists():
        raise ValueError("there is no such directory")
    if not path.is_dir():
        raise ValueError("it is not a directory")
    if not any((path / name).is_file() for name in ("core-site.xml", "hdfs-site.xml")):
        raise ValueError("it holds neither core-site.xml nor hdfs-site.xml")
    return path


# --- the settings -------------------------------------------------------------------------
# Hadoop's own variable, which other tools of a user's shell set too.
SHARED_ENV = "HADOOP_CONF_DIR"


@dataclass(frozen=True)
class Setting:
    """One connection setting; its flag, file section and file key derive from ``key``."""

    key: str
    env: str
    parse: Callable[[str], Any]
    help: str
    secret: bool = False

    @property
    def flag(self) -> str:
        return "--" + self.key.replace(".", "-").replace("_", "-")

    @property
    def section(self) -> str:
        return self.key.partition(".")[0]

    @property
    def name(self) -> str:
        return self.key.partition(".")[2]


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "kafka.bootstrap_servers",
        "EDTRACK_KAFKA_BOOTSTRAP_SERVERS",
        _bootstrap_servers,
        "Kafka brokers to start from: host:port[,host:port...] ([::1]:9092 for IPv6).",
    ),
    Setting(
        "kafka.security_protocol",
        "EDTRACK_KAFKA_SECURITY_PROTOCOL",
        _choice(KAFKA_PROTOCOLS),
        f"How to talk to the brokers: {', '.join(KAFKA_PROTOCOLS)} (default: PLAINTEXT).",
    ),
    Setting(
        "kafka.sasl_mechanism",
        "EDTRACK_KAFKA_SASL_MECHANISM",
        _choice(SASL_MECHANISMS),
        f"SASL login to the brokers: {', '.join(SASL_MECHANISMS)} (SASL_* protocols only).",
    ),
    Setting(
        "kafka.sasl_username",
        "EDTRACK_KAFKA_SASL_USERNAME",
        _text,
        "User of the SASL login to the brokers.",
    ),
    Setting(
        "kafka.sasl_password",
        "EDTRACK_KAFKA_SASL_PASSWORD",
        _secret,
        "Password of the SASL login to the brokers (never shown).",
        secret=True,
    ),
    Setting(
        "kafka.ssl_cafile",
        "EDTRACK_KAFKA_SSL_CAFILE",
        _file,
        "CA certificates (PEM) that sign the brokers' TLS certificates (SSL protocols only).",
    ),
    Setting(
        "hdfs.url",
        "EDTRACK_HDFS_URL",
        _hdfs_url,
        "HDFS: hdfs://namenode:port, or hdfs://nameservice for an HA pair (viewfs:// too).",
    ),
    Setting("hdfs.user", "EDTRACK_HDFS_USER", _text, "User to act as on HDFS."),
    Setting(
        "hdfs.conf_dir",
        SHARED_ENV,
        _conf_dir,
        "Hadoop client configuration (core-site.xml, hdfs-site.xml): where a nameservice "
        "is defined.",
    ),
    Setting(
        "metastore.uri",
        "EDTRACK_METASTORE_URI",
        _metastore_uri,
        "Hive metastore: thrift://host:port[,thrift://host:port...].",
    ),
    Setting("thrift.host", "EDTRACK_THRIFT_HOST", _host, "Host of the Spark Thrift Server."),
    Setting("thrift.port", "EDTRACK_THRIFT_PORT", _port_number, "Port of the Spark Thrift Server."),
    Setting(
        "thrift.auth",
        "EDTRACK_THRIFT_AUTH",
        _choice(THRIFT_AUTHS),
        f"How the Spark Thrift Server checks logins: {', '.join(THRIFT_AUTHS)}.",
    ),
    Setting("thrift.user", "EDTRACK_USER", _text, "User to log in to the Spark Thrift Server as."),
    Setting(
        "thrift.password",
        "EDTRACK_PASSWORD",
        _secret,
        "Password of the LDAP login to the Spark Thrift Server (never shown).",
        secret=True,
    ),
    Setting(
        "thrift.ssl_cafile",
        "EDTRACK_THRIFT_SSL_CAFILE",
        _file,
        "CA certificates (PEM) that sign the Spark Thrift Server's TLS certificate.",
    ),
)
BY_KEY: dict[str, Setting] = {setting.key: setting for setting in SETTINGS}
SECTIONS: tuple[str, ...] = tuple(dict.fromkeys(setting.section for setting in SETTINGS))

# Settings every command needs; the others are needed only by some setups.
REQUIRED = ("kafka.bootstrap_servers", "hdfs.url", "thrift.host", "thrift.port")


def _as_text(value: Any) -> str:
    """A parsed value in the form its parser reads back."""
    if isinstance(value, tuple):
        return ",".join(value)
    return str(value)


@dataclass(frozen=True)
class Endpoints:
    """Every setting's parsed value (None: not set) and where it came from."""

    values: Mapping[str, Any]
    sources: Mapping[str, str]

    def __post_init__(self) -> None:
        for field_name in ("values", "sources"):
            mapping = getattr(self, field_name)
            if set(mapping) != set(BY_KEY):
                raise ValueError(f"Endpoints.{field_name} must hold exactly the setting keys")
            object.__setattr__(self, field_name, MappingProxyType(dict(mapping)))

    @property
    def kafka_servers(self) -> tuple[str, ...]:
        return self.values["kafka.bootstrap_servers"]

    @property
    def kafka_bootstrap(self) -> str:
        """The brokers as one ``host:port,host:port`` string."""
        return ",".join(self.kafka_servers)

    @property
    def hdfs_url(self) -> str:
        return self.values["hdfs.url"]

    @property
    def hdfs_user(self) -> str | None:
        return self.values["hdfs.user"]

    @property
    def hdfs_conf_dir(self) -> Path | None:
        return self.values["hdfs.conf_dir"]

    @property
    def metastore_uri(self) -> str | None:
        return self.values["metastore.uri"]

    @property
    def thrift_host(self) -> str:
        return self.values["thrift.host"]

    @property
    def thrift_port(self) -> int:
        return self.values["thrift.port"]

    @property
    def thrift_auth(self) -> str | None:
        return self.values["thrift.auth"]

    @property
    def thrift_user(self) -> str | None:
        return self.values["thrift.user"]

    @property
    def thrift_password(self) -> str | None:
        return self.values["thrift.password"]

    @property
    def thrift_ssl_cafile(self) -> Path | None:
        return self.values["thrift.ssl_cafile"]

    def advice(self, key: str) -> str:
        """What to do when the address of setting ``key`` does not answer: start the
        local stack, or check the setting where it was given."""
        source = self.sources[key]
        if source == "local stack":
            return (
                "Start the local stack with 'edtrack stack up', or point edtrack at your "
                "clusters ('edtrack config --help')."
            )
        return (
            f"That address is {key}, from {source}: check it and that the service runs "
            "('edtrack config' shows every setting and where it came from)."
        )

    def kafka_security(self) -> dict[str, Any]:
        """:meth:`kafka_options` without the brokers: what every client of the same
        cluster is given beside its bootstrap list."""
        return {k: v for k, v in self.kafka_options().items() if k != "bootstrap_servers"}

    def kafka_options(self) -> dict[str, Any]:
        """Keyword arguments for kafka-python's producer, consumer and admin client."""
        options: dict[str, Any] = {
            "bootstrap_servers": list(self.kafka_servers),
            "security_protocol": self.values["kafka.security_protocol"],
        }
        optional = {
            "sasl_mechanism": "kafka.sasl_mechanism",
            "sasl_plain_username": "kafka.sasl_username",
            "sasl_plain_password": "kafka.sasl_password",
            "ssl_cafile": "kafka.ssl_cafile",
        }
        for option, key in optional.items():
            if self.values[key] is not None:
                options[option] = _as_text(self.values[key])
        return options

    def shown(self) -> list[tuple[str, str, str]]:
        """(key, value, source) of every setting, to print: secrets masked, unset as '-'."""
        rows = []
        for setting in SETTINGS:
            value = self.values[setting.key]
            if value is None:
                text = _UNSET
            elif setting.secret:
                text = _MASK
            else:
                text = _as_text(value)
            rows.append((setting.key, text, self.sources[setting.key]))
        return rows

    def as_env(self, include_secrets: bool = False) -> dict[str, str]:
        """The environment that gives a child process (or ``resolve``) these settings."""
        return {
            setting.env: _as_text(self.values[setting.key])
            for setting in SETTINGS
            if self.values[setting.key] is not None and (include_secrets or not setting.secret)
        }


# --- the file -----------------------------------------------------------------------------


def _kind(value: Any) -> str:
    """What a TOML value is, in the words of a message."""
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, float):
        return "a decimal number"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dt.date | dt.time):
        return "a date or time"
    return f"a {type(value).__name__}"


def _toml_error(path: Path, exc: tomllib.TOMLDecodeError) -> UserError:
    message = str(exc).replace("\n", " ")
    match = re.fullmatch(r"(.*) \((at line \d+, column \d+|at end of document)\)", message)
    reason, where = (match[1], f" {match[2]}") if match else (message, "")
    reason = reason[:1].lower() + reason[1:]
    return UserError(f"{path} is not valid TOML{where}: {reason.rstrip('.')}.")


def read_file(path: Path) -> dict[str, str]:
    """The settings an endpoints file gives, by key, as text (arrays joined with ',')."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_bytes().decode())
    except FileNotFoundError:
        raise UserError(
            f"The endpoints file {path} does not exist: check the path ({CONFIG_ENV} names it)."
        ) from None
    except IsADirectoryError:
        raise UserError(f"The endpoints file {path} is a directory, not a TOML file.") from None
    except UnicodeDecodeError:
        raise UserError(f"The endpoints file {path} is not UTF-8 text.") from None
    except OSError as exc:
        raise UserError(f"The endpoints file {path} cannot be read: {exc.strerror}.") from None
    except tomllib.TOMLDecodeError as exc:
        raise _toml_error(path, exc) from None
    known_sections = ", ".join(f"[{section}]" for section in SECTIONS)
    texts: dict[str, str] = {}
    for section, table in data.items():
        if section not in SECTIONS:
            raise UserError(
                f"{path} has an unknown section [{section}]; the sections are {known_sections}."
            )
        if not isinstance(table, dict):
            raise UserError(
                f"{path} gives {section} a value; it must be a section, [{section}], of settings."
            )
        names = [setting.name for setting in SETTINGS if setting.section == section]
        for name, value in table.items():
            if name not in names:
                raise UserError(
                    f"{path} has an unknown key {name!r} in [{section}]; "
                    f"its keys are {', '.join(names)}."
                )
            if isinstance(value, bool):
                text = "true" if value else "false"
            elif isinstance(value, str | int):
                text = str(value)
            elif isinstance(value, list) and all(isinstance(item, str) for item in value):
                text = ",".join(value)
            else:
                held = " that holds more than strings" if isinstance(value, list) else ""
                raise UserError(
                    f"{path} gives {name} in [{section}] {_kind(value)}{held}; write a string, "
                    "an integer, a boolean or an array of strings."
                )
            texts[f"{section}.{name}"] = text
    return texts


# --- resolving ----------------------------------------------------------------------------


def _check_keys(mapping: Mapping[str, Any], what: str) -> None:
    unknown = sorted(set(mapping) - set(BY_KEY))
    if unknown:
        raise ValueError(f"unknown setting key(s) in {what}: {', '.join(unknown)}")


def _shared_conf_dir(setting: Setting, text: str, source: str) -> tuple[Any, str]:
    """``HADOOP_CONF_DIR`` that is not a Hadoop client configuration is left out, with
    the reason in its source (``edtrack config`` shows it), instead of stopping every
    command, most of which use no HDFS: it belongs to the user's shell, not to edtrack."""
    try:
        return setting.parse(text), source
    except ValueError as exc:
        return None, f"{source} = {text!r}, ignored: {exc}"


def _parse(setting: Setting, text: str, source: str) -> Any:
    try:
        return setting.parse(text)
    except ValueError as exc:
        given = setting.key if setting.secret else f"{setting.key} = {text!r}"
        raise UserError(f"{given} (from {source}) is not valid: {exc}.") from None


def _give(keys: list[str]) -> str:
    """Every way to give the settings ``keys``, for the messages that ask for them."""

    def ways(key: str) -> str:
        setting = BY_KEY[key]
        return (
            f"{setting.flag}, {setting.env} or {setting.name} in [{setting.section}] "
            "of the endpoints file"
        )

    if len(keys) == 1:
        return f"give it as {ways(keys[0])}"
    return "give " + "; ".join(f"{key} as {ways(key)}" for key in keys)


def _and(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _cross_check(values: Mapping[str, Any], sources: Mapping[str, str]) -> None:
    missing = [key for key in REQUIRED if values[key] is None]
    if missing:
        verb = "is" if len(missing) == 1 else "are"
        raise UserError(f"{_and(missing)} {verb} not set: {_give(missing)}.")

    protocol = values["kafka.security_protocol"]
    stated = f"kafka.security_protocol = {protocol} (from {sources['kafka.security_protocol']})"
    sasl = ("kafka.sasl_mechanism", "kafka.sasl_username", "kafka.sasl_password")
    if protocol.startswith("SASL_"):
        missing = [key for key in sasl if values[key] is None]
        if missing:
            raise UserError(f"{stated} needs {_and(missing)}: {_give(missing)}.")
    else:
        given = [key for key in sasl if values[key] is not None]
        if given:
            raise UserError(
                f"{given[0]} (from {sources[given[0]]}) is set but {stated} does not log in, "
                "so it would be ignored: choose SASL_PLAINTEXT or SASL_SSL, or unset it."
            )
    # The same reason: kafka-python reads a CA file only for a TLS protocol.
    if values["kafka.ssl_cafile"] is not None and not protocol.endswith("SSL"):
        raise UserError(
            f"kafka.ssl_cafile (from {sources['kafka.ssl_cafile']}) is set but {stated} has no "
            "TLS, so it would be ignored: choose SSL or SASL_SSL, or unset it."
        )

    if values["thrift.auth"] == "LDAP" and values["thrift.user"] is None:
        raise UserError(
            f"thrift.auth = LDAP (from {sources['thrift.auth']}) needs thrift.user: "
            f"{_give(['thrift.user'])}."
        )


def resolve(
    *,
    flags: Mapping[str, str | None] = _EMPTY,
    env: Mapping[str, str] = _EMPTY,
    file: Path | None = None,
    defaults: Mapping[str, str] = _EMPTY,
) -> Endpoints:
    """The endpoints, each setting from the first of flags, environment, file, the local
    stack (``defaults``) and the built-in default that gives it.

    ``flags`` and ``defaults`` are keyed by setting key (a flag of None was not given);
    an unknown key there is a programming error (ValueError). A value that does not
    parse, or settings that do not fit together, end in one UserError sentence.
    """
    _check_keys(flags, "flags")
    _check_keys(defaults, "defaults")
    from_file = read_file(file) if file is not None else {}
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for setting in SETTINGS:
        key, flag = setting.key, flags.get(setting.key)
        given: tuple[str, str] | None
        if flag is not None:
            given = (flag, f"flag {setting.flag}")
        elif env.get(setting.env):
            given = (env[setting.env], f"environment {setting.env}")
        elif key in from_file:
            given = (from_file[key], f"file {file}")
        elif key in defaults:
            given = (defaults[key], "local stack")
        elif key in BUILT_IN:
            given = (BUILT_IN[key], "default")
        else:
            given = None
        if given is None:
            values[key], sources[key] = None, "not set"
        elif given[1] == f"environment {SHARED_ENV}" and key == "hdfs.conf_dir":
            values[key], sources[key] = _shared_conf_dir(setting, *given)
        else:
            text, source = given
            values[key], sources[key] = _parse(setting, text, source), source
    _cross_check(values, sources)
    return Endpoints(values, sources)

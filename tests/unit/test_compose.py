"""docker-compose.yml, checked without a Docker engine.

The file must match the Compose Specification's JSON schema (vendored in
tests/unit/data/, see its README), every reference in it must resolve, images must be
pinned, ports must stay on the host's loopback, and versions, ports and settings must
match the local stack (stack/maven/*.pom.xml, pyproject.toml, stack/templates/), so a
change on one side without the other fails here.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
import tomllib
import xml.etree.ElementTree as ET
from collections.abc import Callable
from importlib.util import find_spec
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft7Validator

from ingestion.publish import PublishConfig
from ingestion.topic import DEFAULT_TOPIC
from stack.config import DEFAULT_PORTS, from_env
from stack.jars import POMS
from stack.launcher import render_configs

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
SCHEMA_FILE = Path(__file__).resolve().parent / "data" / "compose-spec.json"
PASSWORD_VAR = "EDTRACK_METASTORE_DB_PASSWORD"
# What `docker compose` would read from .env in these tests.
TEST_ENV = {PASSWORD_VAR: "not-a-real-password"}

REQUIRED_SERVICES = ("kafka", "namenode", "datanode", "metastore", "thrift", "ingestor", "postgres")
# Local stack port names that the Docker stack publishes on the host.
PUBLISHED_PORTS = (
    "kafka",
    "namenode",
    "namenode_http",
    "datanode",
    "datanode_http",
    "metastore",
    "thrift",
    "spark_ui",
)
LONG_RUNNING = "unless-stopped"
ONE_SHOT = "no"


# --- reading the compose file ----------------------------------------------------------

_VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)"
    r"|\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
    r"|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)


class MissingVariable(Exception):
    pass


def interpolate(value, env: dict[str, str]):
    """Compose's variable interpolation: ``$$``, ``${VAR}``, ``${VAR:-default}``,
    ``${VAR-default}``, ``${VAR:?error}``, ``${VAR?error}`` and ``$VAR``."""
    if isinstance(value, dict):
        return {key: interpolate(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, env) for item in value]
    if not isinstance(value, str):
        return value

    def replace(match: re.Match) -> str:
        if match["escaped"]:
            return "$"
        name = match["name"] or match["bare"]
        op, arg = match["op"], match["arg"]
        current = env.get(name)
        unset = current is None or (current == "" and op is not None and op.startswith(":"))
        if op in ("-", ":-") and unset:
            return arg
        if op in ("?", ":?") and unset:
            raise MissingVariable(f"{name}: {arg}")
        return current or ""

    return _VARIABLE.sub(replace, value)


def load_raw() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


RAW = load_raw()
COMPOSE = interpolate(RAW, TEST_ENV)
SERVICES: dict[str, dict] = COMPOSE["services"]


def by_restart(policy: str) -> list[str]:
    return [name for name, spec in SERVICES.items() if spec.get("restart") == policy]


def service_params(names) -> list:
    return [pytest.param(name, id=name) for name in names]


def depends_on(spec: dict) -> dict[str, dict]:
    deps = spec.get("depends_on", {})
    return {name: {} for name in deps} if isinstance(deps, list) else deps


def mounts(spec: dict) -> list[tuple[str, str]]:
    """(source, target) of each volume entry, short or long syntax."""
    result = []
    for entry in spec.get("volumes", []):
        if isinstance(entry, str):
            source, target = entry.split(":")[:2]
        else:
            source, target = entry.get("source", ""), entry["target"]
        result.append((source, target))
    return result


def is_bind(source: str) -> bool:
    return source.startswith((".", "/", "~"))


def shared_namespace_owner(spec: dict) -> str | None:
    mode = spec.get("network_mode", "")
    return mode.split(":", 1)[1] if mode.startswith("service:") else None


def ancestors(name: str) -> set[str]:
    seen: set[str] = set()
    todo = list(depends_on(SERVICES[name]))
    while todo:
        dep = todo.pop()
        if dep not in seen and dep in SERVICES:
            seen.add(dep)
            todo.extend(depends_on(SERVICES[dep]))
    return seen


# --- reading the local stack's versions ---------------------------------------------------

POM_NS = {"m": "http://maven.apache.org/POM/4.0.0"}


def pom_property(pom: str, name: str) -> str:
    value = ET.parse(POMS[pom]).getroot().findtext(f"m:properties/m:{name}", namespaces=POM_NS)
    assert value, f"{POMS[pom]} has no property {name}"
    return value


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def pinned(package: str) -> str:
    for requirement in pyproject()["project"]["dependencies"]:
        name, _, version = requirement.partition("==")
        if name == package:
            return version
    raise AssertionError(f"{package} is not pinned in pyproject.toml")


def pyspark_hive_version() -> str:
    """The Hive version of the metastore jars inside the installed pyspark."""
    jars = Path(find_spec("pyspark").origin).parent / "jars"
    found = [p.name for p in jars.glob("hive-metastore-*.jar")]
    assert len(found) == 1, found
    return found[0].removeprefix("hive-metastore-").removesuffix(".jar")


def image_tag(image: str) -> str:
    return image.rsplit(":", 1)[1]


def images_of(repository: str) -> list[tuple[str, str]]:
    return [
        (name, spec["image"])
        for name, spec in SERVICES.items()
        if spec.get("image", "").rsplit(":", 1)[0] == repository
    ]


def dockerfile_of(spec: dict) -> Path:
    build = spec["build"]
    context = ROOT / build["context"]
    return context / build.get("dockerfile", "Dockerfile")


def dockerfile_args(path: Path) -> dict[str, str]:
    args = {}
    for line in path.read_text().splitlines():
        match = re.match(r"\s*ARG\s+([A-Za-z_][A-Za-z0-9_]*)=(\S+)", line)
        if match:
            args[match[1]] = match[2]
    return args


def base_images(path: Path, build_args: dict[str, str]) -> list[str]:
    """The images the Dockerfile starts from, ARGs resolved, earlier stages left out."""
    args = {**dockerfile_args(path), **build_args}
    stages: set[str] = set()
    images = []
    for line in path.read_text().splitlines():
        match = re.match(r"\s*FROM\s+(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?", line, re.IGNORECASE)
        if not match:
            continue
        image = re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m[1], m[0]), match[1])
        if image not in stages:
            images.append(image)
        if match[2]:
            stages.add(match[2])
    return images


def build_arg(service: str, name: str) -> str:
    spec = SERVICES[service]
    return spec["build"].get("args", {}).get(name) or dockerfile_args(dockerfile_of(spec))[name]


# --- the schema ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def validator() -> Draft7Validator:
    schema = json.loads(SCHEMA_FILE.read_text())
    Draft7Validator.check_schema(schema)
    return Draft7Validator(schema)


def schema_errors(validator: Draft7Validator, document: dict) -> list[str]:
    return [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in validator.iter_errors(document)
    ]


def test_compose_file_matches_the_compose_specification(validator: Draft7Validator):
    assert schema_errors(validator, COMPOSE) == []


def _unknown_service_key(doc: dict) -> None:
    doc["services"]["kafka"]["imagee"] = "apache/kafka:4.1.1"


def _bad_condition(doc: dict) -> None:
    doc["services"]["thrift"]["depends_on"]["metastore"]["condition"] = "service_ready"


def _ports_not_a_list(doc: dict) -> None:
    doc["services"]["netns"]["ports"] = "127.0.0.1:9092:9092"


@pytest.mark.parametrize(
    "break_it",
    [
        pytest.param(_unknown_service_key, id="unknown-service-key"),
        pytest.param(_bad_condition, id="unknown-depends-on-condition"),
        pytest.param(_ports_not_a_list, id="ports-not-a-list"),
    ],
)
def test_the_schema_rejects_a_broken_compose_file(validator: Draft7Validator, break_it: Callable):
    broken = copy.deepcopy(COMPOSE)
    break_it(broken)
    assert schema_errors(validator, broken) != []


# --- services and references ------------------------------------------------------------


@pytest.mark.parametrize("name", service_params(REQUIRED_SERVICES))
def test_required_service_is_present_and_long_running(name: str):
    matching = [s for s in SERVICES if name in s and SERVICES[s].get("restart") == LONG_RUNNING]
    assert matching, f"no long-running service named like {name!r} in {sorted(SERVICES)}"


@pytest.mark.parametrize("name", service_params(SERVICES))
def test_restart_policy_says_long_running_or_one_shot(name: str):
    assert SERVICES[name].get("restart") in (LONG_RUNNING, ONE_SHOT)


@pytest.mark.parametrize("name", service_params(SERVICES))
def test_depends_on_resolves_with_a_condition_that_fits(name: str):
    for dep, how in depends_on(SERVICES[name]).items():
        assert dep in SERVICES, f"{name} depends on unknown service {dep}"
        assert dep != name
        expected = (
            "service_completed_successfully"
            if SERVICES[dep].get("restart") == ONE_SHOT
            else "service_healthy"
        )
        assert how.get("condition") == expected, f"{name} -> {dep}"


def test_dependencies_have_no_cycle():
    for name in SERVICES:
        assert name not in ancestors(name), f"{name} depends on itself through others"


@pytest.mark.parametrize(
    "name", service_params(n for n, s in SERVICES.items() if shared_namespace_owner(s))
)
def test_shared_network_namespace_resolves(name: str):
    spec = SERVICES[name]
    owner = shared_namespace_owner(spec)
    assert owner in SERVICES and owner != name
    assert SERVICES[owner].get("restart") == LONG_RUNNING
    assert shared_namespace_owner(SERVICES[owner]) is None
    assert owner in ancestors(name), f"{name} does not wait for {owner}"
    # Docker refuses these beside network_mode: the namespace owner publishes the ports.
    for key in ("ports", "networks", "hostname", "expose"):
        assert key not in spec, f"{name} sets {key} and shares {owner}'s network namespace"


def test_networks_resolve_and_are_used():
    declared = set(COMPOSE.get("networks", {}))
    used = set()
    for name, spec in SERVICES.items():
        networks = spec.get("networks", [])
        for network in networks if isinstance(networks, list) else networks.keys():
            assert network in declared, f"{name} uses undeclared network {network}"
            used.add(network)
    assert used == declared


def test_named_volumes_are_declared_and_used():
    declared = set(COMPOSE.get("volumes", {}))
    used = {
        source
        for spec in SERVICES.values()
        for source, _ in mounts(spec)
        if source and not is_bind(source)
    }
    assert used == declared


@pytest.mark.parametrize(
    "source",
    [
        pytest.param(source, id=f"{name}:{source}")
        for name, spec in SERVICES.items()
        for source, _ in mounts(spec)
        if is_bind(source)
    ],
)
def test_bind_mount_source_exists_in_the_repository(source: str):
    path = (ROOT / source).resolve()
    assert path.is_relative_to(ROOT), f"{source} is outside the repository"
    assert path.exists(), source


@pytest.mark.parametrize("name", service_params(n for n, s in SERVICES.items() if "build" in s))
def test_build_context_and_dockerfile_exist(name: str):
    dockerfile = dockerfile_of(SERVICES[name])
    assert (ROOT / SERVICES[name]["build"]["context"]).is_dir()
    assert dockerfile.is_file(), dockerfile


def _container_paths(spec: dict) -> list[str]:
    words = []
    for key in ("entrypoint", "command"):
        value = spec.get(key, [])
        words += value.split() if isinstance(value, str) else value
    words += [str(v) for v in (spec.get("environment") or {}).values()]
    return [w.strip("\"'") for w in words if w.strip("\"'").startswith("/etc/edtrack/")]


@pytest.mark.parametrize(
    "name", service_params(n for n, s in SERVICES.items() if _container_paths(s))
)
def test_mounted_paths_the_service_uses_exist_in_the_repository(name: str):
    spec = SERVICES[name]
    binds = [(s, t) for s, t in mounts(spec) if is_bind(s)]
    for path in _container_paths(spec):
        hosts = [
            ROOT / source / Path(path).relative_to(target)
            for source, target in binds
            if Path(path).is_relative_to(target)
        ]
        assert hosts, f"{name} uses {path}, which no bind mount provides"
        assert hosts[0].exists(), f"{name} uses {path}: {hosts[0]} is missing"


# --- images -------------------------------------------------------------------------------

_PINNED = re.compile(r"^[a-z0-9][a-z0-9._/-]*:(?P<tag>\d+\.\d+[A-Za-z0-9._-]*)$")


@pytest.mark.parametrize("name", service_params(SERVICES))
def test_image_is_pinned_to_an_exact_version(name: str):
    image = SERVICES[name].get("image", "")
    match = _PINNED.match(image)
    assert match, f"{name}: image {image!r} has no exact version tag"
    assert "latest" not in match["tag"]


@pytest.mark.parametrize("name", service_params(n for n, s in SERVICES.items() if "build" in s))
def test_dockerfile_base_images_are_pinned(name: str):
    spec = SERVICES[name]
    images = base_images(dockerfile_of(spec), spec["build"].get("args", {}))
    assert images
    for image in images:
        assert _PINNED.match(image), f"{name}: base image {image!r} is not pinned"


# --- ports --------------------------------------------------------------------------------

_PORT = re.compile(r"^(?P<ip>[0-9.]+):(?P<published>\d+):(?P<target>\d+)(?:/tcp)?$")


def published_ports() -> list[tuple[str, str | dict]]:
    return [(name, port) for name, spec in SERVICES.items() for port in spec.get("ports", [])]


def parse_port(port: str | dict) -> tuple[str, int, int]:
    if isinstance(port, dict):
        return port.get("host_ip", ""), int(port.get("published", 0)), int(port["target"])
    match = _PORT.match(str(port))
    assert match, f"port {port!r} does not name a host address"
    return match["ip"], int(match["published"]), int(match["target"])


@pytest.mark.parametrize(
    "port", [pytest.param(port, id=f"{name}:{port}") for name, port in published_ports()]
)
def test_published_port_binds_the_host_loopback_only(port):
    ip, published, target = parse_port(port)
    assert ip == "127.0.0.1"
    # Kafka and the DataNode advertise 127.0.0.1:<port> to every client, so the host
    # must see each service on its own port number.
    assert published == target


def test_published_ports_are_the_local_stack_ports():
    published = sorted(parse_port(port)[2] for _, port in published_ports())
    assert published == sorted(DEFAULT_PORTS[name] for name in PUBLISHED_PORTS)


# --- health -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", service_params(by_restart(LONG_RUNNING)))
def test_long_running_service_has_a_healthcheck(name: str):
    check = SERVICES[name].get("healthcheck", {})
    assert not check.get("disable", False)
    test = check.get("test")
    assert test and test[0] in ("CMD", "CMD-SHELL") and len(test) > 1, test
    for key in ("interval", "timeout", "retries"):
        assert key in check, f"{name}: healthcheck has no {key}"


@pytest.mark.parametrize("name", service_params(by_restart(ONE_SHOT)))
def test_one_shot_service_is_awaited_or_optional(name: str):
    awaited = any(
        depends_on(spec).get(name, {}).get("condition") == "service_completed_successfully"
        for spec in SERVICES.values()
    )
    assert awaited or SERVICES[name].get("profiles"), f"nothing waits for {name}"


# --- versions: the same as the local stack ------------------------------------------------


def _version_cases() -> list:
    cases = []
    for name, image in images_of("apache/kafka"):
        cases.append(
            pytest.param(
                lambda image=image: (image_tag(image), pom_property("kafka", "kafka.version")),
                id=f"{name}-kafka",
            )
        )
    for name, image in images_of("apache/hadoop"):
        cases.append(
            pytest.param(
                lambda image=image: (image_tag(image), pom_property("hdfs", "hadoop.version")),
                id=f"{name}-hadoop",
            )
        )
    cases += [
        pytest.param(
            lambda: (image_tag(SERVICES["thrift"]["image"]), pinned("pyspark")),
            id="thrift-spark",
        ),
        pytest.param(
            lambda: (build_arg("metastore", "SPARK_IMAGE"), build_arg("thrift", "SPARK_IMAGE")),
            id="metastore-spark-image",
        ),
        pytest.param(
            lambda: (
                dockerfile_args(dockerfile_of(SERVICES["metastore"]))["SPARK_IMAGE"],
                build_arg("thrift", "SPARK_IMAGE"),
            ),
            id="metastore-dockerfile-default",
        ),
        pytest.param(
            lambda: (
                dockerfile_args(dockerfile_of(SERVICES["thrift"]))["SPARK_IMAGE"],
                build_arg("thrift", "SPARK_IMAGE"),
            ),
            id="thrift-dockerfile-default",
        ),
        pytest.param(
            lambda: (
                build_arg("thrift", "ICEBERG_VERSION"),
                pom_property("iceberg", "iceberg.version"),
            ),
            id="thrift-iceberg",
        ),
        pytest.param(
            lambda: (
                dockerfile_args(dockerfile_of(SERVICES["thrift"]))["ICEBERG_VERSION"],
                pom_property("iceberg", "iceberg.version"),
            ),
            id="thrift-dockerfile-iceberg",
        ),
        pytest.param(
            lambda: (image_tag(SERVICES["metastore"]["image"]), pinned("pyspark")),
            id="metastore-image-tag",
        ),
        pytest.param(
            lambda: (build_arg("metastore", "HIVE_RELEASE"), pyspark_hive_version()),
            id="metastore-hive",
        ),
        pytest.param(
            lambda: (
                re.match(r"\d+\.\d+", image_tag(build_arg("ingestor", "PYTHON_IMAGE")))[0],
                re.search(r">=(\d+\.\d+)", pyproject()["project"]["requires-python"])[1],
            ),
            id="ingestor-python",
        ),
        pytest.param(
            lambda: (image_tag(SERVICES["ingestor"]["image"]), pyproject()["project"]["version"]),
            id="ingestor-image-tag",
        ),
    ]
    return cases


@pytest.mark.parametrize("versions", _version_cases())
def test_version_matches_the_local_stack(versions: Callable[[], tuple[str, str]]):
    in_compose, in_local_stack = versions()
    assert in_compose == in_local_stack


def test_every_kafka_and_hadoop_service_is_version_checked():
    assert {name for name, _ in images_of("apache/kafka")} >= {"kafka"}
    assert {name for name, _ in images_of("apache/hadoop")} >= {"namenode", "datanode"}


# --- secrets ------------------------------------------------------------------------------

_SECRET = re.compile(r"PASSWORD|SECRET|TOKEN|CREDENTIAL", re.IGNORECASE)


def secret_settings() -> list[tuple[str, str, str]]:
    return [
        (name, key, value)
        for name, spec in RAW["services"].items()
        for key, value in (spec.get("environment") or {}).items()
        if _SECRET.search(key)
    ]


@pytest.mark.parametrize(
    "setting", [pytest.param(s, id=f"{s[0]}:{s[1]}") for s in secret_settings()]
)
def test_secret_comes_from_a_required_variable(setting: tuple[str, str, str]):
    _, _, value = setting
    assert re.fullmatch(r"\$\{[A-Z_][A-Z0-9_]*:\?[^}]+\}", str(value)), value


def test_compose_refuses_to_run_without_the_password():
    assert secret_settings(), "no service takes a password"
    with pytest.raises(MissingVariable, match=PASSWORD_VAR):
        interpolate(RAW, {})


def test_the_env_file_is_ignored_by_git_and_its_example_holds_no_password():
    ignored = (ROOT / ".gitignore").read_text().splitlines()
    assert ".env" in ignored or "/.env" in ignored
    example = (ROOT / "docker" / "env.example").read_text()
    assert re.search(rf"^{PASSWORD_VAR}=$", example, re.MULTILINE)


def test_the_metastore_reads_its_database_password_from_the_environment():
    site = hadoop_xml(ROOT / "docker/metastore/hive-site.xml")
    match = re.fullmatch(r"\$\{env\.(\w+)\}", site["javax.jdo.option.ConnectionPassword"])
    assert match, "hive-site.xml must not hold the password itself"
    assert match[1] in SERVICES["metastore"]["environment"]


# --- settings: the same as the local stack's --------------------------------------------


def hadoop_xml(path: Path) -> dict[str, str]:
    root = ET.parse(path).getroot()
    return {p.findtext("name"): p.findtext("value") for p in root.iter("property")}


def key_values(path: Path, separator: str | None) -> dict[str, str]:
    result = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, value = line.split(separator, 1) if separator else line.split(None, 1)
            result[key.strip()] = value.strip()
    return result


@pytest.fixture(scope="module")
def local(tmp_path_factory) -> Path:
    """The local stack's configuration, rendered with its default ports."""
    state = tmp_path_factory.mktemp("state")
    render_configs(from_env({}, state_dir=state))
    return state


def port_of(address: str) -> str:
    return address.rsplit(":", 1)[1]


def test_kafka_settings_match_the_local_stack(local: Path):
    ours = key_values(ROOT / "docker/kafka/server.properties", "=")
    theirs = key_values(local / "kafka/server.properties", "=")
    assert ours.keys() == theirs.keys()
    differ = {k for k in ours if ours[k] != theirs[k]}
    assert differ <= {"listeners", "log.dirs"}
    assert ours["listeners"] == theirs["listeners"].replace(
        "PLAINTEXT://127.0.0.1:", "PLAINTEXT://0.0.0.0:"
    )
    assert ours["log.dirs"] == "/var/lib/kafka/data"
    assert any(target == ours["log.dirs"] for _, target in mounts(SERVICES["kafka"]))


def test_hdfs_settings_match_the_local_stack(local: Path):
    ours = hadoop_xml(ROOT / "docker/hadoop/hdfs-site.xml")
    theirs = hadoop_xml(local / "hdfs/conf/hdfs-site.xml")
    assert ours.keys() == theirs.keys()
    bind_all = {"dfs.namenode.rpc-bind-host", "dfs.namenode.http-bind-host"}
    addresses = {"dfs.datanode.address", "dfs.datanode.http.address"}
    dirs = {"dfs.namenode.name.dir", "dfs.datanode.data.dir"}
    differ = {k for k in ours if ours[k] != theirs[k]}
    assert differ <= bind_all | addresses | dirs
    for key in bind_all:
        assert ours[key] == "0.0.0.0"
    for key in addresses:
        assert ours[key] == f"0.0.0.0:{port_of(theirs[key])}"
    for key in dirs:
        assert ours[key].startswith("file:///data/")
    assert (
        ours["dfs.namenode.name.dir"].removeprefix("file://")
        == (SERVICES["namenode"]["environment"]["ENSURE_NAMENODE_DIR"])
    )
    core = hadoop_xml(ROOT / "docker/hadoop/core-site.xml")
    assert core["fs.defaultFS"] == hadoop_xml(local / "hdfs/conf/core-site.xml")["fs.defaultFS"]


def test_spark_settings_match_the_local_stack(local: Path):
    ours = key_values(ROOT / "docker/spark/spark-defaults.conf", None)
    theirs = key_values(local / "spark/conf/spark-defaults.conf", None)
    # The driver memory comes from SPARK_DRIVER_MEMORY in compose.
    assert theirs.keys() - ours.keys() == {"spark.driver.memory"}
    assert "SPARK_DRIVER_MEMORY" in SERVICES["thrift"]["environment"]
    assert ours.keys() <= theirs.keys()
    differ = {k for k in ours if ours[k] != theirs[k]}
    # Locally these point into the state dir and the jar cache.
    assert differ <= {
        "spark.driver.extraJavaOptions",
        "spark.local.dir",
        "spark.driver.extraClassPath",
        "spark.scheduler.allocation.file",
    }
    assert ours["spark.scheduler.allocation.file"] == "file:///etc/edtrack/spark/fairscheduler.xml"
    # The same JVM options but the local Derby home.
    local_options = theirs["spark.driver.extraJavaOptions"].split()
    assert ours["spark.driver.extraJavaOptions"].split() == [
        o for o in local_options if not o.startswith("-Dderby.system.home=")
    ]
    pools = (local / "spark/conf/fairscheduler.xml").read_text()
    assert (ROOT / "docker/spark/fairscheduler.xml").read_text().split("<allocations>")[1] == (
        pools.split("<allocations>")[1]
    )
    client = hadoop_xml(ROOT / "docker/spark/hive-site.xml")
    local_site = hadoop_xml(local / "spark/conf/hive-site.xml")
    assert {k: local_site.get(k) for k in client} == client


def test_metastore_settings_match_the_local_stack_except_the_database(local: Path):
    ours = hadoop_xml(ROOT / "docker/metastore/hive-site.xml")
    theirs = hadoop_xml(local / "metastore/conf/hive-site.xml")
    database = {
        "javax.jdo.option.ConnectionURL",
        "javax.jdo.option.ConnectionDriverName",
        "datanucleus.schema.autoCreateAll",
        "hive.metastore.schema.verification",
    }
    common = (ours.keys() & theirs.keys()) - database
    assert {k: ours[k] for k in common} == {k: theirs[k] for k in common}
    assert ours["javax.jdo.option.ConnectionURL"].startswith("jdbc:postgresql://postgres:5432/")
    assert ours["datanucleus.schema.autoCreateAll"] == "false"
    assert ours["hive.metastore.schema.verification"] == "true"
    assert "hive.metastore.warehouse.dir" in common


@pytest.mark.parametrize(
    ("ours", "template"),
    [
        pytest.param("docker/kafka/log4j2.properties", "kafka-log4j2.properties.j2", id="kafka"),
        pytest.param("docker/hadoop/log4j.properties", "hadoop-log4j.properties.j2", id="hdfs"),
        pytest.param(
            "docker/metastore/log4j2.properties", "spark-log4j2.properties.j2", id="metastore"
        ),
        pytest.param("docker/spark/log4j2.properties", "spark-log4j2.properties.j2", id="thrift"),
    ],
)
def test_logging_matches_the_local_stack(ours: str, template: str):
    def settings(path: Path) -> list[str]:
        return [line for line in path.read_text().splitlines() if not line.startswith("#")]

    assert settings(ROOT / ours) == settings(ROOT / "stack/templates" / template)


# --- the pipeline's own settings ----------------------------------------------------------


def option(args: list[str], name: str) -> str:
    return args[args.index(name) + 1]


def test_the_topic_is_created_as_the_publisher_creates_it():
    args = SERVICES["kafka-topic"]["command"]
    assert option(args, "--topic") == DEFAULT_TOPIC
    assert int(option(args, "--partitions")) == PublishConfig.partitions
    assert option(args, "--config") == "retention.ms=-1"
    assert option(SERVICES["ingestor"]["command"], "--topic") == DEFAULT_TOPIC


def test_the_ingestor_build_context_lets_in_what_the_dockerfile_copies():
    allowed = {
        line.strip().removeprefix("!").rstrip("/")
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip().startswith("!")
    }
    dockerfile = dockerfile_of(SERVICES["ingestor"])
    copied = []
    for line in dockerfile.read_text().splitlines():
        match = re.match(r"\s*COPY\s+(?!--from)(.+)", line)
        if match:
            copied += match[1].split()[:-1]
    assert copied
    for source in copied:
        assert source in allowed, f"{source} is copied but .dockerignore leaves it out"
        assert (ROOT / source).exists()
    packages = {
        pattern.rstrip("*")
        for pattern in pyproject()["tool"]["setuptools"]["packages"]["find"]["include"]
    }
    assert packages <= set(copied), f"the image would lack {sorted(packages - set(copied))}"
    assert SERVICES["ingestor"]["build"]["context"] == "."


@pytest.mark.parametrize(
    "script",
    [pytest.param(p, id=str(p.relative_to(ROOT))) for p in sorted(ROOT.glob("docker/*/*.sh"))],
)
def test_start_script_is_valid_sh(script: Path):
    result = subprocess.run(["sh", "-n", str(script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert script.read_text().startswith("#!/bin/sh\n")

"""The compose files, checked without a Docker engine: docker-compose.yml (one node) and
docker-compose.nodes.yml (three), each against the local stack of as many nodes.

Each file must match the Compose Specification's JSON schema (vendored in
tests/unit/data/, see its README), every reference in it must resolve, images must be
pinned, ports must stay on the host's loopback, services must run on the node the local
stack runs them on, and versions, ports and settings must match the local stack
(stack/maven/*.pom.xml, pyproject.toml, stack/templates/), so a change on one side
without the other fails here. The one-node file's settings are checked here, the
three-node file's in test_compose_nodes.py.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from jsonschema import Draft7Validator

from ingestion.publish import PublishConfig
from ingestion.topic import DEFAULT_TOPIC
from stack.config import StackConfig
from tests.unit.compose_files import (
    BROKER_SETTINGS,
    FILES,
    LONG_RUNNING,
    NODES,
    ONE,
    ONE_SHOT,
    PASSWORD_VAR,
    ROOT,
    Compose,
    MissingVariable,
    base_images,
    depends_on,
    dockerfile_args,
    dockerfile_of,
    hadoop_xml,
    image_tag,
    interpolate,
    is_bind,
    key_values,
    local_services,
    mounted_file,
    mounts,
    option,
    options,
    parse_port,
    pinned,
    pom_property,
    port_of,
    pyproject,
    pyspark_hive_version,
    render_local,
    rendered_file,
    shared_namespace_owner,
)

SCHEMA_FILE = Path(__file__).resolve().parent / "data" / "compose-spec.json"
SERVICES = ONE.services

REQUIRED_SERVICES = ("kafka", "namenode", "datanode", "metastore", "thrift", "ingestor", "postgres")
# Of each local service (keyed by the port its health check dials, Service.port_name),
# the ports the Docker stacks publish on the host: those clients and browsers use.
# Kafka's controller port, the DataNode's IPC port, Spark's RPC ports and PostgreSQL
# stay inside.
HOST_PORTS = {
    "kafka": ("kafka",),
    "namenode": ("namenode", "namenode_http"),
    "datanode": ("datanode", "datanode_http"),
    "metastore": ("metastore",),
    "thrift": ("thrift", "spark_ui"),
    "spark_master": ("spark_master_ui",),
    "spark_worker": ("spark_worker_ui",),
}
# PostgreSQL runs beside the nodes, in both files: only the metastore reaches it.
BESIDE_THE_NODES = {"postgres"}


def files() -> list:
    return [pytest.param(compose, id=compose.label) for compose in FILES]


def service_params(pairs) -> list:
    """(compose file, service name) pairs as parameters named ``<file>:<service>``."""
    return [pytest.param(compose, name, id=f"{compose.label}:{name}") for compose, name in pairs]


def every_service(where: Callable[[dict], bool] = lambda spec: True) -> list:
    return service_params(
        (compose, name)
        for compose in FILES
        for name, spec in compose.services.items()
        if where(spec)
    )


def by_restart(policy: str) -> list:
    return service_params((c, name) for c in FILES for name in c.by_restart(policy))


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> Callable[[int], StackConfig]:
    """The local stack of 1 or 3 nodes, its configuration rendered (once each)."""
    configs: dict[int, StackConfig] = {}

    def render(nodes: int) -> StackConfig:
        if nodes not in configs:
            configs[nodes] = render_local(nodes, tmp_path_factory.mktemp(f"state-{nodes}"))
        return configs[nodes]

    return render


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


@pytest.mark.parametrize("compose", files())
def test_compose_file_matches_the_compose_specification(
    validator: Draft7Validator, compose: Compose
):
    assert schema_errors(validator, compose.doc) == []


def _unknown_service_key(doc: dict) -> None:
    doc["services"]["thrift"]["imagee"] = "apache/kafka:4.1.1"


def _bad_condition(doc: dict) -> None:
    doc["services"]["thrift"]["depends_on"]["metastore"]["condition"] = "service_ready"


def _ports_not_a_list(doc: dict) -> None:
    name = next(name for name, spec in doc["services"].items() if "ports" in spec)
    doc["services"][name]["ports"] = "127.0.0.1:9092:9092"


@pytest.mark.parametrize("compose", files())
@pytest.mark.parametrize(
    "break_it",
    [
        pytest.param(_unknown_service_key, id="unknown-service-key"),
        pytest.param(_bad_condition, id="unknown-depends-on-condition"),
        pytest.param(_ports_not_a_list, id="ports-not-a-list"),
    ],
)
def test_the_schema_rejects_a_broken_compose_file(
    validator: Draft7Validator, compose: Compose, break_it: Callable
):
    broken = copy.deepcopy(compose.doc)
    break_it(broken)
    assert schema_errors(validator, broken) != []


# --- services and references ------------------------------------------------------------


@pytest.mark.parametrize(
    ("compose", "name"), service_params((c, name) for c in FILES for name in REQUIRED_SERVICES)
)
def test_required_service_is_present_and_long_running(compose: Compose, name: str):
    services = compose.services
    matching = [s for s in services if name in s and services[s].get("restart") == LONG_RUNNING]
    assert matching, f"no long-running service named like {name!r} in {sorted(services)}"


def _local_pairs() -> list:
    return service_params(
        (compose, name)
        for compose in FILES
        for name in local_services(compose.local)
        if name not in BESIDE_THE_NODES
    )


@pytest.mark.parametrize(("compose", "name"), _local_pairs())
def test_local_stack_service_runs_on_the_same_node(compose: Compose, name: str):
    """The same service, by name, on the node whose address the local stack gives it."""
    local = compose.local
    assert name in compose.services, f"{compose.path.name} has no {name}"
    assert compose.address_of(name) == local_services(local)[name].host(local)


@pytest.mark.parametrize(("compose", "name"), _local_pairs())
def test_service_waits_for_what_it_waits_for_in_the_local_stack(compose: Compose, name: str):
    needs = set(local_services(compose.local)[name].requires)
    assert needs <= compose.ancestors(name), (
        f"{name} starts before {needs - compose.ancestors(name)}"
    )


@pytest.mark.parametrize(("compose", "name"), every_service())
def test_restart_policy_says_long_running_or_one_shot(compose: Compose, name: str):
    assert compose.services[name].get("restart") in (LONG_RUNNING, ONE_SHOT)


@pytest.mark.parametrize(("compose", "name"), every_service())
def test_depends_on_resolves_with_a_condition_that_fits(compose: Compose, name: str):
    services = compose.services
    for dep, how in depends_on(services[name]).items():
        assert dep in services, f"{name} depends on unknown service {dep}"
        assert dep != name
        expected = (
            "service_completed_successfully"
            if services[dep].get("restart") == ONE_SHOT
            else "service_healthy"
        )
        assert how.get("condition") == expected, f"{name} -> {dep}"


@pytest.mark.parametrize("compose", files())
def test_dependencies_have_no_cycle(compose: Compose):
    for name in compose.services:
        assert name not in compose.ancestors(name), f"{name} depends on itself through others"


@pytest.mark.parametrize(("compose", "name"), every_service(shared_namespace_owner))
def test_shared_network_namespace_resolves(compose: Compose, name: str):
    spec = compose.services[name]
    owner = shared_namespace_owner(spec)
    assert owner in compose.services and owner != name
    assert compose.services[owner].get("restart") == LONG_RUNNING
    assert shared_namespace_owner(compose.services[owner]) is None
    assert owner in compose.ancestors(name), f"{name} does not wait for {owner}"
    # Docker refuses these beside network_mode: the namespace owner publishes the ports.
    for key in ("ports", "networks", "hostname", "expose"):
        assert key not in spec, f"{name} sets {key} and shares {owner}'s network namespace"


@pytest.mark.parametrize("compose", files())
def test_networks_resolve_and_are_used(compose: Compose):
    declared = set(compose.doc.get("networks", {}))
    used = set()
    for name, spec in compose.services.items():
        networks = spec.get("networks", [])
        for network in networks if isinstance(networks, list) else networks.keys():
            assert network in declared, f"{name} uses undeclared network {network}"
            used.add(network)
    assert used == declared


@pytest.mark.parametrize("compose", files())
def test_named_volumes_are_declared_and_used(compose: Compose):
    declared = set(compose.doc.get("volumes", {}))
    used = {
        source
        for spec in compose.services.values()
        for source, _ in mounts(spec)
        if source and not is_bind(source)
    }
    assert used == declared


@pytest.mark.parametrize(
    "source",
    [
        pytest.param(source, id=f"{compose.label}:{name}:{source}")
        for compose in FILES
        for name, spec in compose.services.items()
        for source, _ in mounts(spec)
        if is_bind(source)
    ],
)
def test_bind_mount_source_exists_in_the_repository(source: str):
    path = (ROOT / source).resolve()
    assert path.is_relative_to(ROOT), f"{source} is outside the repository"
    assert path.exists(), source


@pytest.mark.parametrize(("compose", "name"), every_service(lambda spec: "build" in spec))
def test_build_context_and_dockerfile_exist(compose: Compose, name: str):
    spec = compose.services[name]
    assert (ROOT / spec["build"]["context"]).is_dir()
    assert dockerfile_of(spec).is_file(), dockerfile_of(spec)


def test_an_image_is_built_the_same_way_by_every_service_of_both_files():
    """Services of one image (the Spark daemons and the Thrift Server, the landers and
    the publisher, in either file) must not build different contents under one tag."""
    builds: dict[str, list] = {}
    for compose in FILES:
        for spec in compose.services.values():
            if "build" in spec:
                builds.setdefault(spec["image"], []).append(spec["build"])
    assert builds
    for image, found in builds.items():
        assert all(build == found[0] for build in found), image


def _container_paths(spec: dict) -> list[str]:
    words = []
    for key in ("entrypoint", "command"):
        value = spec.get(key, [])
        words += value.split() if isinstance(value, str) else value
    words += [str(v) for v in (spec.get("environment") or {}).values()]
    return [w.strip("\"'") for w in words if w.strip("\"'").startswith("/etc/edtrack/")]


@pytest.mark.parametrize(("compose", "name"), every_service(_container_paths))
def test_mounted_paths_the_service_uses_exist_in_the_repository(compose: Compose, name: str):
    spec = compose.services[name]
    targets = [Path(target) for source, target in mounts(spec) if is_bind(source)]
    for path in _container_paths(spec):
        host = mounted_file(spec, path)
        if host is None:  # a folder that files mounted one by one fill
            assert any(t.is_relative_to(path) for t in targets), f"{name}: nothing mounts {path}"
        else:
            assert host.exists(), f"{name} uses {path}: {host} is missing"


# --- images -------------------------------------------------------------------------------

_PINNED = re.compile(r"^[a-z0-9][a-z0-9._/-]*:(?P<tag>\d+\.\d+[A-Za-z0-9._-]*)$")


@pytest.mark.parametrize(("compose", "name"), every_service())
def test_image_is_pinned_to_an_exact_version(compose: Compose, name: str):
    image = compose.services[name].get("image", "")
    match = _PINNED.match(image)
    assert match, f"{name}: image {image!r} has no exact version tag"
    assert "latest" not in match["tag"]


@pytest.mark.parametrize(("compose", "name"), every_service(lambda spec: "build" in spec))
def test_dockerfile_base_images_are_pinned(compose: Compose, name: str):
    spec = compose.services[name]
    images = base_images(dockerfile_of(spec), spec["build"].get("args", {}))
    assert images
    for image in images:
        assert _PINNED.match(image), f"{name}: base image {image!r} is not pinned"


# --- ports --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("compose", "port"),
    [
        pytest.param(compose, port, id=f"{compose.label}:{name}:{port}")
        for compose in FILES
        for name, port in compose.published_ports()
    ],
)
def test_published_port_binds_a_node_address_of_the_local_stack(compose: Compose, port):
    ip, published, target = parse_port(port)
    assert ip in compose.local.node_hosts
    # Kafka and the DataNodes advertise a node's address or name with the port they
    # listen on, so the host must see each service on its own port number.
    assert published == target


def local_host_ports(config: StackConfig) -> dict[str, list[int]]:
    """Each node address of the local stack: the ports of HOST_PORTS its services use."""
    found: dict[str, list[int]] = {}
    for service in local_services(config).values():
        for port in HOST_PORTS.get(service.port_name, ()):
            found.setdefault(service.host(config), []).append(config.ports[port])
    return {host: sorted(ports) for host, ports in found.items()}


@pytest.mark.parametrize("compose", files())
def test_each_node_publishes_the_local_stack_ports_of_its_services(compose: Compose):
    published: dict[str, list[int]] = {}
    for _, port in compose.published_ports():
        ip, _, target = parse_port(port)
        published.setdefault(ip, []).append(target)
    assert {ip: sorted(ports) for ip, ports in published.items()} == local_host_ports(compose.local)


# --- health -------------------------------------------------------------------------------


@pytest.mark.parametrize(("compose", "name"), by_restart(LONG_RUNNING))
def test_long_running_service_has_a_healthcheck(compose: Compose, name: str):
    check = compose.services[name].get("healthcheck", {})
    assert not check.get("disable", False)
    test = check.get("test")
    assert test and test[0] in ("CMD", "CMD-SHELL") and len(test) > 1, test
    for key in ("interval", "timeout", "retries"):
        assert key in check, f"{name}: healthcheck has no {key}"


@pytest.mark.parametrize(("compose", "name"), by_restart(ONE_SHOT))
def test_one_shot_service_is_awaited_or_optional(compose: Compose, name: str):
    awaited = any(
        depends_on(spec).get(name, {}).get("condition") == "service_completed_successfully"
        for spec in compose.services.values()
    )
    assert awaited or compose.services[name].get("profiles"), f"nothing waits for {name}"


# --- versions: the same as the local stack ------------------------------------------------


def _version_cases(compose: Compose) -> list[tuple[str, Callable[[], tuple[str, str]]]]:
    services = compose.services
    cases = [
        (
            f"{name}-kafka",
            lambda image=image: (image_tag(image), pom_property("kafka", "kafka.version")),
        )
        for name, image in compose.images_of("apache/kafka")
    ]
    cases += [
        (
            f"{name}-hadoop",
            lambda image=image: (image_tag(image), pom_property("hdfs", "hadoop.version")),
        )
        for name, image in compose.images_of("apache/hadoop")
    ]
    cases += [
        ("thrift-spark", lambda: (image_tag(services["thrift"]["image"]), pinned("pyspark"))),
        (
            "metastore-spark-image",
            lambda: (
                compose.build_arg("metastore", "SPARK_IMAGE"),
                compose.build_arg("thrift", "SPARK_IMAGE"),
            ),
        ),
        (
            "metastore-dockerfile-default",
            lambda: (
                dockerfile_args(dockerfile_of(services["metastore"]))["SPARK_IMAGE"],
                compose.build_arg("thrift", "SPARK_IMAGE"),
            ),
        ),
        (
            "thrift-dockerfile-default",
            lambda: (
                dockerfile_args(dockerfile_of(services["thrift"]))["SPARK_IMAGE"],
                compose.build_arg("thrift", "SPARK_IMAGE"),
            ),
        ),
        (
            "thrift-iceberg",
            lambda: (
                compose.build_arg("thrift", "ICEBERG_VERSION"),
                pom_property("iceberg", "iceberg.version"),
            ),
        ),
        (
            "thrift-dockerfile-iceberg",
            lambda: (
                dockerfile_args(dockerfile_of(services["thrift"]))["ICEBERG_VERSION"],
                pom_property("iceberg", "iceberg.version"),
            ),
        ),
        (
            "metastore-image-tag",
            lambda: (image_tag(services["metastore"]["image"]), pinned("pyspark")),
        ),
        (
            "metastore-hive",
            lambda: (compose.build_arg("metastore", "HIVE_RELEASE"), pyspark_hive_version()),
        ),
        (
            "ingestor-python",
            lambda: (
                re.match(
                    r"\d+\.\d+", image_tag(compose.build_arg(_a_lander(compose), "PYTHON_IMAGE"))
                )[0],
                re.search(r">=(\d+\.\d+)", pyproject()["project"]["requires-python"])[1],
            ),
        ),
        (
            "ingestor-image-tag",
            lambda: (
                image_tag(services[_a_lander(compose)]["image"]),
                pyproject()["project"]["version"],
            ),
        ),
    ]
    return cases


def _a_lander(compose: Compose) -> str:
    return next(name for name in compose.services if name.startswith("ingestor"))


@pytest.mark.parametrize(
    "versions",
    [
        pytest.param(versions, id=f"{compose.label}:{case}")
        for compose in FILES
        for case, versions in _version_cases(compose)
    ],
)
def test_version_matches_the_local_stack(versions: Callable[[], tuple[str, str]]):
    in_compose, in_local_stack = versions()
    assert in_compose == in_local_stack


@pytest.mark.parametrize("compose", files())
def test_every_kafka_and_hadoop_service_is_version_checked(compose: Compose):
    local = local_services(compose.local)
    brokers = {name for name, s in local.items() if s.port_name == "kafka"}
    hdfs = {name for name, s in local.items() if s.port_name in ("namenode", "datanode")}
    assert {name for name, _ in compose.images_of("apache/kafka")} >= brokers
    assert {name for name, _ in compose.images_of("apache/hadoop")} >= hdfs


# --- secrets ------------------------------------------------------------------------------

_SECRET = re.compile(r"PASSWORD|SECRET|TOKEN|CREDENTIAL", re.IGNORECASE)


def secret_settings(compose: Compose) -> list[tuple[str, str, str]]:
    return [
        (name, key, value)
        for name, spec in compose.raw["services"].items()
        for key, value in (spec.get("environment") or {}).items()
        if _SECRET.search(key)
    ]


@pytest.mark.parametrize(
    "setting",
    [
        pytest.param(s, id=f"{compose.label}:{s[0]}:{s[1]}")
        for compose in FILES
        for s in secret_settings(compose)
    ],
)
def test_secret_comes_from_a_required_variable(setting: tuple[str, str, str]):
    _, _, value = setting
    assert re.fullmatch(r"\$\{[A-Z_][A-Z0-9_]*:\?[^}]+\}", str(value)), value


@pytest.mark.parametrize("compose", files())
def test_compose_refuses_to_run_without_the_password(compose: Compose):
    assert secret_settings(compose), "no service takes a password"
    with pytest.raises(MissingVariable, match=PASSWORD_VAR):
        interpolate(compose.raw, {})


def test_the_env_file_is_ignored_by_git_and_its_example_holds_no_password():
    ignored = (ROOT / ".gitignore").read_text().splitlines()
    assert ".env" in ignored or "/.env" in ignored
    example = (ROOT / "docker" / "env.example").read_text()
    assert re.search(rf"^{PASSWORD_VAR}=$", example, re.MULTILINE)


@pytest.mark.parametrize("compose", files())
def test_the_metastore_reads_its_database_password_from_the_environment(compose: Compose):
    spec = compose.services["metastore"]
    site = hadoop_xml(mounted_file(spec, "/etc/edtrack/metastore/hive-site.xml"))
    match = re.fullmatch(r"\$\{env\.(\w+)\}", site["javax.jdo.option.ConnectionPassword"])
    assert match, "hive-site.xml must not hold the password itself"
    assert match[1] in spec["environment"]


# --- settings of docker-compose.yml: the same as the local stack's -----------------------


@pytest.fixture(scope="module")
def local(rendered) -> Path:
    """The local stack's configuration of one node, rendered with its default ports."""
    return rendered(1).state_dir


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


LOGGING = {
    "docker/kafka/log4j2.properties": "kafka-log4j2.properties.j2",
    "docker/hadoop/log4j.properties": "hadoop-log4j.properties.j2",
    "docker/metastore/log4j2.properties": "spark-log4j2.properties.j2",
    "docker/spark/log4j2.properties": "spark-log4j2.properties.j2",
}


@pytest.mark.parametrize(("ours", "template"), list(LOGGING.items()))
def test_logging_matches_the_local_stack(ours: str, template: str):
    def settings(path: Path) -> list[str]:
        return [line for line in path.read_text().splitlines() if not line.startswith("#")]

    assert settings(ROOT / ours) == settings(ROOT / "stack/templates" / template)


def test_every_logging_file_of_the_docker_stacks_is_checked():
    """Both files mount their logging configuration from these (none of docker/nodes)."""
    found = {str(p.relative_to(ROOT)) for p in ROOT.glob("docker/**/log4j*.properties")}
    assert found == set(LOGGING)


# --- the pipeline's own settings ----------------------------------------------------------


def broker_settings(compose: Compose) -> list[dict[str, str]]:
    """The server.properties each Kafka service of the file reads."""
    found = [mounted_file(spec, BROKER_SETTINGS) for spec in compose.services.values()]
    return [key_values(path, "=") for path in found if path is not None]


def local_broker_settings(config: StackConfig) -> list[dict[str, str]]:
    return [
        key_values(rendered_file(config, name, "kafka-server.properties.j2"), "=")
        for name, service in local_services(config).items()
        if service.port_name == "kafka"
    ]


def check_topic(args: list[str], brokers: list[dict], local_brokers: list[dict]) -> None:
    """The topic as `edtrack publish` makes it on the local stack: its partitions, kept
    forever, the brokers' copies, and as many of them in sync to take a write (the topic's
    own min.insync.replicas, else the brokers')."""
    assert option(args, "--topic") == DEFAULT_TOPIC
    assert int(option(args, "--partitions")) == PublishConfig.partitions
    configs = dict(config.split("=", 1) for config in options(args, "--config"))
    assert configs["retention.ms"] == "-1"
    (copies,) = {broker["default.replication.factor"] for broker in local_brokers}
    (in_sync,) = {broker["min.insync.replicas"] for broker in local_brokers}
    (brokers_in_sync,) = {broker["min.insync.replicas"] for broker in brokers}
    assert option(args, "--replication-factor") == copies
    assert configs.get("min.insync.replicas", brokers_in_sync) == in_sync


@pytest.mark.parametrize("compose", files())
def test_the_topic_is_created_as_the_publisher_creates_it_on_the_local_stack(
    compose: Compose, rendered
):
    local = rendered(compose.nodes)
    args = compose.services["kafka-topic"]["command"]
    check_topic(args, broker_settings(compose), local_broker_settings(local))


def _one_copy(args: list[str]) -> None:
    args[args.index("--replication-factor") + 1] = "1"


def _one_in_sync(args: list[str]) -> None:
    args[args.index("min.insync.replicas=2")] = "min.insync.replicas=1"


def _kept_a_week(args: list[str]) -> None:
    args[args.index("retention.ms=-1")] = "retention.ms=604800000"


@pytest.mark.parametrize(
    "break_it",
    [
        pytest.param(_one_copy, id="replication-1"),
        pytest.param(_one_in_sync, id="min-insync-1"),
        pytest.param(_kept_a_week, id="retention-a-week"),
    ],
)
def test_the_topic_check_catches_a_topic_unlike_the_local_stacks(rendered, break_it: Callable):
    args = list(NODES.services["kafka-topic"]["command"])
    break_it(args)
    with pytest.raises(AssertionError):
        check_topic(args, broker_settings(NODES), local_broker_settings(rendered(3)))


@pytest.mark.parametrize(
    ("compose", "name"), every_service(lambda spec: (spec.get("command") or [""])[0] == "land")
)
def test_the_lander_lands_the_publishers_topic(compose: Compose, name: str):
    assert option(compose.services[name]["command"], "--topic") == DEFAULT_TOPIC


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
    [pytest.param(p, id=str(p.relative_to(ROOT))) for p in sorted(ROOT.glob("docker/**/*.sh"))],
)
def test_start_script_is_valid_sh(script: Path):
    result = subprocess.run(["sh", "-n", str(script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert script.read_text().startswith("#!/bin/sh\n")

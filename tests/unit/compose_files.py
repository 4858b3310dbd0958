"""The compose files and the local stack, read the way tests/unit/test_compose*.py
compare them: without a Docker engine, so every check reads the YAML, the files its
services mount, and the local stack's own configuration."""

from __future__ import annotations

import functools
import re
import tomllib
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path

import yaml

from stack.config import StackConfig, from_env
from stack.jars import POMS
from stack.launcher import render_configs
from stack.services import services_for
from stack.services.base import Service

ROOT = Path(__file__).resolve().parents[2]
PASSWORD_VAR = "EDTRACK_METASTORE_DB_PASSWORD"
# What `docker compose` would read from .env in these tests.
TEST_ENV = {PASSWORD_VAR: "not-a-real-password"}
LONG_RUNNING = "unless-stopped"
ONE_SHOT = "no"
# Where every Kafka service of both files reads its broker's settings.
BROKER_SETTINGS = "/etc/edtrack/kafka/server.properties"


# --- variables ----------------------------------------------------------------------------

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


# --- one service ----------------------------------------------------------------------------


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


def mounted_file(spec: dict, path: str) -> Path | None:
    """The repository file a service sees at ``path``, through the most specific of its
    bind mounts (a file mounted inside a mounted folder wins); None if none provides it."""
    found = [
        (len(target), ROOT / source / Path(path).relative_to(target))
        for source, target in mounts(spec)
        if is_bind(source) and Path(path).is_relative_to(target)
    ]
    return max(found)[1] if found else None


def option(args: list[str], name: str) -> str:
    return args[args.index(name) + 1]


def options(args: list[str], name: str) -> list[str]:
    """Every value of an option given several times (``--config a --config b``)."""
    return [args[i + 1] for i, arg in enumerate(args) if arg == name]


_PORT = re.compile(r"^(?P<ip>[0-9.]+):(?P<published>\d+):(?P<target>\d+)(?:/tcp)?$")


def parse_port(port: str | dict) -> tuple[str, int, int]:
    if isinstance(port, dict):
        return port.get("host_ip", ""), int(port.get("published", 0)), int(port["target"])
    match = _PORT.match(str(port))
    assert match, f"port {port!r} does not name a host address"
    return match["ip"], int(match["published"]), int(match["target"])


# --- one compose file -----------------------------------------------------------------------


@dataclass(frozen=True)
class Compose:
    """One compose file as `docker compose` reads it (``raw``: before interpolation),
    and the number of nodes of the local stack it mirrors."""

    path: Path
    label: str  # in test ids
    nodes: int
    raw: dict
    doc: dict

    @classmethod
    def load(cls, name: str, label: str, nodes: int) -> Compose:
        raw = yaml.safe_load((ROOT / name).read_text())
        return cls(ROOT / name, label, nodes, raw, interpolate(raw, TEST_ENV))

    @property
    def services(self) -> dict[str, dict]:
        return self.doc["services"]

    def by_restart(self, policy: str) -> list[str]:
        return [name for name, spec in self.services.items() if spec.get("restart") == policy]

    def ancestors(self, name: str) -> set[str]:
        seen: set[str] = set()
        todo = list(depends_on(self.services[name]))
        while todo:
            dep = todo.pop()
            if dep not in seen and dep in self.services:
                seen.add(dep)
                todo.extend(depends_on(self.services[dep]))
        return seen

    def images_of(self, repository: str) -> list[tuple[str, str]]:
        return [
            (name, spec["image"])
            for name, spec in self.services.items()
            if spec.get("image", "").rsplit(":", 1)[0] == repository
        ]

    def published_ports(self) -> list[tuple[str, str | dict]]:
        return [
            (name, port) for name, spec in self.services.items() for port in spec.get("ports", [])
        ]

    def node_addresses(self) -> dict[str, str]:
        """Each service that publishes ports: the one host address it publishes them on."""
        found: dict[str, set[str]] = {}
        for name, port in self.published_ports():
            found.setdefault(name, set()).add(parse_port(port)[0])
        for name, addresses in found.items():
            assert len(addresses) == 1, f"{name} publishes on {sorted(addresses)}"
        return {name: addresses.pop() for name, addresses in found.items()}

    def address_of(self, name: str) -> str:
        """The host address of the node a service runs on (its namespace's)."""
        return self.node_addresses()[shared_namespace_owner(self.services[name]) or name]

    def build_arg(self, service: str, name: str) -> str:
        spec = self.services[service]
        return spec["build"].get("args", {}).get(name) or dockerfile_args(dockerfile_of(spec))[name]

    @property
    def local(self) -> StackConfig:
        return local_config(self.nodes)


ONE = Compose.load("docker-compose.yml", "one", nodes=1)
NODES = Compose.load("docker-compose.nodes.yml", "nodes", nodes=3)
FILES = (ONE, NODES)


# --- the local stack ------------------------------------------------------------------------


@functools.cache
def local_config(nodes: int) -> StackConfig:
    """The local stack of ``nodes`` nodes with its default ports and addresses. Its state
    dir does not exist: nothing a developer's `stack up` saved changes it."""
    return from_env({"EDTRACK_NODES": str(nodes)}, state_dir=ROOT / "tests/unit/data/no-state")


def local_services(config: StackConfig) -> dict[str, Service]:
    """The services the local stack runs, by name, each with what it waits for."""
    return {service.name: service for service in services_for(config)}


def render_local(nodes: int, state_dir: Path) -> StackConfig:
    """The local stack of ``nodes`` nodes, its configuration rendered into ``state_dir``."""
    config = from_env({"EDTRACK_NODES": str(nodes)}, state_dir=state_dir)
    render_configs(config)
    return config


def rendered_file(config: StackConfig, service: str, template: str) -> Path:
    """Where `stack up` renders ``template`` for ``service`` (under ``config.state_dir``)."""
    (found,) = [dest for tpl, dest in local_services(config)[service].configs if tpl == template]
    return config.state_dir / found


# --- versions -------------------------------------------------------------------------------

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


# --- configuration files --------------------------------------------------------------------


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


def port_of(address: str) -> str:
    return address.rsplit(":", 1)[1]

"""JVM dependencies: Maven fetches them from the committed poms, once.

``mvn dependency:copy-dependencies`` copies each pom's jars into ``<cache>/jars/<name>``.
A stamp holding the pom's hash makes a second ``stack up`` skip Maven entirely; Maven's
own ``~/.m2`` cache makes a re-fetch after a pom change download only what changed.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

from core.errors import UserError

MAVEN_DIR = Path(__file__).resolve().parent / "maven"
# The stack's own jars, fetched by every ``stack up``.
POMS = {
    "kafka": MAVEN_DIR / "kafka.pom.xml",
    "hdfs": MAVEN_DIR / "hdfs.pom.xml",
    "postgres": MAVEN_DIR / "postgres.pom.xml",  # the metastore's JDBC driver
    "iceberg": MAVEN_DIR / "iceberg.pom.xml",
    "delta": MAVEN_DIR / "delta.pom.xml",
}
# Jars only the benchmark's peers use (Spark's Kafka source), fetched when they run.
EXTRA_POMS = {"spark-kafka": MAVEN_DIR / "spark-kafka.pom.xml"}


def _pom(name: str) -> Path:
    return POMS[name] if name in POMS else EXTRA_POMS[name]


STAMP = ".edtrack-stamp"


def poms_for(config) -> list[str]:
    """The poms a stack of ``config`` needs: PostgreSQL's driver only for its metastore."""
    optional = {"postgres": config.metastore_db == "postgres"} | {
        fmt: config.table_format == fmt for fmt in ("iceberg", "delta")
    }
    return [n for n in POMS if optional.get(n, True)]


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def is_fetched(jars_dir: Path, name: str) -> bool:
    stamp = jars_dir / name / STAMP
    return stamp.exists() and stamp.read_text().strip() == _digest(_pom(name))


def fetch(jars_dir: Path, name: str, log) -> Path:
    """Make sure ``jars_dir/name`` holds the jars of pom ``name``; return that folder."""
    target = jars_dir / name
    if is_fetched(jars_dir, name):
        return target
    mvn = shutil.which("mvn")
    if mvn is None:
        raise UserError(
            "Maven ('mvn') is needed once to fetch the stack's jars: install it "
            "(apt-get install maven) and run the command again."
        )
    log(f"fetching {name} jars with Maven into {target} (once)")
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    cmd = [
        mvn,
        "-B",
        "-q",
        "-f",
        str(_pom(name)),
        "dependency:copy-dependencies",
        f"-DoutputDirectory={target}",
    ]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-15:])
        raise UserError(
            f"Maven could not fetch the {name} jars (is Maven Central reachable?).", detail=tail
        )
    (target / STAMP).write_text(_digest(_pom(name)))
    return target


def compile_java(source: Path, classpath: str, classes_dir: Path, java_home: Path) -> Path:
    """Compile one launcher class once (recompiled when its source changes)."""
    stamp = classes_dir / (source.stem + ".stamp")
    if stamp.exists() and stamp.read_text() == _digest(source):
        return classes_dir
    javac = java_home / "bin" / "javac"
    if not javac.exists():
        raise UserError(
            f"A JDK (javac) is needed to build the metastore launcher; {javac} is missing: "
            "install openjdk-17-jdk-headless or point JAVA_HOME at a JDK."
        )
    classes_dir.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [str(javac), "-d", str(classes_dir), "-cp", classpath, str(source)],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise UserError(f"Could not compile {source.name}.", detail=result.stderr[-2000:])
    stamp.write_text(_digest(source))
    return classes_dir

"""``make demo``: the whole pipeline, end to end, on one machine.

Stack up, generate attempts (or take a real export), publish them, land them, build
the warehouse with dbt, and answer client questions from ``queries/`` over the
Thrift Server. Leaves the stack running.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import click

from core import sql
from core.errors import UserError
from core.project import PROJECT_ROOT, catalogue_query
from stack.config import StackConfig
from stack.secrets_file import password, write_private

DEMO_QUERIES = ("attempts_overall", "most_taken_exams")
# With --auth ldap: a login of the first demo customer, made once, answers on its own.
DEMO_CUSTOMER = "northwind"
DEMO_CUSTOMER_USER = "northwind-demo"
DEMO_CUSTOMER_QUERY = "most_taken_exams"


def step(message: str) -> None:
    click.secho(f"\n==> {message}", fg="cyan", bold=True)


def dbt_env(config: StackConfig, login: sql.Login) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("EDTRACK_USER", login.user)
    if login.password is not None:
        env.setdefault("EDTRACK_PASSWORD", login.password)
    env.setdefault("DBT_PROFILES_DIR", str(PROJECT_ROOT / "profiles"))
    env["DBT_THRIFT_HOST"] = config.host
    env["DBT_THRIFT_PORT"] = str(config.ports["thrift"])
    if config.tls:
        env["EDTRACK_THRIFT_SSL_CAFILE"] = str(config.tls_cert_file)
    return env


def run_dbt(config: StackConfig, login: sql.Login, *args: str) -> None:
    dbt = Path(sys.executable).parent / "dbt"
    result = subprocess.run([str(dbt), *args], cwd=PROJECT_ROOT, env=dbt_env(config, login))
    if result.returncode != 0:
        raise UserError(f"dbt {' '.join(args)} failed (exit {result.returncode}); see above.")


def run_demo(config: StackConfig, input_path: str | None, count: int, seed: int) -> None:
    from ingestion import generate
    from ingestion.landing.lander import LandConfig
    from ingestion.landing.wiring import land
    from ingestion.publish import PublishConfig, publish
    from ingestion.topic import DEFAULT_TOPIC, topic_size
    from stack.launcher import Stack

    t0 = time.monotonic()
    step("Starting the local stack (Kafka, HDFS, Hive metastore, Spark Thrift Server)")
    Stack(config, log=lambda m: click.echo(f"  {m}")).up()
    login = sql.Login.from_env(os.environ)  # EDTRACK_USER / EDTRACK_PASSWORD (LDAP auth)
    if config.auth == "ldap" and login.password is None:
        # The stack's seeded user, one of the analysts.
        login = sql.Login(config.ldap_user, password(config.ldap_password_file))

    if input_path is None:
        path = config.state_dir / "demo" / f"attempts-{count}-seed{seed}.json"
        if not path.exists():
            step(f"Generating {count:,} synthetic attempts (seed {seed})")
            path.parent.mkdir(parents=True, exist_ok=True)
            generate.write(generate.generate(count, seed), path)
    else:
        path = Path(input_path)
        if not path.is_file():
            raise UserError(f"Input file {path} does not exist; check INPUT=...")

    existing = topic_size(config.kafka_bootstrap, DEFAULT_TOPIC)
    if existing:
        step(
            f"Topic {DEFAULT_TOPIC} already holds {existing:,} messages: not publishing "
            "again (use 'edtrack publish FILE' to add more)"
        )
    else:
        step(f"Publishing {path.name} to Kafka topic {DEFAULT_TOPIC}")
        summary = publish(path, PublishConfig(bootstrap=config.kafka_bootstrap))
        click.echo(f"  {summary.line()}")

    step("Landing messages on HDFS as raw.assessment_attempts")
    land(
        LandConfig(bootstrap=config.kafka_bootstrap),
        config.hdfs_url,
        config.host,
        config.ports["thrift"],
        run_dir=config.run_dir,
        login=login,
        until_caught_up=True,
        report=lambda m: click.echo(f"  {m}"),
    )

    step("Building the warehouse: dbt build (staging -> marts, with tests)")
    run_dbt(config, login, "build")

    step("Answering client questions over the Thrift Server")
    connection = sql.connect(
        config.host,
        config.ports["thrift"],
        login.user,
        login.password,
        require_password=config.auth == "ldap",
        ssl_cafile=config.tls_cert_file if config.tls else None,
    )
    try:
        for name in DEMO_QUERIES:
            query = catalogue_query(name)
            click.secho(f"\n{query.question}", bold=True)
            click.echo(sql.render(sql.run(connection, query.text), "table"))
    finally:
        connection.close()
    if config.auth == "ldap":
        customer_answers(config)

    port = config.ports["thrift"]
    click.secho(
        f"\nDone in {time.monotonic() - t0:.0f} s. The stack is still running.",
        fg="green",
        bold=True,
    )
    click.echo(
        f'Query it:  .venv/bin/edtrack sql "select * from marts.mart_exam_popularity"\n'
        f"       or:  beeline -u jdbc:hive2://{config.host}:{port}/default\n"
        f"Stop it:   .venv/bin/edtrack stack down"
    )


def customer_answers(config: StackConfig) -> None:
    """One customer's own login (made once, its password kept in the state dir) asks a
    catalogue question of the tables of ``shared``: the server answers with that
    customer's exams only."""
    from stack import directory

    secret = config.service_dir("ldap") / f"{DEMO_CUSTOMER_USER}.password"
    if not secret.exists():
        added = directory.add_user(config, DEMO_CUSTOMER_USER, DEMO_CUSTOMER)
        if added.password is None:
            raise UserError(
                f"User {DEMO_CUSTOMER_USER} exists but its password is not in {secret}: "
                f"remove it from the directory or write its password there."
            )
        write_private(secret, added.password)
    query = catalogue_query(DEMO_CUSTOMER_QUERY)
    step(f"The same question as customer {DEMO_CUSTOMER}'s own login ({DEMO_CUSTOMER_USER})")
    connection = sql.connect(
        config.host,
        config.ports["thrift"],
        DEMO_CUSTOMER_USER,
        secret.read_text(),
        require_password=True,
        ssl_cafile=config.tls_cert_file if config.tls else None,
    )
    try:
        # Clients' questions name the marts; a customer asks them of the shared tables.
        text = query.text.replace("marts.", "shared.")
        click.secho(f"\n{query.question} (its own exams only)", bold=True)
        click.echo(sql.render(sql.run(connection, text), "table"))
    finally:
        connection.close()
    click.echo(
        f"  Its password is in {secret}; a mart or another customer's rows are refused:\n"
        f'  EDTRACK_USER={DEMO_CUSTOMER_USER} EDTRACK_PASSWORD="$(cat {secret})" '
        f'.venv/bin/edtrack sql "select * from marts.dim_exams"'
    )

"""What per-customer access costs a query: a customer's login on the views of ``shared``
against an analyst's login on the marts, the same questions, the same server.

A private stack with LDAP logins (``--auth ldap``) builds the warehouse from generated
attempts (the default seed, so the committed ``exam_owners`` seed owns their exams),
then asks each question of the query catalogue that reads the client marts, ``--runs``
times, alternating the two logins so that both see the same server state:

* **mart**: the analyst's question as written (``marts.*``, every customer's rows);
* **customer**: a customer's login, the same text on ``shared.*`` (the server adds the
  login's customer filter and checks the statement).

The figure is the ratio of the medians per question (customer / mart), and the median
of those ratios (goal: at most 1.2). Run it alone on the machine.

    .venv/bin/python -m bench.customer_access --attempts 100000 --runs 15
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from core import sql
from core.project import PROJECT_ROOT, catalogue
from stack.config import from_env
from stack.launcher import Stack
from stack.secrets_file import password

BIN = Path(sys.executable).parent
CUSTOMER = "northwind"
CUSTOMER_USER = "bench-northwind"
# Catalogue questions over the marts that a customer asks of its shared views too
# (the others read tables a customer may not: test records, the shared-name audit).
QUESTIONS = (
    "most_taken_exams",
    "least_taken_exams",
    "exam_scores",
    "attempt_durations",
    "hardest_questions",
    "question_correct_rates",
    "option_picks",
    "incomplete_and_unanswered",
    "activity_by_day",
    "activity_by_hour",
)


def run(label: str, cmd: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    t0 = time.monotonic()
    result = subprocess.run(cmd, env=env, cwd=PROJECT_ROOT, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"{label} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    print(f"  {label:<24} {time.monotonic() - t0:8.1f} s", flush=True)
    return result


def timed_query(connection, text: str) -> float:
    t0 = time.perf_counter()
    sql.run(connection, text)
    return time.perf_counter() - t0


def measure(attempts: int, runs: int, offset: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="edtrack-bench-access-") as tmp:
        env_base = {k: v for k, v in os.environ.items() if not k.startswith("EDTRACK_")}
        config = from_env(env_base, state_dir=Path(tmp) / "state", port_offset=offset, auth="ldap")
        config = dataclasses.replace(config, start_timeout_s=600.0)
        stack = Stack(config, log=lambda m: None)
        analyst_password = None
        env = {
            **env_base,
            "EDTRACK_STATE_DIR": str(config.state_dir),
            "EDTRACK_PORT_OFFSET": str(offset),
            "DBT_PROFILES_DIR": str(PROJECT_ROOT / "profiles"),
            "DBT_THRIFT_PORT": str(config.ports["thrift"]),
            "DBT_TARGET_PATH": str(Path(tmp) / "target"),
            "EDTRACK_USER": config.ldap_user,
        }
        edtrack = str(BIN / "edtrack")
        print(f"{attempts:,} attempts, {runs} runs per question and login", flush=True)
        stack.up()
        try:
            analyst_password = password(config.ldap_password_file)
            env["EDTRACK_PASSWORD"] = analyst_password
            data = Path(tmp) / "attempts.jsonl"
            generate = [edtrack, "generate", "--count", str(attempts), "--output", str(data)]
            run("generate", generate, env)
            run("publish", [edtrack, "publish", str(data)], env)
            run("land", [edtrack, "land", "--until-caught-up"], env)
            run("dbt build", [str(BIN / "dbt"), "build"], env)
            customer_password = run(
                "users add",
                [edtrack, "users", "add", CUSTOMER_USER, "--customer", CUSTOMER],
                env,
            ).stdout.strip()
            host, port = config.host, config.ports["thrift"]
            analyst = sql.connect(
                host, port, config.ldap_user, analyst_password, require_password=True
            )
            customer = sql.connect(
                host, port, CUSTOMER_USER, customer_password, require_password=True
            )
            questions = {q.name: q for q in catalogue()}
            out = {"attempts": attempts, "runs": runs, "customer": CUSTOMER, "questions": {}}
            try:
                for name in QUESTIONS:
                    text = questions[name].text
                    shared = text.replace("marts.", "shared.")
                    rows_mart = len(sql.run(analyst, text).rows)
                    rows_customer = len(sql.run(customer, shared).rows)  # warm both once
                    mart, mine = [], []
                    for _ in range(runs):
                        mart.append(timed_query(analyst, text))
                        mine.append(timed_query(customer, shared))
                    entry = {
                        "mart_median_s": round(statistics.median(mart), 4),
                        "customer_median_s": round(statistics.median(mine), 4),
                        "rows_mart": rows_mart,
                        "rows_customer": rows_customer,
                    }
                    entry["ratio"] = round(entry["customer_median_s"] / entry["mart_median_s"], 3)
                    out["questions"][name] = entry
                    print(
                        f"  {name:<28} mart {entry['mart_median_s']:.3f} s  customer "
                        f"{entry['customer_median_s']:.3f} s  ratio {entry['ratio']:.2f}",
                        flush=True,
                    )
            finally:
                analyst.close()
                customer.close()
            ratios = [q["ratio"] for q in out["questions"].values()]
            out["median_ratio"] = round(statistics.median(ratios), 3)
            out["max_ratio"] = round(max(ratios), 3)
            return out
        finally:
            stack.down()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attempts", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--port-offset", type=int, default=12000)
    parser.add_argument(
        "--output", type=Path, default=PROJECT_ROOT / "bench" / "results" / "customer_access.json"
    )
    args = parser.parse_args()
    result = measure(args.attempts, args.runs, args.port_offset)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    ratios = f"{result['median_ratio']:.2f} (max {result['max_ratio']:.2f})"
    print(f"median ratio customer / mart: {ratios}")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()

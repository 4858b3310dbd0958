"""Sharing per customer: every table of schema shared, filtered to one customer, equals
the answer computed in Python over that customer's records alone.

Lands attempts of the generator's default seed, whose exams the committed seeds
(warehouse/seeds) give to the demo customers, and builds. After the other modules (file
order) the warehouse also holds their attempts: other seeds' exams and the real sample's,
which no customer owns. The expected values are computed from every payload in raw, so
whatever landed before is accounted for.
"""

from __future__ import annotations

import collections
import csv
import json
import re

import pytest

from core.project import PROJECT_ROOT, models
from ingestion.generate import CUSTOMERS

from . import expected
from .test_pipeline import approx, by_key, read_records

SEEDS = PROJECT_ROOT / "warehouse" / "seeds"
CUSTOMER_IDS = [c.customer_id for c in CUSTOMERS]
# The client marts by their key, and the shared tables of those keyed by exam.
EXAM_VIEWS = [m for m in models("marts") if "customer" not in m and "activity" not in m]
WARN_TEST = "assert_attempted_exams_have_an_owner"


def seed_rows(name: str) -> list[dict]:
    with (SEEDS / name).open(newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def owners() -> dict[str, str]:
    return {r["base_exam_id"]: r["customer_id"] for r in seed_rows("exam_owners.csv")}


@pytest.fixture(scope="module")
def built(cli, tmp_path_factory) -> dict:
    """Default-seed attempts landed and built: every record in raw, the generated ones,
    and dbt's output."""
    path = tmp_path_factory.mktemp("shared") / "attempts.json"
    cli.run("generate", "--count", "600", "--output", str(path))  # the default seed
    cli.run("publish", str(path))
    cli.run("land", "--until-caught-up")
    build = cli.dbt("build")
    payloads = cli.sql("select payload from raw.assessment_attempts")
    return {
        "records": [json.loads(r["payload"]) for r in payloads],
        "generated": read_records(path),
        "output": build.stdout,
    }


@pytest.fixture(scope="module")
def records(built) -> list[dict]:
    return built["records"]


@pytest.fixture(scope="module")
def own(records, owners) -> dict[str, list[dict]]:
    """Each customer's records, as if the warehouse held only those."""
    split = expected.per_customer(records, owners)
    assert sorted(split) == sorted(CUSTOMER_IDS)  # the default seed's data reaches each
    return split


def rows(cli, view: str, customer: str) -> list[dict]:
    return cli.sql(f"select * from shared.{view} where customer_id = '{customer}'")


def test_the_seeds_load_into_schema_reference_as_committed(cli, built, owners):
    loaded = cli.sql("select base_exam_id, customer_id from reference.exam_owners")
    assert {r["base_exam_id"]: r["customer_id"] for r in loaded} == owners
    names = cli.sql("select customer_id, customer_name from reference.customers")
    assert sorted((r["customer_id"], r["customer_name"]) for r in names) == sorted(
        (c.customer_id, c.customer_name) for c in CUSTOMERS
    )


@pytest.mark.parametrize("customer", CUSTOMER_IDS)
def test_each_exam_table_is_the_mart_over_the_customers_records_alone(cli, own, customer):
    mine = own[customer]
    popularity = rows(cli, "mart_exam_popularity", customer)
    assert by_key(popularity, "base_exam_id", ["distinct_attempts", "attempt_rows"]) == (
        expected.popularity(mine)
    )
    ranks = {r["base_exam_id"]: r["popularity_rank"] for r in popularity}
    assert ranks == expected.popularity_ranks(mine)
    assert min(ranks.values()) == 1  # ranked within the customer, not among all exams
    assert by_key(
        rows(cli, "dim_exams", customer),
        "base_exam_id",
        ["exam_name", "is_name_shared", "question_count"],
    ) == expected.exams(mine)
    names = cli.sql(
        "select base_exam_id, span_number, exam_name, unix_micros(valid_from) as valid_from, "
        "unix_micros(valid_to) as valid_to, is_current, span_attempts "
        f"from shared.dim_exam_names where customer_id = '{customer}'"
    )
    assert by_key(
        names,
        ("base_exam_id", "span_number"),
        ["exam_name", "valid_from", "valid_to", "is_current", "span_attempts"],
    ) == expected.exam_names(mine)
    scores = expected.scores(mine)
    assert by_key(
        rows(cli, "mart_exam_scores", customer), "base_exam_id", list(next(iter(scores.values())))
    ) == approx(scores)
    assert by_key(
        rows(cli, "mart_question_difficulty", customer),
        "question_key",
        ["times_asked", "correct_answers", "correct_rate"],
    ) == approx(expected.question_difficulty(mine))
    assert by_key(
        rows(cli, "mart_option_choices", customer),
        ("question_key", "option_id"),
        ["times_shown", "times_checked", "is_correct_option"],
    ) == expected.option_choices(mine)
    timings = expected.durations(mine)
    assert by_key(
        rows(cli, "mart_attempt_durations", customer),
        "base_exam_id",
        list(next(iter(timings.values()))),
    ) == approx(timings)


@pytest.mark.parametrize("customer", CUSTOMER_IDS)
def test_the_activity_tables_are_the_activity_marts_over_the_customers_records(cli, own, customer):
    daily = rows(cli, "mart_activity_daily", customer)
    assert by_key(
        daily, "activity_date", ["distinct_attempts", "attempt_rows", "exams_taken"]
    ) == expected.activity_daily_measures(own[customer])
    hourly = rows(cli, "mart_activity_hourly", customer)
    assert by_key(
        hourly, "hour_of_day_utc", ["distinct_attempts", "attempt_rows"]
    ) == expected.activity_hourly_measures(own[customer])


def test_the_shared_activity_tables_hold_every_customer(cli, records, owners):
    daily = cli.sql("select * from shared.mart_activity_daily")
    assert by_key(
        daily,
        ("customer_id", "activity_date"),
        ["distinct_attempts", "attempt_rows", "exams_taken"],
    ) == expected.customer_activity_daily(records, owners)
    hourly = cli.sql("select * from shared.mart_activity_hourly")
    assert by_key(
        hourly, ("customer_id", "hour_of_day_utc"), ["distinct_attempts", "attempt_rows"]
    ) == expected.customer_activity_hourly(records, owners, CUSTOMER_IDS)
    # The customers' hours add up to the owned exams' attempts, fewer than all attempts.
    owned = [r for customer in expected.per_customer(records, owners).values() for r in customer]
    assert sum(r["distinct_attempts"] for r in hourly) == len(expected.attempts(owned))
    everything = cli.sql("select sum(distinct_attempts) as n from marts.mart_activity_hourly")
    assert len(expected.attempts(owned)) < everything[0]["n"]


def test_no_shared_table_has_a_row_of_an_exam_without_an_owner(cli, built, owners):
    attempted = {r["base_exam_id"] for r in cli.sql("select base_exam_id from marts.dim_exams")}
    unowned = attempted - set(owners)
    assert unowned  # EdTech Co's own exams, and every exam of the other modules' data
    for view in EXAM_VIEWS:
        shown = cli.sql(f"select distinct customer_id, base_exam_id from shared.{view}")
        assert shown, view
        assert {r["base_exam_id"] for r in shown} & unowned == set(), view
        assert all(owners[r["base_exam_id"]] == r["customer_id"] for r in shown), view
    for view in ("mart_activity_daily", "mart_activity_hourly"):
        customers = {r["customer_id"] for r in cli.sql(f"select customer_id from shared.{view}")}
        assert customers == set(CUSTOMER_IDS), view


def test_a_name_shared_with_a_competitors_exam_is_not_shared_in_its_table(cli, built, owners):
    """A name counts as shared only among the same customer's exams. The default data's
    twins (one name, two exam ids) include a pair owned by two customers: the marts say
    the name is shared, neither customer's table does. (Other modules' attempts, landed
    before, bring more exams under the same names; none of them is owned.)"""
    marts = cli.sql("select base_exam_id, exam_name, is_name_shared from marts.dim_exams")
    owned = [r for r in marts if r["base_exam_id"] in owners]
    same = collections.Counter(
        (owners[r["base_exam_id"]], r["exam_name"]) for r in owned if r["exam_name"] is not None
    )
    shown = {r["base_exam_id"]: r for r in cli.sql("select * from shared.dim_exams")}
    assert set(shown) == {r["base_exam_id"] for r in owned}
    for r in owned:
        n = same[(owners[r["base_exam_id"]], r["exam_name"])] if r["exam_name"] else None
        row = shown[r["base_exam_id"]]
        assert (row["exams_with_same_name"], row["is_name_shared"]) == (
            n,
            None if n is None else n > 1,
        ), row
    split = [
        r
        for r in owned
        if r["is_name_shared"] and same[(owners[r["base_exam_id"]], r["exam_name"])] == 1
    ]
    assert split, "no name shared across customers in the data"


def test_the_warn_test_lists_the_attempted_exams_without_an_owner(cli, built, owners):
    attempted = {r["base_exam_id"] for r in cli.sql("select base_exam_id from marts.dim_exams")}
    unowned = attempted - set(owners)
    output = built["output"]  # dbt exited 0 (cli.dbt checks it)
    assert re.search(rf"WARN {len(unowned)} {WARN_TEST}\b", output), output[-3000:]
    listed = re.search(r"Attempted exams without an owner \((\d+)\): (.*)$", output, re.M)
    assert listed, output[-3000:]
    assert int(listed.group(1)) == len(unowned)
    assert set(listed.group(2).strip().split(", ")) == unowned
    generated = {r["base_exam_id"] for r in expected.attempts(built["generated"])}
    assert generated - set(owners) <= unowned  # the default data's in-house exams too
    assert generated - set(owners)

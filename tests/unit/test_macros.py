"""The partition filters of warehouse/macros, rendered with Jinja as dbt renders them,
with run_query answered by a fake: the SQL they send and the filters they return."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from types import SimpleNamespace

import jinja2
import pytest
import yaml

from core.project import PROJECT_ROOT

MACROS = PROJECT_ROOT / "warehouse" / "macros"
PROJECT_VARS = yaml.safe_load((PROJECT_ROOT / "dbt_project.yml").read_text())["vars"]


class Returned(Exception):  # noqa: N818 - dbt's return() ends a macro the same way
    def __init__(self, value) -> None:
        self.value = value


@dataclass
class Column:
    rows: list[str]

    def values(self) -> list[str]:
        return self.rows


@dataclass
class Table:
    columns: list[Column] = field(default_factory=list)
    rows: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Relation:
    schema: str
    identifier: str
    database: None = None

    def __str__(self) -> str:
        return f"{self.schema}.{self.identifier}"


FLAT = Relation("flattened", "flat")


@dataclass(frozen=True)
class Listed(Relation):
    """A relation from dbt's cache: dbt-spark knows whether it is an Iceberg table when
    the relation came from the listing at the start of the invocation (None when this
    invocation built it)."""

    is_iceberg: bool | None = None


@dataclass(frozen=True)
class Existing:
    """A relation as dbt-spark's cache describes it."""

    is_iceberg: bool = False
    is_view: bool = False

    def __str__(self) -> str:
        return "marts.model"


class CompilerError(Exception):
    pass


class Exceptions:
    """dbt's `exceptions` namespace, the part the macros use."""

    @staticmethod
    def raise_compiler_error(message: str):
        raise CompilerError(message)


def returning(macro):
    def call(*args, **kwargs):
        try:
            return macro(*args, **kwargs)
        except Returned as returned:
            return returned.value

    return call


@dataclass
class Dbt:
    """The parts of dbt's context the macros use: every query returns ``dates``, and
    `describe table extended` a table of ``provider`` stored at ``location``, as
    Spark lays it out (columns, then the detailed rows); ``var`` falls back on
    dbt_project.yml's vars."""

    dates: list[str] = field(default_factory=list)
    location: str = "hdfs://nn/raw"
    provider: str = "parquet"
    execute: bool = True
    where: str | None = None
    variables: dict = field(default_factory=dict)
    missing: set[str] = field(default_factory=set)  # relations that do not exist
    queries: list[str] = field(default_factory=list)
    model_config: dict = field(default_factory=dict)  # the model's config() values
    full_refresh_flag: bool = False  # dbt's --full-refresh
    existing: Existing | None = None  # what dbt's cache holds for the model
    logged: list[str] = field(default_factory=list)
    listed_iceberg: bool | None = None  # the cached relation's is_iceberg
    nodes: dict = field(default_factory=dict)  # dbt's graph.nodes

    def get_relation(self, database, schema: str, identifier: str):
        name = f"{schema}.{identifier}"
        if name in self.missing:
            return None
        return Listed(schema, identifier, is_iceberg=self.listed_iceberg)

    def run_query(self, sql: str) -> Table:
        self.queries.append(sql)
        if sql.startswith("describe table extended"):
            return Table(
                rows=[
                    ("kafka_date", "string"),
                    ("", ""),
                    ("# Detailed Table Information", ""),
                    ("Location", self.location),
                    ("Provider", self.provider),
                ]
            )
        return Table([Column(self.dates)])

    def call(self, macro: str, *args) -> str:
        def dbt_return(value):
            raise Returned(value)

        context = {
            "run_query": self.run_query,
            "execute": self.execute,
            "return": dbt_return,
            "var": lambda name, default=None: {**PROJECT_VARS, **self.variables}.get(name, default),
            "config": {"where": self.where, **self.model_config},
            "adapter": self,
            "exceptions": Exceptions,
            "flags": SimpleNamespace(FULL_REFRESH=self.full_refresh_flag),
            "this": Relation("marts", "model"),
            "load_cached_relation": lambda relation: self.existing,
            "log": lambda message, info=False: self.logged.append(message) or "",
            "graph": {"nodes": self.nodes},
        }
        # As in dbt, each macro is a callable of the context that ends at its own
        # return(): a macro calling one of another file gets that one's value. The
        # context holds every name before any file is read (Jinja copies it).
        env = jinja2.Environment(extensions=["jinja2.ext.do"], undefined=jinja2.StrictUndefined)
        sources = [path.read_text() for path in sorted(MACROS.glob("*.sql"))]
        macros: dict = {}
        for name in re.findall(r"{%-?\s*macro\s+(\w+)", "\n".join(sources)):
            context[name] = functools.partial(lambda n, *a, **k: macros[n](*a, **k), name)
        for text in sources:
            module = env.from_string(text, globals=context).module
            for name in dir(module):
                if not name.startswith("_"):
                    macros[name] = returning(getattr(module, name))
        out = context[macro](*args)
        return " ".join(str(out).split())


def test_latest_build_finds_the_partitions_from_the_file_listing():
    dbt = Dbt(dates=["2018-01-12", "2018-01-10"], location="hdfs://nn/flat")
    assert dbt.call("latest_build", FLAT) == ("kafka_date in ('2018-01-12', '2018-01-10')")
    describe, newest, latest = (" ".join(query.split()) for query in dbt.queries)
    assert describe == "describe table extended flattened.flat"
    # The partition with the newest file, from the listing...
    assert "from binaryFile.`hdfs://nn/flat`" in newest
    assert newest.endswith("order by loaded_at desc limit 1")
    # ...gives the built_at that every partition's newest file is compared with. Only
    # that partition's rows are read.
    assert "from binaryFile.`hdfs://nn/flat`" in latest
    assert (
        "where loaded_at >= ( select max(built_at) - interval 30 seconds"
        " from flattened.flat where kafka_date = '2018-01-12' )"
    ) in latest


def test_latest_build_of_an_iceberg_table_asks_its_partitions_table():
    dbt = Dbt(dates=["2018-01-12"], location="hdfs://nn/flat", provider="iceberg")
    assert dbt.call("latest_build", FLAT) == "kafka_date in ('2018-01-12')"
    describe, partitions = (" ".join(query.split()) for query in dbt.queries)
    assert describe == "describe table extended flattened.flat"
    # The partitions the newest commit changed, from Iceberg's own record of them.
    assert partitions == (
        "select cast(partition.kafka_date as string) as kafka_date"
        " from flattened.flat.partitions where last_updated_at ="
        " (select max(last_updated_at) from flattened.flat.partitions) order by kafka_date"
    )


def model_node(schema: str, alias: str, file_format: str) -> dict:
    return {
        "resource_type": "model",
        "schema": schema,
        "alias": alias,
        "config": {"file_format": file_format},
    }


@pytest.mark.parametrize(
    ("listed_iceberg", "nodes"),
    [
        (True, {}),  # listed at the start of the invocation as an Iceberg table
        (None, {"model.p.flat": model_node("flattened", "flat", "iceberg")}),  # built now
    ],
    ids=["listed", "built-by-this-invocation"],
)
def test_latest_build_of_a_known_iceberg_table_describes_nothing(listed_iceberg, nodes):
    dbt = Dbt(dates=["2018-01-12"], provider="parquet", listed_iceberg=listed_iceberg, nodes=nodes)
    assert dbt.call("latest_build", FLAT) == "kafka_date in ('2018-01-12')"
    (partitions,) = dbt.queries
    assert "from flattened.flat.partitions" in partitions


def test_latest_build_trusts_the_listing_over_the_config():
    # A table still in another format than its model's config (before the run that
    # converts it) is listed as not Iceberg: its files are listed, not `.partitions`.
    nodes = {"model.p.flat": model_node("flattened", "flat", "iceberg")}
    dbt = Dbt(dates=["2018-01-12"], location="hdfs://nn/flat", listed_iceberg=False, nodes=nodes)
    dbt.call("latest_build", FLAT)
    assert dbt.queries[0] == "describe table extended flattened.flat"
    assert all(".partitions" not in query for query in dbt.queries)


def test_latest_build_of_another_model_describes_the_table():
    # Only the model whose schema and alias match tells the format.
    nodes = {"model.p.other": model_node("flattened", "other", "iceberg")}
    dbt = Dbt(dates=["2018-01-12"], location="hdfs://nn/flat", nodes=nodes)
    dbt.call("latest_build", FLAT)
    assert dbt.queries[0] == "describe table extended flattened.flat"
    assert "from binaryFile.`hdfs://nn/flat`" in dbt.queries[1]


def test_a_table_description_without_a_location_is_one_error():
    dbt = Dbt(dates=["2018-01-12"])
    dbt.run_query = lambda sql: Table(rows=[("kafka_date", "string")])
    with pytest.raises(CompilerError, match="Cannot find the storage location of flattened.flat"):
        dbt.call("latest_build", FLAT)


def test_latest_build_margin_comes_from_the_var():
    dbt = Dbt(dates=["2018-01-12"], variables={"latest_build_margin_s": 5})
    dbt.call("latest_build", FLAT)
    assert "max(built_at) - interval 5 seconds" in dbt.queries[-1]


def test_latest_build_of_an_empty_table_selects_nothing():
    assert Dbt(dates=[]).call("latest_build", FLAT) == "false"


def test_latest_build_of_a_table_not_built_yet_asks_nothing():
    # A compile or lint before the first run: no query against a missing table.
    dbt = Dbt(dates=["2018-01-10"], missing={"flattened.flat"})
    assert dbt.call("latest_build", FLAT) == "true"
    assert dbt.queries == []


def test_latest_build_at_parse_time_asks_nothing():
    dbt = Dbt(execute=False)
    assert dbt.call("latest_build", FLAT) == "true"
    assert dbt.queries == []


@pytest.mark.parametrize(
    ("loaded_at", "reads"),
    [
        pytest.param(None, "from binaryFile.`hdfs://nn/raw`", id="raw-from-file-listing"),
        pytest.param("partition_loaded_at", "max(partition_loaded_at) as loaded_at", id="model"),
    ],
)
def test_changed_partitions_compares_load_times_and_returns_literals(loaded_at, reads):
    dbt = Dbt(dates=["2018-01-11"])
    out = dbt.call("changed_partitions", "raw.attempts", loaded_at, "staging.stg")
    assert out == "kafka_date in ('2018-01-11')"
    query = " ".join(dbt.queries[-1].split())
    assert reads in query
    assert "from staging.stg group by kafka_date" in query
    assert "or upstream_partitions.loaded_at > built_partitions.loaded_at" in query


def test_changed_partitions_with_nothing_new_builds_nothing():
    dbt = Dbt(dates=[])
    assert dbt.call("changed_partitions", "staging.stg", "partition_loaded_at", "flat") == "false"


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        pytest.param(
            {},
            "(select * from flattened.flat where kafka_date in ('2018-01-10') and x > 0)"
            " dbt_subquery",
            id="latest-build",
        ),
        pytest.param(
            {"test_everything": True},
            "(select * from flattened.flat where true and x > 0) dbt_subquery",
            id="test-everything",
        ),
    ],
)
def test_a_test_where_placeholder_becomes_the_latest_partitions(variables, expected):
    dbt = Dbt(dates=["2018-01-10"], where="__latest_build__ and x > 0", variables=variables)
    assert dbt.call("get_where_subquery", FLAT) == expected
    assert len(dbt.queries) == (0 if variables else 3)


def test_a_test_without_where_reads_the_relation_itself():
    dbt = Dbt(where=None)
    assert dbt.call("get_where_subquery", FLAT) == "flattened.flat"
    assert dbt.queries == []


INCREMENTAL_ICEBERG = {"materialized": "incremental", "file_format": "iceberg"}


@pytest.mark.parametrize(
    ("model_config", "flag", "existing", "expected"),
    [
        (INCREMENTAL_ICEBERG, False, Existing(is_iceberg=True), "False"),
        (INCREMENTAL_ICEBERG, True, Existing(is_iceberg=True), "True"),
        ({**INCREMENTAL_ICEBERG, "full_refresh": False}, True, Existing(is_iceberg=True), "False"),
        (INCREMENTAL_ICEBERG, False, None, "False"),  # first build: nothing to convert
        (INCREMENTAL_ICEBERG, False, Existing(is_view=True), "False"),  # dbt replaces views
        ({"materialized": "incremental", "file_format": "parquet"}, False, Existing(), "False"),
        ({"materialized": "table", "file_format": "iceberg"}, False, Existing(), "False"),
    ],
)
def test_should_full_refresh_follows_the_config_then_the_flag(
    model_config, flag, existing, expected
):
    dbt = Dbt(model_config=model_config, full_refresh_flag=flag, existing=existing)
    assert dbt.call("should_full_refresh") == expected
    assert dbt.logged == []


def test_an_incremental_model_still_in_another_format_is_rebuilt_once_as_iceberg():
    dbt = Dbt(model_config=INCREMENTAL_ICEBERG, existing=Existing(is_iceberg=False))
    assert dbt.call("should_full_refresh") == "True"
    assert dbt.logged == [
        "marts.model is not an Iceberg table yet: building it in full once, as Iceberg"
    ]


STAGING = Relation("staging", "stg_assessments__attempts")


def test_a_merged_mart_reads_the_rows_of_keys_built_since_its_last_change():
    dbt = Dbt(model_config={"incremental_strategy": "merge"})
    assert dbt.call("rows_of_changed_keys", STAGING, "to_date(submitted_at)", True) == (
        "( select * from staging.stg_assessments__attempts where to_date(submitted_at) in "
        "( select to_date(submitted_at) from staging.stg_assessments__attempts "
        "where built_at > ( select coalesce(max(built_at), timestamp '1970-01-01') "
        "from marts.model ) ) ) as stg_assessments__attempts"
    )


@pytest.mark.parametrize(
    ("incremental", "strategy"),
    [(False, "merge"), (True, "insert_overwrite")],
    ids=["first-or-full-build", "mart-rewritten-whole"],
)
def test_a_full_build_or_a_whole_rewrite_reads_every_row(incremental, strategy):
    dbt = Dbt(model_config={"incremental_strategy": strategy})
    assert dbt.call("rows_of_changed_keys", STAGING, "base_exam_id", incremental) == str(STAGING)

"""``edtrack report``: one self-contained HTML page of charts over the marts.

Fetching and drawing are separate. :func:`fetch_all` runs queries of the client
catalogue (``queries/``) over the Spark Thrift Server as they are, so each chart shows
what a client reads; the notebook's ``fetch_*`` functions look into the pipeline's own
tables (values as PyHive ``%(name)s`` parameters). Both return plain rows, lists of
dicts. The ``plot_*`` functions take such rows and return a :class:`Chart` (a
matplotlib figure drawn with the Agg canvas, never pyplot, so no global backend state
is touched), and :func:`render_html` turns charts and tables into the page, every
image embedded as base64 PNG. The notebook (``notebooks/edtrack_report.ipynb``) uses
the same functions; unit tests draw hand-made rows.

Test records (``base_exam_id`` the dbt var ``test_exam_id``) are what the marts hold:
left out unless dbt's ``include_test_records`` was true, in which case every caption
says so.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import html
import io
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core import sql
from core.errors import UserError
from core.project import Query, catalogue_query

LABEL_WIDTH = 42
LAYER_SCHEMAS = ("raw", "staging", "flattened", "marts")

Row = Mapping[str, Any]

# --- data -------------------------------------------------------------------------------

# What the report draws, each the answer of one query of the client catalogue
# (``queries/<name>.sql``), run as a client runs it: a chart shows what a client reads.
QUERIES = {
    "overall": "attempts_overall",
    "popularity": "most_taken_exams",
    "scores": "exam_scores",
    "correct_rates": "question_correct_rates",
    "hardest": "hardest_questions",
    "hourly": "activity_by_hour",
    "daily": "activity_by_day",
    "durations": "attempt_durations",
    "test_records": "test_records",
}


def report_queries() -> dict[str, Query]:
    """The report's queries by what they fetch (the keys of :data:`QUERIES`)."""
    return {key: catalogue_query(name) for key, name in QUERIES.items()}


def mart_tables(queries: Mapping[str, Query] | None = None) -> list[str]:
    """The marts the report reads: those its queries (default: :func:`report_queries`)
    name."""
    texts = [q.text for q in (queries or report_queries()).values()]
    return sorted({t for text in texts for t in re.findall(r"\bmarts\.(\w+)", text)})


@dataclass(frozen=True)
class ReportData:
    """Everything the report draws, as plain rows (dicts keyed by column name)."""

    overall: Row
    popularity: list[Row]
    scores: list[Row]
    correct_rates: list[Row]
    hardest: list[Row]
    hourly: list[Row]
    daily: list[Row]
    durations: list[Row]
    test_records_included: bool = False
    questions: Mapping[str, Query] = field(default_factory=dict)


def check_marts(connection, queries: Mapping[str, Query] | None = None) -> None:
    """Fail with one sentence when the marts the report's queries read are not built."""
    try:
        tables = {row["tableName"] for row in sql.run(connection, "show tables in marts").records()}
    except UserError:
        tables = set()
    missing = [t for t in mart_tables(queries) if t not in tables]
    if missing:
        raise UserError(
            f"The marts are not built (missing marts.{missing[0]}): run 'dbt build' "
            "(see docs/warehouse.md) and try again."
        )


def fetch_all(connection) -> ReportData:
    """Every query of the report, run once each."""
    queries = report_queries()
    check_marts(connection, queries)
    rows = {key: sql.run(connection, q.text).records() for key, q in queries.items()}
    return ReportData(
        overall=rows.pop("overall")[0],
        test_records_included=rows.pop("test_records")[0]["test_exams"] > 0,
        questions=queries,
        **rows,
    )


# --- the pipeline, for the notebook -----------------------------------------------------

PARTITIONS_SQL = """
    select
        kafka_topic,
        kafka_partition,
        sum(landed) as attempts_landed,
        sum(quarantined) as quarantined,
        min(kafka_offset) as first_offset,
        max(kafka_offset) + 1 as next_offset
    from (
        select kafka_topic, kafka_partition, kafka_offset, 1 as landed, 0 as quarantined
        from raw.assessment_attempts
        union all
        select kafka_topic, kafka_partition, kafka_offset, 0 as landed, 1 as quarantined
        from raw.assessment_attempts_quarantine
    ) as messages
    group by kafka_topic, kafka_partition
    order by kafka_topic, kafka_partition
"""

SAMPLE_SQL = """
    select kafka_topic, kafka_partition, kafka_offset, payload
    from raw.assessment_attempts
    where kafka_partition = %(partition)s
    order by kafka_offset
    limit 1
"""

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def fetch_partitions(connection) -> list[dict[str, Any]]:
    """Messages landed per Kafka partition, from the raw tables: attempts, quarantined,
    first offset and the next offset to read (``edtrack land --status``'s committed
    offset once the lander has caught up)."""
    return sql.run(connection, PARTITIONS_SQL.strip()).records()


def fetch_sample_payload(connection, partition: int = 0) -> dict[str, Any] | None:
    """The first landed message of a partition: Kafka coordinates and its JSON text."""
    rows = sql.run(connection, SAMPLE_SQL.strip(), {"partition": partition}).records()
    return rows[0] if rows else None


def abridge(record: Any, items: int = 2) -> Any:
    """A copy of a JSON value with every array cut to its first ``items`` elements, and
    a note of how many were left out, so a nested record fits on a screen."""
    if isinstance(record, dict):
        return {key: abridge(value, items) for key, value in record.items()}
    if isinstance(record, list):
        kept = [abridge(value, items) for value in record[:items]]
        if len(record) > items:
            kept.append(f"... {len(record) - items} more")
        return kept
    return record


def fetch_layer_counts(connection, schemas: Sequence[str] = LAYER_SCHEMAS) -> list[dict]:
    """Rows of every table in each layer's schema, in one statement."""
    tables = []
    for schema in schemas:
        try:
            listed = sql.run(connection, f"show tables in {schema}").records()
        except UserError:  # a layer not built yet
            continue
        tables += [(schema, row["tableName"]) for row in listed if not row.get("isTemporary")]
    if not tables:
        return []
    parts, parameters = [], {}
    for i, (schema, table) in enumerate(sorted(tables)):
        if not (IDENTIFIER.match(schema) and IDENTIFIER.match(table)):
            continue  # names come from the metastore; only plain identifiers are counted
        parameters[f"layer_{i}"], parameters[f"table_{i}"] = schema, table
        parts.append(
            f"select %(layer_{i})s as layer, %(table_{i})s as table_name, "
            f"count(*) as row_count from `{schema}`.`{table}`"
        )
    if not parts:
        return []
    rows = sql.run(connection, "\nunion all\n".join(parts), parameters).records()
    order = {schema: i for i, schema in enumerate(schemas)}
    return sorted(rows, key=lambda r: (order[r["layer"]], r["table_name"]))


# --- charts -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Chart:
    """One figure with its title and a one-line caption (grain, test records)."""

    key: str
    title: str
    caption: str
    figure: Any = field(repr=False)  # matplotlib.figure.Figure

    @functools.cached_property
    def png(self) -> bytes:
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        buffer = io.BytesIO()
        FigureCanvasAgg(self.figure).print_png(buffer)
        return buffer.getvalue()

    def html(self) -> str:
        data = base64.b64encode(self.png).decode("ascii")
        return (
            f'<figure id="{html.escape(self.key)}">'
            f'<img src="data:image/png;base64,{data}" alt="{html.escape(self.title)}">'
            f"<figcaption>{html.escape(self.caption)}</figcaption></figure>"
        )

    # Rich display in Jupyter: the figure with its caption (and the PNG alone).
    def _repr_png_(self) -> bytes:
        return self.png

    def _repr_html_(self) -> str:
        return self.html()


@dataclass(frozen=True)
class Table:
    title: str
    columns: Sequence[str]
    rows: Sequence[Sequence[Any]]

    def html(self) -> str:
        head = "".join(f"<th>{html.escape(str(c))}</th>" for c in self.columns)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(cell(v))}</td>" for v in row) + "</tr>"
            for row in self.rows
        )
        return (
            f"<table><caption>{html.escape(self.title)}</caption>"
            f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
        )

    def _repr_html_(self) -> str:
        return self.html()

    @classmethod
    def of(cls, title: str, records: Sequence[Row]) -> Table:
        """A table of rows as the fetch functions return them (dicts, same keys)."""
        columns = list(records[0]) if records else []
        return cls(title, columns, [tuple(r[c] for c in columns) for r in records])


def cell(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.3f}"
    return str(value)


def caption(grain: str, test_records_included: bool = False) -> str:
    tests = (
        "test records included (marts built with include_test_records)"
        if test_records_included
        else "test records excluded"
    )
    return f"Grain: {grain}; {tests}."


def exam_labels(rows: Sequence[Row], width: int = LABEL_WIDTH) -> list[str]:
    """Axis labels: names cut to ``width``; a name two exams share gets the exam id's
    first 8 characters (exam_name is not a key). ``$`` is escaped (mathtext)."""
    counts = Counter(r["exam_name"] for r in rows)
    labels = []
    for r in rows:
        name = str(r["exam_name"] if r["exam_name"] is not None else "(no name)")
        if len(name) > width:
            name = name[: width - 1] + "…"
        if counts[r["exam_name"]] > 1:
            name += f" ({str(r['base_exam_id'])[:8]})"
        labels.append(name.replace("$", r"\$"))
    return labels


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def _float(value: Any) -> float:
    return float(value) if value is not None else 0.0


def _whole_numbers(axis) -> None:
    from matplotlib.ticker import MaxNLocator

    axis.set_major_locator(MaxNLocator(integer=True))


def _paired_bars(
    rows: Sequence[Row], bars: Sequence[tuple[str, float, str]], title: str, xlabel: str
):
    """Two horizontal bars per exam, side by side: ``bars`` holds (column, scale,
    label) for each; returns the figure."""
    fig = _figure(9, 1.2 + 0.42 * max(len(rows), 1))
    ax = fig.add_subplot()
    positions = range(len(rows))
    height = 0.4
    for shift, (column, scale, label) in zip((-height / 2, height / 2), bars, strict=True):
        ax.barh(
            [p + shift for p in positions],
            [_float(r[column]) * scale for r in rows],
            height,
            label=label,
        )
    ax.set_yticks(list(positions), exam_labels(rows))
    ax.invert_yaxis()
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("exam")
    fig.legend(loc="outside lower center", ncols=2)
    return fig


def plot_popularity(rows: Sequence[Row], test_records_included: bool = False) -> Chart:
    """One pair of bars per row, in the rows' order (the query's, most taken first)."""
    title = f"Most taken exams (top {len(rows)})"
    bars = [
        ("distinct_attempts", 1.0, "distinct attempts (keen_id)"),
        ("attempt_rows", 1.0, "attempt rows (duplicates included)"),
    ]
    return Chart(
        "popularity",
        title,
        caption(
            "one exam (base_exam_id); distinct attempts beside export rows",
            test_records_included,
        ),
        _paired_bars(rows, bars, title, "attempts"),
    )


def plot_scores(rows: Sequence[Row], test_records_included: bool = False) -> Chart:
    title = f"Mean score per exam (top {len(rows)} by scored attempts)"
    fig = _figure(9, 1.2 + 0.38 * max(len(rows), 1))
    ax = fig.add_subplot()
    positions = list(range(len(rows)))
    ax.barh(
        positions,
        [_float(r["mean_score"]) for r in rows],
        xerr=[_float(r["score_stddev"]) for r in rows],
        capsize=3,
        color="tab:green",
    )
    ax.set_yticks(positions, exam_labels(rows))
    ax.invert_yaxis()
    ax.set_xlim(0, 1.2)
    ax.set_title(title)
    ax.set_xlabel("mean of per-attempt score (correct / total), error bar = 1 std dev")
    ax.set_ylabel("exam")
    return Chart(
        "scores",
        title,
        caption(
            "one exam; per-attempt score averaged over its distinct scored attempts",
            test_records_included,
        ),
        fig,
    )


def plot_correct_rates(rows: Sequence[Row], test_records_included: bool = False) -> Chart:
    """A histogram from the query's bins: ``questions`` whose correct rate is from
    ``correct_rate_from`` up to the next bin (5 % wide)."""
    bins = {round(_float(r["correct_rate_from"]), 2): _float(r["questions"]) for r in rows}
    title = f"How hard questions are ({sum(bins.values()):,.0f} questions)"
    fig = _figure(8, 4)
    ax = fig.add_subplot()
    starts = [i / 20 for i in range(20)]
    ax.bar(
        starts,
        [bins.get(round(x, 2), 0.0) for x in starts],
        width=0.05,
        align="edge",
        color="tab:purple",
        edgecolor="white",
    )
    ax.set_xlim(0, 1)
    ax.set_title(title)
    ax.set_xlabel("correct rate (correct answers / times asked)")
    ax.set_ylabel("questions")
    _whole_numbers(ax.yaxis)
    return Chart(
        "difficulty",
        title,
        caption("one question (exam x question id)", test_records_included),
        fig,
    )


def plot_hourly(rows: Sequence[Row], test_records_included: bool = False) -> Chart:
    by_hour = {int(r["hour_of_day_utc"]): _float(r["distinct_attempts"]) for r in rows}
    hours = list(range(24))
    title = "Attempts by hour of day (UTC)"
    fig = _figure(9, 4)
    ax = fig.add_subplot()
    ax.bar(hours, [by_hour.get(h, 0.0) for h in hours], color="tab:orange")
    ax.set_xticks(hours)
    ax.set_xlim(-0.6, 23.6)
    ax.set_title(title)
    ax.set_xlabel("hour of submission (UTC)")
    ax.set_ylabel("distinct attempts")
    _whole_numbers(ax.yaxis)
    return Chart(
        "hourly",
        title,
        caption("one hour of the day (UTC), all days together", test_records_included),
        fig,
    )


def _date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def plot_daily(rows: Sequence[Row], test_records_included: bool = False) -> Chart:
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

    points = sorted((_date(r["activity_date"]), _float(r["distinct_attempts"])) for r in rows)
    title = f"Attempts by day (UTC), {len(points)} days with attempts"
    fig = _figure(10, 4)
    ax = fig.add_subplot()
    ax.bar([d for d, _ in points], [v for _, v in points], width=0.9, color="tab:blue")
    locator = AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    ax.set_title(title)
    ax.set_xlabel("day of submission (UTC)")
    ax.set_ylabel("distinct attempts")
    _whole_numbers(ax.yaxis)
    return Chart("daily", title, caption("one UTC day with attempts", test_records_included), fig)


def plot_durations(rows: Sequence[Row], test_records_included: bool = False) -> Chart | None:
    """Median and 90th percentile duration per exam; None when there are no rows."""
    if not rows:
        return None
    title = f"How long attempts take (top {len(rows)} exams by timed attempts)"
    bars = [
        ("median_seconds", 1 / 60, "median"),
        ("p90_seconds", 1 / 60, "90th percentile"),
    ]
    return Chart(
        "durations",
        title,
        caption("one exam; start to submission of each distinct attempt", test_records_included),
        _paired_bars(rows, bars, title, "minutes from start to submission"),
    )


def hardest_table(rows: Sequence[Row]) -> Table:
    return Table(
        f"The {len(rows)} hardest questions",
        ["exam", "question id", "times asked", "correct rate"],
        [
            (r["exam_name"], r["question_id"], r["times_asked"], f"{_float(r['correct_rate']):.1%}")
            for r in rows
        ],
    )


def popularity_table(rows: Sequence[Row]) -> Table:
    return Table(
        f"Most taken exams (top {len(rows)})",
        ["exam", "exam id", "distinct attempts", "attempt rows"],
        [
            (r["exam_name"], r["base_exam_id"], r["distinct_attempts"], r["attempt_rows"])
            for r in rows
        ],
    )


# --- the page ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Section:
    heading: str
    charts: Sequence[Chart] = ()
    tables: Sequence[Table] = ()
    note: str | None = None
    queries: Sequence[Query] = ()  # the catalogue queries it answers, named on the page


def build_sections(data: ReportData) -> list[Section]:
    tests = data.test_records_included
    durations = plot_durations(data.durations, tests)

    def asked(*keys: str) -> list[Query]:
        return [data.questions[k] for k in keys if k in data.questions]

    return [
        Section(
            "Exam popularity",
            [plot_popularity(data.popularity, tests)],
            [popularity_table(data.popularity)],
            queries=asked("popularity"),
        ),
        Section("Exam scores", [plot_scores(data.scores, tests)], queries=asked("scores")),
        Section(
            "Question difficulty",
            [plot_correct_rates(data.correct_rates, tests)],
            [hardest_table(data.hardest)],
            queries=asked("correct_rates", "hardest"),
        ),
        Section(
            "Activity",
            [plot_hourly(data.hourly, tests), plot_daily(data.daily, tests)],
            queries=asked("hourly", "daily"),
        ),
        Section(
            "Attempt durations",
            [durations] if durations else [],
            note=None if durations else "No attempt has both a start and a submission time.",
            queries=asked("durations"),
        ),
    ]


STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 60rem;
       padding: 0 1rem; color: #222; }
figure { margin: 1rem 0 2rem; }
figure img { max-width: 100%; }
figcaption, p.query { color: #555; font-size: 0.9rem; }
table { border-collapse: collapse; margin: 1rem 0 2rem; font-size: 0.9rem; }
caption { text-align: left; font-weight: bold; padding-bottom: 0.3rem; }
th, td { border-bottom: 1px solid #ddd; padding: 0.25rem 0.6rem; text-align: left; }
td:nth-child(n+3) { text-align: right; }
"""


def summary_line(overall: Row, test_records_included: bool = False) -> str:
    tests = "test records included" if test_records_included else "test records excluded"
    return (
        f"{cell(overall.get('distinct_attempts') or 0)} distinct attempts "
        f"({cell(overall.get('attempt_rows') or 0)} export rows) of "
        f"{cell(overall.get('exams') or 0)} exams, submitted from "
        f"{overall.get('first_attempt_at') or '-'} to {overall.get('last_attempt_at') or '-'} "
        f"(UTC), {tests}."
    )


def render_html(sections: Sequence[Section], summary: str, source: str, generated_at: str) -> str:
    """The whole page: no external file, font, script or stylesheet."""
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<title>edtrack: assessment attempts report</title>",
        f"<style>{STYLE}</style></head><body>",
        "<h1>Assessment attempts report</h1>",
        f"<p>{html.escape(summary)}</p>",
        f"<p>From the marts at {html.escape(source)}, {html.escape(generated_at)}.</p>",
    ]
    for section in sections:
        parts.append(f"<section><h2>{html.escape(section.heading)}</h2>")
        parts += [chart.html() for chart in section.charts]
        parts += [table.html() for table in section.tables]
        if section.note:
            parts.append(f"<p>{html.escape(section.note)}</p>")
        for query in section.queries:
            parts.append(
                f'<p class="query">{html.escape(query.question)} '
                f"(<code>queries/{html.escape(query.name)}.sql</code>)</p>"
            )
        parts.append("</section>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def write_report(connection, output: Path, source: str) -> int:
    """Fetch, draw and write the page to ``output``; return the number of charts."""
    data = fetch_all(connection)
    sections = build_sections(data)
    generated = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    summary = summary_line(data.overall, data.test_records_included)
    page = render_html(sections, summary, source, generated)
    try:
        output.write_text(page, encoding="utf-8")
    except OSError as exc:
        raise UserError(f"Cannot write {output} ({exc.strerror}); check the path.") from None
    return sum(len(s.charts) for s in sections)

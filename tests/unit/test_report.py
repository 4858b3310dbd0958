"""The report's charts, tables and page, drawn from hand-made rows; its queries against
a fake DB-API connection; and the committed notebook, which must carry no outputs."""

from __future__ import annotations

import base64
import datetime as dt
import json
import re

import pytest
from click.testing import CliRunner
from matplotlib.container import BarContainer

from core.errors import UserError
from core.project import PROJECT_ROOT, catalogue_query
from edtrack.cli import main
from serving import report
from tests.unit.fakes import FakeCursor
from tests.unit.test_cli_errors import free_port_offset

NOTEBOOK = PROJECT_ROOT / "notebooks" / "edtrack_report.ipynb"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def exam(i: int, attempts: int, name: str | None = None) -> dict:
    return {
        "exam_name": name or f"Exam {i:02d}",
        "base_exam_id": f"{i:08d}-0000-0000-0000-000000000000",
        "distinct_attempts": attempts,
        "attempt_rows": attempts + 1,
        "scored_attempts": attempts,
        "mean_score": 0.5 + i / 100,
        "score_stddev": 0.1 if i % 2 else None,
        "timed_attempts": attempts,
        "median_seconds": 300.0 + i,
        "p90_seconds": 900.0 + i,
    }


def data(**changes) -> report.ReportData:
    exams = [exam(i, 100 - i) for i in range(20)]
    fields = {
        "overall": {
            "exams": 20,
            "distinct_attempts": 1810,
            "attempt_rows": 1830,
            "first_attempt_at": "2017-11-20 00:01:02",
            "last_attempt_at": "2018-01-28 12:10:51",
        },
        "popularity": exams,
        "scores": exams,
        "correct_rates": [{"correct_rate_from": i / 20, "questions": i} for i in range(20)],
        "hardest": [
            {
                "exam_name": "Exam 03",
                "base_exam_id": "3",
                "question_id": f"q{i}",
                "times_asked": 30,
                "correct_rate": i / 10,
            }
            for i in range(10)
        ],
        "hourly": [{"hour_of_day_utc": h, "distinct_attempts": h * 3} for h in range(0, 24, 2)],
        "daily": [
            {"activity_date": f"2018-01-{d:02d}", "distinct_attempts": d} for d in range(1, 29)
        ],
        "durations": exams,
        "test_records_included": False,
    }
    return report.ReportData(**{**fields, **changes})


def charts_of(sections) -> list[report.Chart]:
    return [chart for section in sections for chart in section.charts]


def page(sections=None) -> str:
    sections = report.build_sections(data()) if sections is None else sections
    return report.render_html(sections, "summary", "127.0.0.1:10000", "2018-01-28 12:00 UTC")


# --- charts -----------------------------------------------------------------------------


def test_every_section_draws_its_charts():
    charts = charts_of(report.build_sections(data()))
    assert [c.key for c in charts] == [
        "popularity",
        "scores",
        "difficulty",
        "hourly",
        "daily",
        "durations",
    ]


def test_durations_chart_is_left_out_with_a_note_when_the_mart_is_empty():
    sections = report.build_sections(data(durations=[]))
    assert [c.key for c in charts_of(sections)][-1] == "daily"
    assert sections[-1].note == "No attempt has both a start and a submission time."


@pytest.mark.parametrize(
    ("key", "grain"),
    [
        pytest.param("popularity", "Grain: one exam (base_exam_id)", id="popularity"),
        pytest.param("scores", "Grain: one exam;", id="scores"),
        pytest.param("difficulty", "Grain: one question (exam x question id)", id="difficulty"),
        pytest.param("hourly", "Grain: one hour of the day (UTC)", id="hourly"),
        pytest.param("daily", "Grain: one UTC day with attempts", id="daily"),
        pytest.param("durations", "Grain: one exam;", id="durations"),
    ],
)
def test_each_chart_has_title_axis_labels_and_a_one_line_caption(key, grain):
    chart = {c.key: c for c in charts_of(report.build_sections(data()))}[key]
    (ax,) = chart.figure.axes
    assert ax.get_title() == chart.title != ""
    assert ax.get_xlabel() and ax.get_ylabel()
    assert grain in chart.caption
    assert chart.caption.endswith("; test records excluded.")
    assert "\n" not in chart.caption


def test_every_caption_says_when_the_marts_include_test_records():
    sections = report.build_sections(data(test_records_included=True))
    captions = [c.caption for c in charts_of(sections)]
    assert len(captions) == 6
    assert all(
        c.endswith("test records included (marts built with include_test_records).")
        for c in captions
    )


def test_popularity_draws_the_rows_in_the_order_the_query_gives_them():
    rows = [exam(i, attempts=i) for i in range(19, 9, -1)]  # exam 19 is the most taken
    chart = report.plot_popularity(rows)
    labels = [t.get_text() for t in chart.figure.axes[0].get_yticklabels()]
    assert labels == [f"Exam {i:02d}" for i in range(19, 9, -1)]
    assert chart.title == "Most taken exams (top 10)"
    distinct, rows_beside = chart.figure.axes[0].containers
    assert [bar.get_width() for bar in distinct] == list(range(19, 9, -1))
    assert [bar.get_width() for bar in rows_beside] == list(range(20, 10, -1))


def test_scores_draw_one_bar_per_exam_with_std_dev_bars():
    rows = [exam(i, attempts=i) for i in range(19, 9, -1)]
    chart = report.plot_scores(rows)
    ax = chart.figure.axes[0]
    assert len(ax.patches) == 10
    assert [t.get_text() for t in ax.get_yticklabels()][0] == "Exam 19"
    (bars,) = [c for c in ax.containers if isinstance(c, BarContainer)]
    (errorbars,) = bars.errorbar.lines[2]
    half_widths = [abs(seg[1][0] - seg[0][0]) / 2 for seg in errorbars.get_segments()]
    assert half_widths[0] == pytest.approx(0.1)  # exam 19: odd, std dev 0.1
    assert half_widths[1] == pytest.approx(0.0)  # exam 18: one attempt, std dev null


def test_hourly_chart_has_all_24_hours_with_missing_hours_at_zero():
    chart = report.plot_hourly([{"hour_of_day_utc": 5, "distinct_attempts": 7}])
    heights = [bar.get_height() for bar in chart.figure.axes[0].patches]
    assert len(heights) == 24
    assert heights[5] == 7 and sum(heights) == 7


def test_daily_chart_accepts_dates_as_strings_or_dates():
    rows = [
        {"activity_date": "2018-01-02", "distinct_attempts": 2},
        {"activity_date": dt.date(2018, 1, 1), "distinct_attempts": 1},
    ]
    chart = report.plot_daily(rows)
    assert [bar.get_height() for bar in chart.figure.axes[0].patches] == [1, 2]
    assert chart.title == "Attempts by day (UTC), 2 days with attempts"


def test_difficulty_histogram_draws_the_query_bins_with_empty_bins_at_zero():
    rows = [{"correct_rate_from": 0.0, "questions": 1}, {"correct_rate_from": 0.95, "questions": 3}]
    chart = report.plot_correct_rates(rows)
    bars = chart.figure.axes[0].patches
    assert len(bars) == 20
    assert [(round(b.get_x(), 2), b.get_height()) for b in bars if b.get_height()] == [
        (0.0, 1),
        (0.95, 3),
    ]
    assert chart.title == "How hard questions are (4 questions)"


@pytest.mark.parametrize(
    ("rows", "labels"),
    [
        pytest.param(
            [{"exam_name": "A" * 50, "base_exam_id": "x"}], ["A" * 41 + "…"], id="long-name-cut"
        ),
        pytest.param(
            [
                {"exam_name": "Shared", "base_exam_id": "11111111-aaaa"},
                {"exam_name": "Shared", "base_exam_id": "22222222-bbbb"},
                {"exam_name": "Alone", "base_exam_id": "33333333-cccc"},
            ],
            ["Shared (11111111)", "Shared (22222222)", "Alone"],
            id="shared-name-gets-the-id",
        ),
        pytest.param(
            [{"exam_name": "Costs $5 or $6", "base_exam_id": "x"}],
            [r"Costs \$5 or \$6"],
            id="dollar-is-not-mathtext",
        ),
    ],
)
def test_exam_labels(rows, labels):
    assert report.exam_labels(rows) == labels


def test_a_chart_renders_as_png_and_as_html_with_its_caption():
    chart = report.plot_hourly([{"hour_of_day_utc": 1, "distinct_attempts": 1}])
    assert chart.png.startswith(PNG_MAGIC)
    assert chart._repr_png_() == chart.png
    src = re.search(r'src="data:image/png;base64,([^"]+)"', chart.html()).group(1)
    assert base64.b64decode(src) == chart.png
    assert f"<figcaption>{chart.caption}</figcaption>" in chart.html()


# --- the page ---------------------------------------------------------------------------


def test_page_embeds_every_chart_as_base64_png_and_loads_nothing_else():
    html = page()
    images = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert len(images) == 6
    assert all(base64.b64decode(i).startswith(PNG_MAGIC) for i in images)
    assert html.count("<figcaption>") == 6
    assert not re.search(r'(src|href)="(?!data:)', html)
    assert "<script" not in html and "<link" not in html


def test_page_escapes_exam_names_and_questions():
    evil = "<script>alert('x')</script> & Co"
    rows = [exam(0, 50, name=evil), *[exam(i, 10) for i in range(1, 5)]]
    hardest = [{**data().hardest[0], "exam_name": evil, "question_id": "<b>q</b>"}]
    sections = report.build_sections(data(popularity=rows, hardest=hardest))
    # Only the sections with exam names, so that two charts are rendered, not six.
    html = page([s for s in sections if s.heading in ("Exam popularity", "Question difficulty")])
    assert "<script" not in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; Co" in html
    assert "&lt;b&gt;q&lt;/b&gt;" in html


def test_popularity_table_lists_every_row_with_both_counts():
    table = report.popularity_table([exam(i, attempts=i) for i in range(19, 9, -1)])
    assert len(table.rows) == 10
    assert table.rows[0] == ("Exam 19", exam(19, 0)["base_exam_id"], 19, 20)
    assert "<td>1,234</td>" in report.Table("t", ["n"], [(1234,)]).html()


def test_hardest_table_shows_rates_as_percentages():
    table = report.hardest_table(data().hardest[:2])
    assert table.title == "The 2 hardest questions"
    assert [row[3] for row in table.rows] == ["0.0%", "10.0%"]


def test_summary_line_says_what_it_counts():
    line = report.summary_line(data().overall)
    assert line.startswith("1,810 distinct attempts (1,830 export rows) of 20 exams")
    assert line.endswith("test records excluded.")
    assert report.summary_line(data().overall, True).endswith("test records included.")


def test_each_section_names_the_catalogue_queries_it_answers():
    sections = report.build_sections(data(questions=report.report_queries()))
    html = page(sections)
    for name in report.QUERIES.values():
        if name not in ("attempts_overall", "test_records"):  # the summary line's
            assert f"<code>queries/{name}.sql</code>" in html
    question = catalogue_query("hardest_questions").question
    assert f'<p class="query">{question} (' in html


def test_abridge_cuts_every_array_and_says_how_much_was_left_out():
    record = {"a": [1, 2, 3, 4], "b": {"c": [{"d": [5, 6, 7]}]}, "e": "x"}
    assert report.abridge(record) == {
        "a": [1, 2, "... 2 more"],
        "b": {"c": [{"d": [5, 6, "... 1 more"]}]},
        "e": "x",
    }


# --- queries ----------------------------------------------------------------------------


def select_list(statement: str) -> list[str]:
    """The names of the outermost select list's columns (alias, or the bare column)."""
    body = re.search(r"^select\s+(.*?)\s+from\s", statement, re.S | re.M).group(1)
    columns, depth, part = [], 0, ""
    for char in body + ",":
        depth += (char == "(") - (char == ")")
        if char == "," and depth == 0:
            columns.append(part.strip().split(" as ")[-1].split(".")[-1])
            part = ""
        else:
            part += char
    return columns


class FakeConnection:
    """Answers each report query with one row of 1s, in the columns it selects."""

    def __init__(self, marts=None) -> None:
        self.log: list[tuple[str, dict | None]] = []
        self.marts = report.mart_tables() if marts is None else marts

    def cursor(self):
        return FakeCursor(self.log, self.answer)

    def answer(self, statement: str):
        if statement.startswith("show tables in marts"):
            return ["namespace", "tableName", "isTemporary"], [
                ("marts", t, False) for t in self.marts
            ]
        names = select_list(statement)
        return names, [tuple(1 for _ in names)]


def test_fetch_all_runs_the_catalogue_queries_as_clients_run_them():
    connection = FakeConnection()
    fetched = report.fetch_all(connection)
    queries = report.report_queries()
    statements = [s for s, _ in connection.log][1:]  # after 'show tables'
    assert statements == [q.text for q in queries.values()]
    assert all(p is None for _, p in connection.log)
    assert fetched.popularity == [
        {"exam_name": 1, "base_exam_id": 1, "distinct_attempts": 1, "attempt_rows": 1}
    ]
    assert fetched.durations[0].keys() >= {"base_exam_id", "median_seconds", "p90_seconds"}
    assert fetched.correct_rates == [{"correct_rate_from": 1, "questions": 1}]
    assert fetched.test_records_included  # 1 test exam
    assert fetched.questions["hardest"].name == "hardest_questions"


def test_missing_marts_are_one_sentence_naming_dbt_build():
    marts = report.mart_tables()
    with pytest.raises(UserError, match=rf"missing marts\.{marts[-1]}.*'dbt build'"):
        report.fetch_all(FakeConnection(marts=marts[:-1]))


def test_report_command_with_the_server_stopped_is_one_sentence(tmp_path):
    output = tmp_path / "report.html"
    result = CliRunner().invoke(
        main,
        ["--state-dir", str(tmp_path), "--port-offset", str(free_port_offset())]
        + ["report", "-o", str(output)],
    )
    assert result.exit_code == 3, result.output
    assert "is not answering" in result.output and "edtrack stack up" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not output.exists()


def test_report_command_refuses_a_folder_that_does_not_exist(tmp_path):
    result = CliRunner().invoke(main, ["report", "-o", str(tmp_path / "no" / "report.html")])
    assert result.exit_code == 2
    assert "does not exist" in result.output


# --- the notebook -----------------------------------------------------------------------


def test_committed_notebook_has_no_outputs_and_no_execution_counts():
    notebook = json.loads(NOTEBOOK.read_text())
    code = [c for c in notebook["cells"] if c["cell_type"] == "code"]
    assert code
    assert all(c["outputs"] == [] for c in code)
    assert all(c["execution_count"] is None for c in code)
    assert all("attachments" not in c for c in notebook["cells"])


def test_committed_notebook_is_valid_and_reuses_the_report_code():
    nbformat = pytest.importorskip("nbformat")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    sources = "\n".join(c.source for c in notebook.cells if c.cell_type == "code")
    assert "from serving import report" in sources
    assert "matplotlib" not in sources  # charts come from serving.report, not copies
    for cell in notebook.cells:
        if cell.cell_type == "code":
            compile(cell.source, "<cell>", "exec")
    plots = [c for c in notebook.cells if "plot" in c.metadata.get("tags", [])]
    assert len(plots) >= 5


def test_layer_counts_name_each_table_by_parameter_and_skip_odd_names():
    log: list = []
    listed = {"raw": ["assessment_attempts", "bad`name"], "marts": ["dim_exams"]}

    def answers(statement):
        if statement.startswith("show tables in"):
            schema = statement.split()[-1]  # staging and flattened: nothing built yet
            return ["tableName", "isTemporary"], [(n, False) for n in listed.get(schema, [])]
        return ["layer", "table_name", "row_count"], [
            ("marts", "dim_exams", 12),
            ("raw", "assessment_attempts", 700),
        ]

    class Connection:
        def cursor(self):
            return FakeCursor(log, answers)

    rows = report.fetch_layer_counts(Connection())
    assert [r["layer"] for r in rows] == ["raw", "marts"]  # in layer order
    statement, parameters = log[-1]
    assert statement.count("union all") == 1 and "bad" not in statement
    assert "'raw'" not in statement and "%(layer_" in statement
    assert sorted(parameters.values()) == ["assessment_attempts", "dim_exams", "marts", "raw"]


def test_the_report_checks_the_marts_its_statements_read_and_they_are_dbt_models():
    from core.project import models

    marts = report.mart_tables()
    assert "mart_exam_popularity" in marts and "dim_exams" in marts
    assert "mart_option_choices" not in marts  # no query of the report reads it
    assert set(marts) <= set(models("marts"))

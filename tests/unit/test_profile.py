"""The field profiler: types, presence, nulls, distinct values, ranges, record checks."""

import gzip
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from edtrack.cli import main
from ingestion.profile import Profiler, _pct_text, profile, render_markdown, value_shape

SAMPLE = Path(__file__).parents[3] / "shared" / "data" / "assessment-attempts-sample.jsonl"


def run(records, **kwargs):
    profiler = Profiler(**kwargs)
    for record in records:
        profiler.add(record)
    return profiler.report()


def entry(report, path):
    for section in report["sections"]:
        for item in section["paths"]:
            if item["path"] == path:
                return item
    raise KeyError(path)


def section(report, scope):
    return next(s for s in report["sections"] if s["scope"] == scope)


# --- types, presence, nulls ------------------------------------------------------------


def test_every_json_type_is_counted_and_shares_are_of_records():
    records = [
        {"v": "a"},
        {"v": 1},
        {"v": 1.5},
        {"v": True},
        {"v": None},
        {"v": {"k": 1}},
        {"v": [1]},
        {},
    ]
    v = entry(run(records), "v")
    assert v["types"] == {
        "object": 1,
        "array": 1,
        "string": 1,
        "integer": 1,
        "float": 1,
        "boolean": 1,
        "null": 1,
    }
    assert v["of"] == "records"
    assert v["present_pct"] == 87.5  # 7 of 8 records have the key
    assert v["null_pct"] == 12.5  # 1 of 8 records holds null
    # "a", 1, 1.5 and true: true is not the integer 1, each type counts apart
    assert v["distinct"] == {"value": 4, "exact": True}


def test_integer_and_float_are_told_apart_as_written():
    v = entry(run([{"n": 1}, {"n": 1.0}, {"n": 2}]), "n")
    assert v["types"] == {"integer": 2, "float": 1}
    assert v["number"] == {"min": 1, "max": 2}


def test_paths_under_arrays_are_shares_of_the_array_elements():
    records = [
        {"qs": [{"a": 1}, {"a": None}, {}]},
        {"qs": []},
        {"other": 1},
        {"other": 2},
    ]
    report = run(records)
    qs = entry(report, "qs")
    assert qs["present_pct"] == 50  # 2 of 4 records
    assert qs["array"] == {"min_length": 0, "max_length": 3, "empty": 1, "elements": 3}
    elements = section(report, "qs[]")
    assert elements["count"] == 3
    assert elements["of"] == "elements of qs[]"
    a = entry(report, "qs[].a")
    assert a["of"] == "elements of qs[]"
    assert a["present_pct"] == pytest.approx(66.6667)  # 2 of 3 elements, not 2 of 4 records
    assert a["null_pct"] == pytest.approx(33.3333)
    assert a["distinct"] == {"value": 1, "exact": True}


def test_objects_inside_array_elements_keep_the_element_as_their_scope():
    records = [{"qs": [{"o": {"x": 1}}, {"o": {}}]}, {"qs": [{"o": {"x": 2}}]}]
    x = entry(run(records), "qs[].o.x")
    assert x["of"] == "elements of qs[]"
    assert x["present_pct"] == pytest.approx(66.6667)  # 2 of 3 questions
    assert x["number"] == {"min": 1, "max": 2}


def test_arrays_of_arrays_get_one_level_per_bracket():
    report = run([{"m": [[1, 2], [3]]}, {"m": [[4, 5, 6]]}])
    assert entry(report, "m")["array"]["min_length"] == 1
    inner = entry(report, "m[]")
    assert inner["array"] == {"min_length": 1, "max_length": 3, "empty": 0, "elements": 6}
    assert inner["of"] == "elements of m[]"
    leaf = entry(report, "m[][]")
    assert leaf["of"] == "elements of m[][]"
    assert leaf["number"] == {"min": 1, "max": 6}
    assert section(report, "m[][]")["count"] == 6


def test_a_path_that_is_only_ever_null_has_zero_distinct_values():
    v = entry(run([{"v": None}, {"v": None}]), "v")
    assert v["null_pct"] == 100
    assert v["distinct"] == {"value": 0, "exact": True}


# --- distinct values, examples ---------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "cap", "exact"),
    [
        pytest.param(500, 10_000, True, id="under-the-cap-exact"),
        pytest.param(500, 500, True, id="at-the-cap-exact"),
        pytest.param(5_000, 100, False, id="over-the-cap-estimated"),
    ],
)
def test_distinct_is_exact_up_to_the_cap_then_estimated(n, cap, exact):
    d = entry(run(({"id": f"id-{i}"} for i in range(n)), exact_cap=cap), "id")["distinct"]
    assert d["exact"] is exact
    if exact:
        assert d["value"] == n
    else:
        assert d["lower"] <= n <= d["upper"]
        assert abs(d["value"] - n) / n < 0.05


def test_few_values_are_listed_with_counts_many_get_examples():
    report = run([{"r": "b"}, {"r": "a"}, {"r": "b"}, *({"many": i} for i in range(20))])
    assert entry(report, "r")["values"] == [
        {"value": "b", "count": 2},
        {"value": "a", "count": 1},
    ]
    many = entry(report, "many")
    assert many["values"] is None
    assert many["examples"] == ["0", "1", "2"]
    assert many["distinct"] == {"value": 20, "exact": True}


def test_long_strings_are_counted_by_hash_and_cut_in_examples():
    long_a, long_b = "a" * 500, "a" * 499 + "b"
    s = entry(run([{"s": long_a}, {"s": long_b}, {"s": long_a}]), "s")
    assert s["distinct"] == {"value": 2, "exact": True}
    assert s["values"] is None
    assert len(s["examples"]) == 2
    assert all(len(e) <= 40 for e in s["examples"])
    assert s["string"]["length"] == {"min": 500, "max": 500}


def test_paths_beyond_the_limit_are_counted_not_profiled():
    report = run([{f"k{i}": i for i in range(10)}], max_paths=4)
    assert report["unprofiled_values"] == 6
    assert sum(len(s["paths"]) for s in report["sections"]) == 4
    assert "were not profiled" in render_markdown(report)


# --- strings: shapes and timestamps ----------------------------------------------------


@pytest.mark.parametrize(
    ("text", "shape", "epoch", "decimals"),
    [
        pytest.param("1516717364.951", "epoch-seconds", 1516717364.951, 3, id="epoch-3-decimals"),
        pytest.param("1516717442.7352661", "epoch-seconds", 1516717442.7352661, 7, id="epoch-7"),
        pytest.param("1516717364", "epoch-seconds", 1516717364.0, None, id="epoch-integer"),
        pytest.param("2018-01-23T14:23:19.082Z", "iso-8601", 1516717399.082, None, id="iso-z"),
        pytest.param("2018-01-23T15:23:19+01:00", "iso-8601", 1516717399.0, None, id="iso-offset"),
        pytest.param("1.0", "decimal-string", None, 1, id="max-attempts-not-1970"),
        pytest.param("42", "integer-string", None, None, id="small-integer"),
        pytest.param("99999999999", "integer-string", None, None, id="beyond-2100"),
        pytest.param("-1516717364", "integer-string", None, None, id="negative"),
        pytest.param("false", "boolean-string", None, None, id="false-in-a-string"),
        pytest.param("5a6745820eb8ab00016be1f1", "hex", None, None, id="keen-id"),
        pytest.param("37f0a30a-7464-11e6-aa92-a8667f27e5dc", "uuid", None, None, id="uuid"),
        pytest.param("example-id", "text", None, None, id="text"),
        pytest.param("2018-13-45T00:00:00Z", "text", None, None, id="impossible-date"),
        pytest.param("", "empty", None, None, id="empty"),
    ],
)
def test_string_shapes(text, shape, epoch, decimals):
    got_shape, got_epoch, got_decimals, _ = value_shape(text)
    assert got_shape == shape
    assert got_decimals == decimals
    if epoch is None:
        assert got_epoch is None
    else:
        assert got_epoch == pytest.approx(epoch, abs=1e-6)


def test_timestamp_range_is_rendered_in_utc_whatever_the_notation():
    records = [
        {"t": "1516717364.951"},
        {"t": "2018-01-23T15:23:19+01:00"},  # 14:23:19 UTC
        {"t": "2018-01-23T14:25:00.500Z"},
        {"t": "not a time"},
    ]
    t = entry(run(records), "t")
    assert t["timestamp"]["min"] == "2018-01-23T14:22:44.951Z"
    assert t["timestamp"]["max"] == "2018-01-23T14:25:00.500Z"
    assert t["timestamp"]["min_text"] == "1516717364.951"
    assert t["timestamp"]["count"] == 3
    assert t["string"]["shapes"] == {"epoch-seconds": 1, "iso-8601": 2, "text": 1}


def test_iso_without_zone_is_read_as_utc_and_says_so():
    t = entry(run([{"t": "2018-01-23T14:23:19"}]), "t")
    assert t["timestamp"]["min"] == "2018-01-23T14:23:19.000Z"
    assert t["timestamp"]["without_zone_read_as_utc"] == 1


def test_epoch_decimals_are_reported_as_a_range():
    t = entry(run([{"t": "1516717364.9512"}, {"t": "1516717364.951234"}]), "t")
    assert t["string"]["decimals"] == {"epoch-seconds": {"min": 4, "max": 6}}


# --- records and checks ----------------------------------------------------------------


def attempt(keen_id, **extra):
    record = {"keen_id": keen_id, "base_exam_id": "e1", "exam_name": "Exam"}
    record.update(extra)
    return record


def test_duplicates_are_split_into_identical_copies_and_reused_keen_ids():
    records = [
        attempt("a"),
        attempt("a"),
        attempt("a"),
        attempt("b"),
        attempt("b", exam_name="Other"),  # same keen_id, other content
        attempt("c"),
        {"exam_name": "no id"},
    ]
    r = run(records)["records"]
    assert r["records"] == 7
    assert r["without_keen_id"] == 1
    assert r["distinct_keen_id"] == {"value": 3, "exact": True}
    assert r["duplicate_records"] == {"value": 3, "exact": True}
    assert r["identical_copies"] == {"value": 2, "exact": True}
    assert r["same_keen_id_other_content"] == {"value": 1, "exact": True}


def question(result, submitted=True):
    return {"id": "q", "user_result": result, "user_submitted": submitted, "options": []}


def counts(**values):
    base = dict(total=2, correct=1, incorrect=1, incomplete=0, unanswered=0, submitted=2)
    base.update(values)
    base["all_correct"] = base.get("all_correct", base["correct"] == base["total"])
    return base


def test_test_records_and_consistency_rules_are_checked():
    questions = [question("correct"), question("incorrect")]
    records = [
        attempt("ok", sequences={"questions": questions, "counts": counts()}),
        attempt("bad", sequences={"questions": questions, "counts": counts(total=3)}),
        attempt(
            "t",
            base_exam_id="example-id",
            exam_name="Dev",
            sequences={"questions": [{"id": "q", "options": []}]},
        ),
    ]
    checks = run(records)["checks"]
    assert checks["test_records"] == {
        "base_exam_id": "example-id",
        "records": 1,
        "exam_names": {"Dev": 1},
    }
    assert checks["without_counts"] == {"records": 1, "test_records": 1}
    assert checks["questions_without_user_fields"] == {
        "questions": 5,
        "without": 1,
        "in_test_records": 1,
    }
    rules = {r["rule"]: r for r in checks["rules"]}
    total = rules["total = number of questions"]
    assert (total["checked"], total["holds"], total["broken"]) == (2, 1, 1)
    assert total["first_broken_keen_ids"] == ["bad"]
    assert rules["correct + incorrect + incomplete + unanswered = total"]["broken"] == 1
    assert rules["submitted = questions with user_submitted true"]["broken"] == 0


def test_names_and_question_ids_shared_by_several_exams_are_found():
    records = [
        attempt(
            "1", base_exam_id="e1", exam_name="Python", sequences={"questions": [question("x")]}
        ),
        attempt(
            "2", base_exam_id="e2", exam_name="Python", sequences={"questions": [question("x")]}
        ),
        attempt("3", base_exam_id="e3", exam_name="Git"),
    ]
    checks = run(records)["checks"]
    shared = checks["exam_names_with_several_exam_ids"]
    assert (shared["names"], shared["shared"]) == (2, 1)
    assert shared["examples"] == {"Python": ["e1", "e2"]}
    assert checks["question_ids_in_several_exams"]["shared"] == 1


# --- files, rendering, command -----------------------------------------------------------


RECORDS = [attempt("a", n=1, qs=[{"x": True}]), attempt("b", n=2.5, qs=[])]


@pytest.mark.parametrize(
    ("name", "content"),
    [
        pytest.param("e.json", json.dumps(RECORDS).encode(), id="array"),
        pytest.param("e.jsonl", "\n".join(map(json.dumps, RECORDS)).encode(), id="jsonl"),
        pytest.param("e.json.gz", gzip.compress(json.dumps(RECORDS).encode()), id="array-gz"),
    ],
)
def test_every_layout_gives_the_same_profile(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    report = profile(path)
    assert report["sections"] == run(RECORDS)["sections"]
    assert report["records"]["records"] == 2


def test_elements_that_are_not_objects_are_counted_as_rejected(tmp_path):
    path = tmp_path / "mixed.jsonl"
    path.write_text('{"keen_id": "a"}\n[1]\n{broken\n{"keen_id": "b"}\n')
    records = profile(path)["records"]
    assert (records["records"], records["rejected"]) == (2, 2)
    assert [r["index"] for r in records["first_rejects"]] == [1, 2]


@pytest.mark.parametrize(
    ("pct", "text"),
    [
        pytest.param(100.0, "100", id="all"),
        pytest.param(0.0, "0", id="none"),
        pytest.param(99.99, ">99.9", id="almost-all-is-not-100"),
        pytest.param(0.01, "<0.1", id="a-few-is-not-0"),
        pytest.param(37.62, "37.6", id="one-decimal"),
    ],
)
def test_percentages_never_round_a_quirk_away(pct, text):
    assert _pct_text(pct) == text


def test_markdown_names_the_scope_of_each_table():
    text = render_markdown(run([{"qs": [{"a": 1}, {}]}]))
    assert "### Per record (1 record)" in text
    assert "### Per element of `qs[]` (2 elements)" in text
    assert "| `qs[].a` | 50.0 | 0 | integer 1 |" in text


@pytest.mark.parametrize(
    "fmt", [pytest.param("json", id="json"), pytest.param("markdown", id="md")]
)
def test_command_writes_the_report_to_a_file(tmp_path, fmt):
    source = tmp_path / "e.jsonl"
    source.write_text("\n".join(map(json.dumps, RECORDS)))
    out = tmp_path / f"report.{fmt}"
    result = CliRunner().invoke(main, ["profile", str(source), "--format", fmt, "-o", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    if fmt == "json":
        assert json.loads(text)["records"]["distinct_keen_id"]["value"] == 2
    else:
        assert text.startswith("# Profile of")


def test_command_reads_stdin_and_survives_lone_surrogates():
    # "\ud800" is a valid JSON escape but cannot be written as UTF-8.
    lines = '{"keen_id": "a", "k\\udc00": "\\ud800"}\n{"keen_id": "a", "k\\udc00": "x"}\n'
    for fmt in ("json", "markdown"):
        result = CliRunner().invoke(main, ["profile", "-", "--format", fmt], input=lines)
        assert result.exit_code == 0, result.output
    report = json.loads(
        CliRunner().invoke(main, ["profile", "-", "--format", "json"], input=lines).stdout
    )
    assert report["records"]["duplicate_records"]["value"] == 1
    assert report["records"]["same_keen_id_other_content"]["value"] == 1
    assert report["source"] == {"file": "-", "layout": "jsonl", "bytes": None}


@pytest.mark.parametrize(
    ("args", "sentence"),
    [
        pytest.param(["/nonexistent/export.json"], "does not exist", id="missing-input"),
        pytest.param(["{src}", "-o", "/nonexistent/dir/r.md"], "does not exist", id="bad-output"),
    ],
)
def test_command_errors_are_one_sentence(tmp_path, args, sentence):
    source = tmp_path / "e.jsonl"
    source.write_text(json.dumps(RECORDS[0]))
    args = [a.format(src=source) for a in args]
    result = CliRunner().invoke(main, ["profile", *args])
    assert result.exit_code == 2
    assert sentence in result.output
    assert "Traceback" not in result.output
    assert len([line for line in result.output.splitlines() if line.strip()]) == 1


# --- the real sample -------------------------------------------------------------------


@pytest.mark.skipif(
    not SAMPLE.is_file(),
    reason=f"the real sample {SAMPLE} is not here (only in the project's shared data)",
)
def test_the_real_sample_shows_every_quirk_of_the_export():
    report = profile(SAMPLE)
    records, checks = report["records"], report["checks"]
    # exact duplicates: rows and distinct attempts differ
    assert records["records"] == 328
    assert records["distinct_keen_id"] == {"value": 327, "exact": True}
    assert records["identical_copies"]["value"] == 1
    assert records["same_keen_id_other_content"]["value"] == 0
    # test records: no counts, questions without user_* fields
    assert checks["test_records"]["records"] == 2
    assert checks["without_counts"] == {"records": 2, "test_records": 2}
    no_user = checks["questions_without_user_fields"]
    assert no_user["without"] == no_user["in_test_records"] == 6
    assert 99 < entry(report, "sequences.counts")["present_pct"] < 100
    assert "text" in entry(report, "base_exam_id")["string"]["shapes"]  # "example-id"
    assert entry(report, "sequences.questions[].user_result")["of"].startswith("elements of")
    # exam_name is not a key; question ids repeat across exams
    assert checks["exam_names_with_several_exam_ids"]["shared"] >= 1
    assert checks["question_ids_in_several_exams"]["shared"] >= 1
    # types hidden in strings
    certification = entry(report, "certification")
    assert certification["null_pct"] > 0
    assert certification["string"]["shapes"] == {"boolean-string": 308}
    assert entry(report, "max_attempts")["string"]["shapes"] == {"decimal-string": 328}
    stamp = entry(report, "keen_timestamp")
    assert stamp["string"]["decimals"]["epoch-seconds"]["min"] < 7
    assert stamp["string"]["decimals"]["epoch-seconds"]["max"] == 7
    assert stamp["timestamp"]["min"].startswith("2017-11")
    assert entry(report, "started_at")["timestamp"]["max"].startswith("2018-01")
    # sparse option keys: present on some options only, never false when absent
    for key in ("at", "submitted", "correct"):
        option_key = entry(report, f"sequences.questions[].options[].{key}")
        assert option_key["of"] == "elements of sequences.questions[].options[]"
        assert 0 < option_key["present_pct"] < 50
        assert option_key["null_pct"] == 0
    assert entry(report, "sequences.questions[].options[].checked")["present_pct"] == 100
    # the consistency rules hold on every record with counts
    assert all(rule["broken"] == 0 for rule in checks["rules"])
    assert {rule["checked"] for rule in checks["rules"][1:]} == {326}
    text = render_markdown(report)
    assert "### Per element of `sequences.questions[].options[]`" in text

import collections
import gzip
import io
import json

from core.project import exam_id_of_test_records
from ingestion.generate import generate, write


def records(n=3000, seed=11):
    return list(generate(n, seed))


def test_same_seed_same_records_other_seed_other_records():
    assert records(200, 5) == records(200, 5)
    assert records(200, 5) != records(200, 6)


def test_count_includes_duplicates_which_are_byte_identical():
    recs = records()
    assert len(recs) == 3000
    by_id = collections.defaultdict(list)
    for r in recs:
        by_id[r["keen_id"]].append(json.dumps(r))
    dups = [copies for copies in by_id.values() if len(copies) > 1]
    assert 10 <= len(dups) <= 60  # about 1 %
    assert all(len(set(copies)) == 1 for copies in dups)
    assert any(len(copies) == 3 for copies in dups)


def test_consistency_rules_of_the_export_hold():
    checked = 0
    for r in records():
        seq = r["sequences"]
        if "counts" not in seq:
            continue
        counts, questions = seq["counts"], seq["questions"]
        results = collections.Counter(q["user_result"] for q in questions)
        assert counts["total"] == len(questions)
        assert counts["correct"] == results["correct"]
        assert counts["incorrect"] == results["incorrect"]
        assert counts["incomplete"] == results["missed_some"]
        assert counts["unanswered"] == results["unanswered"]
        assert (
            sum(counts[k] for k in ("correct", "incorrect", "incomplete", "unanswered"))
            == counts["total"]
        )
        assert counts["submitted"] == sum(q["user_submitted"] for q in questions)
        assert counts["all_correct"] == (counts["correct"] == counts["total"])
        checked += 1
    assert checked > 2900


def test_quirks_appear_at_realistic_rates():
    recs = records()
    tests = [r for r in recs if r["base_exam_id"] == exam_id_of_test_records()]
    assert 3 <= len(tests) <= 40
    assert all("counts" not in r["sequences"] for r in tests)
    assert all("user_result" not in q for r in tests for q in r["sequences"]["questions"])
    nulls = sum(r["certification"] is None for r in recs)
    assert 0.02 < nulls / len(recs) < 0.12
    assert {r["certification"] for r in recs} == {None, "false"}
    assert {r["max_attempts"] for r in recs} == {"1.0"}
    names = collections.defaultdict(set)
    for r in recs:
        names[r["exam_name"]].add(r["base_exam_id"])
    assert sum(len(ids) == 2 for ids in names.values()) >= 2
    exams = collections.Counter(r["base_exam_id"] for r in recs)
    assert len(exams) > 60
    top = exams.most_common(1)[0][1]
    assert top > 5 * (len(recs) / len(exams))  # skewed popularity


def test_timestamps_and_ids_have_the_export_shape():
    days = set()
    for r in records(1000):
        assert r["keen_timestamp"] == r["keen_created_at"]
        assert 3 <= len(r["keen_timestamp"].split(".")[1]) <= 7
        assert r["keen_id"][:8] == format(int(float(r["keen_timestamp"])), "08x")
        assert len(r["keen_id"]) == 24
        assert r["started_at"].endswith("Z") and len(r["started_at"]) == 24
        days.add(r["started_at"][:10])
    assert len(days) > 40  # spread over weeks


def test_sparse_option_keys_are_absent_not_false():
    options = [o for r in records(500) for q in r["sequences"]["questions"] for o in q["options"]]
    assert any("correct" not in o for o in options)
    assert all(o.get("correct", True) is True for o in options)
    assert all(o.get("submitted", 1) == 1 for o in options)
    assert all("at" in o for o in options if o["checked"])


def test_write_array_matches_the_export_layout_and_jsonl_is_one_per_line(tmp_path):
    recs = records(20)
    array = tmp_path / "x.json"
    write(iter(recs), array)
    text = array.read_text()
    assert text.startswith('[{"keen_timestamp": ') and "}, {" in text and "\n" not in text
    assert json.loads(text) == recs
    lines = tmp_path / "x.jsonl.gz"
    write(iter(recs), lines)
    with gzip.open(lines, "rt") as f:
        assert [json.loads(line) for line in io.StringIO(f.read())] == recs


def test_start_and_days_place_a_batch_on_given_days():
    import datetime as dt

    recs = list(generate(300, seed=4, start=dt.datetime(2018, 1, 29, tzinfo=dt.UTC), days=2))
    assert {r["started_at"][:10] for r in recs} == {"2018-01-29", "2018-01-30"}

"""Client answers computed independently, in plain Python, from the input records.

The integration tests compare every mart with these. Nothing here reads the warehouse.
"""

from __future__ import annotations

import collections
import datetime as dt
import statistics
from decimal import Decimal

from core.project import exam_id_of_test_records

TEST_EXAM = exam_id_of_test_records()


def epoch(value: str) -> dt.datetime:
    # Decimal keeps the export's microseconds exactly (a float would round them).
    micros = int((Decimal(value) * 1_000_000).to_integral_value())
    return dt.datetime(1970, 1, 1) + dt.timedelta(microseconds=micros)


def iso(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).replace(tzinfo=None)


def attempts(records: list[dict]) -> list[dict]:
    """Distinct attempts (first copy of each keen_id), test records left out."""
    seen: dict[str, dict] = {}
    for r in records:
        seen.setdefault(r["keen_id"], r)
    return [r for r in seen.values() if r["base_exam_id"] != TEST_EXAM]


def rows_per_attempt(records: list[dict]) -> collections.Counter:
    return collections.Counter(r["keen_id"] for r in records)


def popularity(records: list[dict]) -> dict[str, dict]:
    rows = rows_per_attempt(records)
    out: dict[str, dict] = {}
    for r in attempts(records):
        e = out.setdefault(r["base_exam_id"], {"distinct_attempts": 0, "attempt_rows": 0})
        e["distinct_attempts"] += 1
        e["attempt_rows"] += rows[r["keen_id"]]
    return out


def exams(records: list[dict]) -> dict[str, dict]:
    latest: dict[str, tuple] = {}
    questions: dict[str, set] = collections.defaultdict(set)
    for r in attempts(records):
        moment = epoch(r["keen_timestamp"])
        exam = r["base_exam_id"]
        if exam not in latest or moment > latest[exam][0]:
            latest[exam] = (moment, r["exam_name"])
        questions[exam] |= {q["id"] for q in r["sequences"]["questions"]}
    names = collections.Counter(name for _, name in latest.values())
    return {
        exam: {
            "exam_name": name,
            "is_name_shared": names[name] > 1,
            "question_count": len(questions[exam]),
        }
        for exam, (_, name) in latest.items()
    }


def exam_names(records: list[dict]) -> dict[tuple[str, int], dict]:
    """dim_exam_names: per exam, spans of consecutive attempts (ordered by submission,
    then keen_id) under one name; times as microseconds since the epoch."""
    per_exam: dict[str, list[tuple]] = collections.defaultdict(list)
    for r in attempts(records):
        if r.get("keen_timestamp") and r.get("exam_name") is not None:
            per_exam[r["base_exam_id"]].append(
                (epoch(r["keen_timestamp"]), r["keen_id"], r["exam_name"])
            )
    out = {}
    for exam, rows in per_exam.items():
        spans: list[dict] = []
        for moment, _, name in sorted(rows):
            if spans and spans[-1]["exam_name"] == name:
                spans[-1]["span_attempts"] += 1
            else:
                micros = (moment - dt.datetime(1970, 1, 1)) // dt.timedelta(microseconds=1)
                spans.append({"exam_name": name, "valid_from": micros, "span_attempts": 1})
        for number, span in enumerate(spans, start=1):
            span["valid_to"] = spans[number]["valid_from"] if number < len(spans) else None
            span["is_current"] = number == len(spans)
            out[(exam, number)] = span
    return out


def scores(records: list[dict]) -> dict[str, dict]:
    per_exam: dict[str, list[dict]] = collections.defaultdict(list)
    for r in attempts(records):
        counts = r["sequences"].get("counts")
        if counts and counts["total"] > 0:
            per_exam[r["base_exam_id"]].append(counts)
    out = {}
    for exam, counts in per_exam.items():
        each = [c["correct"] / c["total"] for c in counts]
        out[exam] = {
            "scored_attempts": len(counts),
            "mean_score": statistics.fmean(each),
            "pooled_score": sum(c["correct"] for c in counts) / sum(c["total"] for c in counts),
            "score_stddev": statistics.stdev(each) if len(each) > 1 else None,
            "median_score": percentile(each, 0.5),
            "perfect_attempts": sum(s == 1 for s in each),
            "below_half_attempts": sum(s < 0.5 for s in each),
            "incomplete_answers": sum(c["incomplete"] for c in counts),
            "unanswered_questions": sum(c["unanswered"] for c in counts),
        }
    return out


def question_difficulty(records: list[dict]) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for r in attempts(records):
        for q in r["sequences"]["questions"]:
            e = out.setdefault(
                f"{r['base_exam_id']}:{q['id']}", {"times_asked": 0, "correct_answers": 0}
            )
            e["times_asked"] += 1
            e["correct_answers"] += q.get("user_result") == "correct"
    for e in out.values():
        e["correct_rate"] = e["correct_answers"] / e["times_asked"]
    return out


def option_choices(records: list[dict]) -> dict[tuple[str, str], dict]:
    out: dict[tuple[str, str], dict] = {}
    for r in attempts(records):
        for q in r["sequences"]["questions"]:
            for o in q["options"]:
                e = out.setdefault(
                    (f"{r['base_exam_id']}:{q['id']}", o["id"]),
                    {"times_shown": 0, "times_checked": 0, "is_correct_option": False},
                )
                e["times_shown"] += 1
                e["times_checked"] += bool(o["checked"])
                e["is_correct_option"] |= o.get("correct") is True
    return out


def activity_hourly(records: list[dict]) -> dict[int, int]:
    return {h: e["distinct_attempts"] for h, e in activity_hourly_measures(records).items()}


def activity_daily(records: list[dict]) -> dict[str, int]:
    return {d: e["distinct_attempts"] for d, e in activity_daily_measures(records).items()}


def activity_hourly_measures(records: list[dict]) -> dict[int, dict]:
    """mart_activity_hourly: every hour of the day (UTC), 0 where no attempt falls."""
    rows = rows_per_attempt(records)
    out = {h: {"distinct_attempts": 0, "attempt_rows": 0} for h in range(24)}
    for r in attempts(records):
        e = out[epoch(r["keen_timestamp"]).hour]
        e["distinct_attempts"] += 1
        e["attempt_rows"] += rows[r["keen_id"]]
    return out


def activity_daily_measures(records: list[dict]) -> dict[str, dict]:
    """mart_activity_daily: UTC days with attempts (ISO dates)."""
    rows = rows_per_attempt(records)
    out: dict[str, dict] = {}
    exams: dict[str, set] = collections.defaultdict(set)
    for r in attempts(records):
        day = epoch(r["keen_timestamp"]).date().isoformat()
        e = out.setdefault(day, {"distinct_attempts": 0, "attempt_rows": 0})
        e["distinct_attempts"] += 1
        e["attempt_rows"] += rows[r["keen_id"]]
        exams[day].add(r["base_exam_id"])
    return {day: {**e, "exams_taken": len(exams[day])} for day, e in out.items()}


def popularity_ranks(records: list[dict]) -> dict[str, int]:
    """mart_exam_popularity.popularity_rank: 1 for the most distinct attempts, ties
    sharing a rank and the next rank following on (a dense rank)."""
    counts = {exam: e["distinct_attempts"] for exam, e in popularity(records).items()}
    ranks = {n: rank for rank, n in enumerate(sorted(set(counts.values()), reverse=True), 1)}
    return {exam: ranks[n] for exam, n in counts.items()}


def per_customer(records: list[dict], owners: dict[str, str]) -> dict[str, list[dict]]:
    """The records of each customer's exams (``owners``: base_exam_id -> customer_id),
    as if the warehouse held only those; records of exams without an owner are left
    out."""
    out: dict[str, list[dict]] = collections.defaultdict(list)
    for r in records:
        if r.get("base_exam_id") in owners:
            out[owners[r["base_exam_id"]]].append(r)
    return dict(out)


def customer_activity_daily(
    records: list[dict], owners: dict[str, str]
) -> dict[tuple[str, str], dict]:
    """mart_customer_activity_daily: mart_activity_daily over each customer's records."""
    return {
        (customer, day): measures
        for customer, own in per_customer(records, owners).items()
        for day, measures in activity_daily_measures(own).items()
    }


def customer_activity_hourly(
    records: list[dict], owners: dict[str, str], customers: list[str]
) -> dict[tuple[str, int], dict]:
    """mart_customer_activity_hourly: 24 hours for every customer, owning attempts or not."""
    own = per_customer(records, owners)
    return {
        (customer, hour): measures
        for customer in customers
        for hour, measures in activity_hourly_measures(own.get(customer, [])).items()
    }


def percentile(values: list[float], p: float) -> float:
    """Spark's exact percentile: linear between the ranks around p * (n - 1)."""
    ordered = sorted(values)
    position = p * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def durations(records: list[dict]) -> dict[str, dict]:
    per_exam: dict[str, list[float]] = collections.defaultdict(list)
    for r in attempts(records):
        seconds = (epoch(r["keen_timestamp"]) - iso(r["started_at"])).total_seconds()
        if seconds >= 0:
            per_exam[r["base_exam_id"]].append(seconds)
    return {
        exam: {
            "timed_attempts": len(s),
            "max_duration_seconds": max(s),
            "mean_duration_seconds": statistics.fmean(s),
            "median_duration_seconds": percentile(s, 0.5),
            "p90_duration_seconds": percentile(s, 0.9),
        }
        for exam, s in per_exam.items()
    }

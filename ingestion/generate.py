"""Synthetic assessment attempts with the shape and quirks of the real export.

Deterministic for a seed and streamed (constant memory whatever the count). Quirks
reproduced at rates seen in the real data (docs/data.md):

* exact duplicates (about 1 % of attempts re-emitted, some twice, byte-identical);
* test records (``base_exam_id`` the dbt var ``test_exam_id``) without ``sequences.counts`` and
  whose questions carry no ``user_*`` fields;
* ``certification`` "false" or JSON null; ``max_attempts`` "1.0";
* epoch strings with varying precision; ``keen_created_at == keen_timestamp``;
  ``keen_id``'s first 8 hex digits are its epoch seconds;
* sparse option keys (``at``, ``submitted``, ``correct`` present only sometimes);
* about 100 exams with skewed (Zipf-like) popularity, a few names shared by two
  exam ids (which also share question ids), timestamps spread over ten weeks with a
  daily rhythm.

The consistency rules of the export hold on every generated record with counts.

The generated exams belong to demo customers (publishers): ``owner_of`` assigns each
exam from its id alone, and ``write_owner_seeds`` writes that assignment as the dbt
seeds ``exam_owners.csv`` and ``customers.csv`` (the committed ``warehouse/seeds`` are
its output for ``DEFAULT_SEED``, the demo's).
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import gzip
import hashlib
import json
import math
import random
import uuid
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from core.project import exam_id_of_test_records

# The seed of `edtrack generate` and of the demo: the committed ownership seeds
# (warehouse/seeds) list this seed's exams.
DEFAULT_SEED = 2018
TEST_EXAM_NAME = "Example Exam For Development and Testing oh yeahsdf"
START = dt.datetime(2017, 11, 20, tzinfo=dt.UTC)
SPAN_DAYS = 70
DUPLICATE_RATE = 0.01
TRIPLICATE_SHARE = 0.2
TEST_RECORD_RATE = 0.006
NULL_CERTIFICATION_RATE = 0.06
# Relative activity per UTC hour: quiet at night, busiest in the afternoon.
HOUR_WEIGHTS = [2, 1, 1, 1, 1, 2, 3, 5, 7, 9, 10, 11, 12, 13, 14, 15, 15, 14, 12, 10, 8, 6, 4, 3]
TOPICS = [
    "Learning Git",
    "Introduction to Python",
    "Intermediate Python Programming",
    "Learning to Program with R",
    "Introduction to Java 8",
    "Learning Eclipse",
    "Software Architecture Fundamentals",
    "Introduction to Machine Learning",
    "Normal Forms and All That Jazz",
    "Beginning C# Programming",
    "Learning SQL",
    "Networking for People Who Hate Networking",
    "Introduction to Big Data",
    "Mastering Docker",
    "Learning Linux Security",
    "Apache Spark Essentials",
    "Great Bash",
    "Practical Data Science",
    "Reproducible Research",
    "Kafka Streams",
]
LEVELS = ["", " Master Class", " Fundamentals", " Advanced", " for Beginners"]


@dataclass(frozen=True)
class Question:
    id: str
    n_options: int
    correct: tuple[int, ...]


@dataclass(frozen=True)
class Exam:
    base_exam_id: str
    name: str
    questions: tuple[Question, ...]
    weight: float
    skill: float  # probability a question is answered correctly


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def make_exams(rng: random.Random, n_exams: int = 100, shared_names: int = 4) -> list[Exam]:
    names: list[str] = []
    for topic in TOPICS:
        for level in LEVELS:
            names.append(topic + level)
    rng.shuffle(names)
    exams: list[Exam] = []
    distinct = n_exams - shared_names
    for rank in range(distinct):
        n_questions = rng.choices([1, 2, 3, 4, 5, 6, 7, 8], [1, 1, 8, 53, 28, 5, 4, 1])[0]
        questions = []
        for _ in range(n_questions):
            n_options = rng.choice([2, 3, 4, 4, 4, 5])
            n_correct = 1 if rng.random() < 0.8 else min(2, n_options - 1)
            correct = tuple(sorted(rng.sample(range(n_options), n_correct)))
            questions.append(Question(_uuid(rng), n_options, correct))
        exams.append(
            Exam(
                _uuid(rng),
                names[rank],
                tuple(questions),
                weight=1.0 / (rank + 1) ** 0.8,
                skill=rng.uniform(0.45, 0.9),
            )
        )
    # A few exam names belong to two base_exam_ids; the twins reuse the question ids,
    # so a question is only unique together with its exam id.
    for twin_of in rng.sample(exams[:distinct], shared_names):
        exams.append(
            Exam(
                _uuid(rng),
                twin_of.name,
                twin_of.questions,
                weight=twin_of.weight / 3,
                skill=rng.uniform(0.45, 0.9),
            )
        )
    return exams


@dataclass(frozen=True)
class Customer:
    customer_id: str  # an LDAP group name too: ^[a-z][a-z0-9_-]{0,62}$
    customer_name: str


# The demo's customers: publishers whose exams EdTech Co serves (made-up names).
CUSTOMERS = (
    Customer("northwind", "Northwind Learning"),
    Customer("bluebird", "Bluebird Press"),
    Customer("meridian", "Meridian Academic Publishing"),
)
# One exam in UNOWNED_ONE_IN belongs to no customer: EdTech Co's in-house exams.
UNOWNED_ONE_IN = 10


def owner_of(base_exam_id: str) -> str | None:
    """The demo customer owning an exam, decided by its id alone (a SHA-256 of it, the
    same on every machine and run): about one exam in ``UNOWNED_ONE_IN`` has none (an
    in-house exam), nor has the test-record exam. Twin exams (one name, two ids) are
    assigned each on its own id, so a name can belong to two customers."""
    if base_exam_id == exam_id_of_test_records():
        return None
    digest = int.from_bytes(hashlib.sha256(base_exam_id.encode()).digest()[:8], "big")
    if digest % UNOWNED_ONE_IN == 0:
        return None
    return CUSTOMERS[digest // UNOWNED_ONE_IN % len(CUSTOMERS)].customer_id


def write_owner_seeds(directory: Path, seed: int = DEFAULT_SEED) -> dict[str, int]:
    """Write the dbt seeds of ownership for the exams ``generate(..., seed)`` draws
    from: ``exam_owners.csv`` (base_exam_id, customer_id; owned exams only, by id) and
    ``customers.csv`` (customer_id, customer_name). Returns the rows written per file.
    The exams depend on the seed only, not on the count, start or days."""
    owners = sorted(
        (exam.base_exam_id, owner)
        for exam in make_exams(random.Random(seed))
        if (owner := owner_of(exam.base_exam_id)) is not None
    )
    customers = [(c.customer_id, c.customer_name) for c in CUSTOMERS]
    directory.mkdir(parents=True, exist_ok=True)
    tables = {
        "exam_owners.csv": (("base_exam_id", "customer_id"), owners),
        "customers.csv": (("customer_id", "customer_name"), customers),
    }
    for name, (header, rows) in tables.items():
        with open(directory / name, "w", encoding="utf-8", newline="") as out:
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(header)
            writer.writerows(rows)
    return {name: len(rows) for name, (_, rows) in tables.items()}


def _iso_ms(moment: dt.datetime) -> str:
    return moment.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


@functools.lru_cache(maxsize=4096)
def _option_ids(question_id: str, n_options: int) -> tuple[str, ...]:
    """Option ids are stable per question: drawn from a generator seeded by its id."""
    ids_rng = random.Random(question_id)
    return tuple(_uuid(ids_rng) for _ in range(n_options))


def _answer(
    rng: random.Random, q: Question, skill: float, clock: dt.datetime, with_user_fields: bool
) -> tuple[dict[str, Any], dt.datetime]:
    roll = rng.random()
    multi = len(q.correct) > 1
    if roll < skill:
        result = "correct"
    elif roll < skill + 0.04:
        result = "unanswered"
    elif multi and roll < skill + 0.25:
        result = "missed_some"
    else:
        result = "incorrect"
    if result == "correct":
        chosen = set(q.correct)
    elif result == "missed_some":
        chosen = {q.correct[0]}
    elif result == "incorrect":
        wrong = [i for i in range(q.n_options) if i not in q.correct] or [0]
        chosen = {rng.choice(wrong)}
        if multi and rng.random() < 0.5:
            chosen.add(q.correct[0])
    else:
        chosen = set()
    options = []
    for i, option_id in enumerate(_option_ids(q.id, q.n_options)):
        option: dict[str, Any] = {"checked": i in chosen, "id": option_id}
        touched = i in chosen or rng.random() < 0.04
        if touched:
            clock += dt.timedelta(seconds=rng.uniform(2, 20))
            option["at"] = _iso_ms(clock)
        if i in chosen:
            option["submitted"] = 1
        if i in q.correct and (i in chosen or rng.random() < 0.35):
            option["correct"] = True
        # Real exports order keys differently when an option was answered.
        if touched:
            option = {
                k: option[k] for k in ("checked", "at", "id", "submitted", "correct") if k in option
            }
        options.append(option)
    if not with_user_fields:
        return {"options": options, "id": q.id}, clock
    return {
        "user_incomplete": result == "missed_some",
        "user_correct": result == "correct",
        "options": options,
        "user_submitted": result != "unanswered",
        "id": q.id,
        "user_result": result,
    }, clock


def _counts(questions: list[dict[str, Any]]) -> dict[str, Any]:
    results = [q["user_result"] for q in questions]
    total = len(questions)
    correct = results.count("correct")
    return {
        "incomplete": results.count("missed_some"),
        "submitted": sum(1 for q in questions if q["user_submitted"]),
        "incorrect": results.count("incorrect"),
        "all_correct": correct == total,
        "correct": correct,
        "total": total,
        "unanswered": results.count("unanswered"),
    }


def _moment(rng: random.Random, start: dt.datetime, days: int) -> dt.datetime:
    day = rng.randrange(days)
    hour = rng.choices(range(24), HOUR_WEIGHTS)[0]
    return start + dt.timedelta(days=day, hours=hour, seconds=rng.uniform(0, 3600))


def make_attempt(
    rng: random.Random,
    exam: Exam,
    test_record: bool = False,
    start: dt.datetime = START,
    days: int = SPAN_DAYS,
) -> dict[str, Any]:
    started = _moment(rng, start, days)
    clock = started
    questions = []
    for q in exam.questions:
        answer, clock = _answer(rng, q, exam.skill, clock, with_user_fields=not test_record)
        questions.append(answer)
    # Submission: shortly after the last click, sometimes hours later (tab left open).
    extra = rng.lognormvariate(math.log(8), 1.0) if rng.random() < 0.97 else rng.uniform(600, 25000)
    submitted = clock + dt.timedelta(seconds=extra)
    epoch = submitted.timestamp()
    stamp = repr(round(epoch, 6))
    sequences: dict[str, Any] = {"questions": questions, "attempt": 1, "id": _uuid(rng)}
    if not test_record:
        sequences["counts"] = _counts(questions)
    return {
        "keen_timestamp": stamp,
        "max_attempts": "1.0",
        "started_at": _iso_ms(started),
        "base_exam_id": exam.base_exam_id,
        "user_exam_id": _uuid(rng),
        "sequences": sequences,
        "keen_created_at": stamp,
        "certification": None if rng.random() < NULL_CERTIFICATION_RATE else "false",
        "keen_id": f"{int(epoch):08x}{rng.getrandbits(64):016x}",
        "exam_name": exam.name,
    }


def generate(
    count: int, seed: int = DEFAULT_SEED, start: dt.datetime = START, days: int = SPAN_DAYS
) -> Iterator[dict[str, Any]]:
    """Yield ``count`` records (duplicates included in the count), deterministically.

    Attempts fall on ``days`` days from ``start`` (UTC), so a later batch can model
    the next day's activity.
    """
    rng = random.Random(seed)
    exams = make_exams(rng)
    weights = [e.weight for e in exams]
    test_exam = Exam(
        exam_id_of_test_records(),
        TEST_EXAM_NAME,
        exams[0].questions[:3] or exams[0].questions,
        weight=0,
        skill=0.5,
    )
    pending: deque[tuple[int, dict[str, Any]]] = deque()  # (emit at index, record)
    emitted = 0
    while emitted < count:
        if pending and pending[0][0] <= emitted:
            yield pending.popleft()[1]
            emitted += 1
            continue
        if rng.random() < TEST_RECORD_RATE:
            record = make_attempt(rng, test_exam, True, start, days)
        else:
            record = make_attempt(rng, rng.choices(exams, weights)[0], False, start, days)
        yield record
        emitted += 1
        if rng.random() < DUPLICATE_RATE:
            copies = 2 if rng.random() < TRIPLICATE_SHARE else 1
            for _ in range(copies):
                pending.append((emitted + rng.randrange(1, 40), record))
            pending = deque(sorted(pending, key=lambda item: item[0]))


def open_output(path: Path) -> IO[str]:
    if path.suffix == ".gz":
        return gzip.open(path, "wt", encoding="utf-8")
    return open(path, "w", encoding="utf-8")


def write(
    records: Iterator[dict[str, Any]], path: Path, fmt: str | None = None, progress=None
) -> int:
    """Write records as a JSON array (the export's layout) or JSON Lines.

    ``fmt`` defaults from the file name: ``.jsonl`` / ``.jsonl.gz`` give JSON Lines,
    anything else the export's single-line array with ``", "`` / ``": "`` separators.
    """
    name = path.name[:-3] if path.name.endswith(".gz") else path.name
    fmt = fmt or ("jsonl" if name.endswith(".jsonl") else "array")
    n = 0
    with open_output(path) as out:
        if fmt == "array":
            out.write("[")
        for record in records:
            if fmt == "array":
                if n:
                    out.write(", ")
                out.write(json.dumps(record))
            else:
                out.write(json.dumps(record, separators=(",", ":")))
                out.write("\n")
            n += 1
            if progress is not None:
                progress(1)
        if fmt == "array":
            out.write("]")
    return n

"""Profile every field of an export, streamed: types, presence, nulls, distinct values, ranges.

Reads with :class:`ingestion.source.Input` (the export's JSON array, JSON Lines, gzip of
either, or ``-`` for stdin), one record at a time. Every nested path is profiled:
objects by key, array elements as ``[]`` (``sequences.questions[].options[].checked``).

What each share is of: presence and null % of a path are shares of the *records* when
no array lies on the path, and of the *elements of the nearest enclosing array*
otherwise (``sequences.questions[].user_result`` is a share of all questions). The
report groups paths by that scope and names it.

Memory is bounded whatever the input size:

* at most ``MAX_PATHS`` paths are profiled; values under further paths are only counted
  (``unprofiled_values``);
* distinct values are kept exactly up to ``exact_cap`` per path and JSON type, then
  counted by a HyperLogLog sketch (Apache DataSketches, relative error about 0.8 % at
  one standard deviation) that starts from the exact values; such counts are marked
  approximate and carry 95 % bounds;
* strings longer than ``LONG_STRING`` characters are remembered by a 64-bit hash;
* the record-level section keeps 64-bit hashes of keen_id and of each record's content
  (exact up to ``RECORD_CAP`` records, then sketched), and the cross-field checks
  track at most ``KEY_CAP`` exam names and question ids.

The record-level section and the checks follow docs/data.md: duplicates by keen_id and
by content, test records, exam names shared by two exam ids, question ids repeated
across exams, and the consistency rules between ``sequences.counts`` and the questions.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from hashlib import blake2b
from pathlib import Path
from typing import Any

from datasketches import hll_sketch, tgt_hll_type

from core.project import exam_id_of_test_records
from ingestion.source import Input, compact

EXACT_CAP = 10_000  # distinct values kept exactly per path and type
RECORD_CAP = 1_000_000  # keen_ids and contents kept exactly (as 64-bit hashes)
KEY_CAP = 200_000  # exam names and question ids tracked by the cross-field checks
MAX_PATHS = 1_000
NO_MIN = sys.maxsize
LONG_STRING = 64  # longer strings are kept as hashes in distinct sets
TOP_VALUES = 10  # a path with at most this many distinct values lists them with counts
EXAMPLES = 3
EXAMPLE_CHARS = 40
PATH_LG_K = 14  # HyperLogLog sketch size per path: 2^14 registers, 16 KB
RECORD_LG_K = 18  # for keen_id and contents: 256 KB, about 0.2 % error
BOUND_SIGMAS = 2
PROGRESS_EVERY = 1_000
SHAPE_CACHE = 20_000  # strings whose shape is remembered (ids, names repeat a lot)

# Epoch seconds read as timestamps only within this range (2000-01-01 .. 2100-01-01), so
# that a number such as max_attempts' "1.0" is not taken for 1970.
EPOCH_MIN = 946_684_800.0
EPOCH_MAX = 4_102_444_800.0
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

# One alternative per string shape, each with exactly one named group (``lastgroup``).
_SHAPE = re.compile(
    r"(?P<uuid>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})"
    r"|(?P<number>[-+]?\d+(?:\.\d+)?)"
    r"|(?P<iso>\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?"
    r"(?:Z|[-+]\d{2}(?::?\d{2})?)?)?)"
    r"|(?P<hex>[0-9a-fA-F]{16,})"
    r"|(?P<boolean>true|false|True|False|TRUE|FALSE)"
)
# String shapes, in report order.
SHAPES = (
    "uuid",
    "hex",
    "epoch-seconds",
    "iso-8601",
    "integer-string",
    "decimal-string",
    "boolean-string",
    "empty",
    "text",
)
TIMESTAMP_SHAPES = ("epoch-seconds", "iso-8601")
TYPES = ("object", "array", "string", "integer", "float", "boolean", "null")
USER_FIELDS = ("user_incomplete", "user_correct", "user_submitted", "user_result")


# --- distinct counting -----------------------------------------------------------------


class Distinct:
    """Distinct items: an exact set up to ``cap`` items, then a HyperLogLog sketch."""

    __slots__ = ("cap", "lg_k", "values", "sketch")

    def __init__(self, cap: int, lg_k: int = PATH_LG_K) -> None:
        self.cap = cap
        self.lg_k = lg_k
        self.values: set[Any] | None = set()
        self.sketch: Any = None

    def add(self, item: Any) -> None:
        values = self.values
        if values is not None:
            values.add(item)
            if len(values) > self.cap:
                self.to_sketch()
        else:
            self.sketch.update(item)

    def to_sketch(self) -> None:
        sketch = hll_sketch(self.lg_k, tgt_hll_type.HLL_8)
        for item in self.values or ():
            sketch.update(item)
        self.sketch = sketch
        self.values = None

    def count(self) -> dict[str, Any]:
        """``{"value", "exact"}``, plus ``lower``/``upper`` (95 %) when estimated."""
        if self.values is not None:
            return {"value": len(self.values), "exact": True}
        return {
            "value": round(self.sketch.get_estimate()),
            "exact": False,
            "lower": round(self.sketch.get_lower_bound(BOUND_SIGMAS)),
            "upper": round(self.sketch.get_upper_bound(BOUND_SIGMAS)),
        }


def _sum_counts(counts: list[dict[str, Any]]) -> dict[str, Any]:
    """Distinct counts of disjoint sets (one per JSON type) added up."""
    total: dict[str, Any] = {
        "value": sum(c["value"] for c in counts),
        "exact": all(c["exact"] for c in counts),
    }
    if not total["exact"]:
        total["lower"] = sum(c.get("lower", c["value"]) for c in counts)
        total["upper"] = sum(c.get("upper", c["value"]) for c in counts)
    return total


def hash64(data: str | bytes) -> int:
    """A stable 64-bit hash (the same in every run, unlike ``hash``), so estimates repeat."""
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    return int.from_bytes(blake2b(data, digest_size=8).digest(), "little", signed=True)


def _content(record: dict[str, Any]) -> bytes:
    """The record's compact JSON; ASCII-escaped when it holds lone surrogates."""
    try:
        return compact(record)
    except UnicodeEncodeError:
        return json.dumps(record, separators=(",", ":")).encode()


# --- one path --------------------------------------------------------------------------


class PathStats:
    """Everything seen at one path. ``count`` is every occurrence, null included."""

    __slots__ = (
        "path",
        "scope",
        "is_scope",
        "children",
        "items",
        "count",
        "types",
        "distinct",
        "top",
        "examples",
        "example_keys",
        "num_min",
        "num_max",
        "len_min",
        "len_max",
        "arr_min",
        "arr_max",
        "arr_empty",
        "shapes",
        "shape_examples",
        "decimals",
        "ts_min",
        "ts_max",
        "ts_min_raw",
        "ts_max_raw",
        "ts_no_zone",
    )

    def __init__(self, path: str, scope: PathStats | None, is_scope: bool) -> None:
        self.path = path
        self.scope = scope  # the node whose count is this path's denominator
        self.is_scope = is_scope  # the root (records) and every array-element node
        self.children: dict[str, PathStats] = {}
        self.items: PathStats | None = None
        self.count = 0
        self.types: dict[str, int] = {}
        self.distinct: dict[str, Distinct] = {}
        self.top: dict[tuple[str, Any], int] | None = {}
        self.examples: list[Any] = []  # the first few distinct values (long strings cut)
        self.example_keys: list[tuple[str, Any]] = []
        self.num_min: float | None = None
        self.num_max: float | None = None
        # Sentinels rather than None keep the per-value comparisons short.
        self.len_min = NO_MIN
        self.len_max = -1
        self.arr_min = NO_MIN
        self.arr_max = -1
        self.arr_empty = 0
        self.shapes: dict[str, int] = {}
        self.shape_examples: dict[str, str] = {}
        self.decimals: dict[str, list[int]] = {}  # shape -> [min, max] digits after the dot
        self.ts_min = math.inf
        self.ts_max = -math.inf
        self.ts_min_raw: str | None = None
        self.ts_max_raw: str | None = None
        self.ts_no_zone = 0  # ISO strings without a zone (read as UTC)


# --- the profiler ----------------------------------------------------------------------


class Profiler:
    """Feed records with :meth:`add`; :meth:`report` gives the JSON-ready report."""

    def __init__(self, exact_cap: int = EXACT_CAP, max_paths: int = MAX_PATHS) -> None:
        if exact_cap < 1:
            raise ValueError("exact_cap must be at least 1")
        self.exact_cap = exact_cap
        self.max_paths = max_paths
        self.root = PathStats("", None, True)
        self.paths = 0
        self.unprofiled_values = 0
        self.records = Records()
        self._shapes: dict[str, tuple[str, float | None, int | None, bool]] = {}

    def add(self, record: dict[str, Any]) -> None:
        self.records.add(record)
        self._visit(self.root, record)

    def reject(self, index: int, error: str | None) -> None:
        self.records.reject(index, error)

    def _child(self, parent: PathStats, key: str | None) -> PathStats | None:
        if self.paths >= self.max_paths:
            return None
        self.paths += 1
        if key is None:
            scope = parent if parent.is_scope else parent.scope
            node = PathStats(parent.path + "[]", scope, True)
            parent.items = node
        else:
            path = f"{parent.path}.{key}" if parent.path else key
            node = PathStats(path, parent if parent.is_scope else parent.scope, False)
            parent.children[key] = node
        return node

    def _visit(self, node: PathStats, value: Any) -> None:
        kind = type(value)
        if kind is dict:
            node.count += 1
            types = node.types
            types["object"] = types.get("object", 0) + 1
            children = node.children
            for key, item in value.items():
                child = children.get(key)
                if child is None:
                    child = self._child(node, key)
                    if child is None:
                        self.unprofiled_values += 1
                        continue
                item_kind = type(item)
                if item_kind is dict or item_kind is list:
                    self._visit(child, item)
                else:
                    self._scalar(child, item_kind, item)
        elif kind is list:
            node.count += 1
            types = node.types
            types["array"] = types.get("array", 0) + 1
            n = len(value)
            if n < node.arr_min:
                node.arr_min = n
            if n > node.arr_max:
                node.arr_max = n
            if not n:
                node.arr_empty += 1
                return
            items = node.items
            if items is None:
                items = self._child(node, None)
                if items is None:
                    self.unprofiled_values += n
                    return
            for item in value:
                item_kind = type(item)
                if item_kind is dict or item_kind is list:
                    self._visit(items, item)
                else:
                    self._scalar(items, item_kind, item)
        else:
            self._scalar(node, kind, value)

    def _scalar(self, node: PathStats, kind: type, value: Any) -> None:
        node.count += 1
        if value is None:
            types = node.types
            types["null"] = types.get("null", 0) + 1
            return
        if kind is str:
            name = "string"
            self._string(node, value)
            key = value if len(value) <= LONG_STRING else hash64(value)
        elif kind is bool:
            name = "boolean"
            key = value
        elif kind is int or kind is float:
            name = "integer" if kind is int else "float"
            key = value
            if node.num_min is None or value < node.num_min:
                node.num_min = value
            if node.num_max is None or value > node.num_max:
                node.num_max = value
        else:  # not produced by the JSON readers; profiled by its text
            name = "string"
            value = key = str(value)
        types = node.types
        types[name] = types.get(name, 0) + 1
        top = node.top
        if top is not None:
            top_key = (name, key)
            seen = top.get(top_key)
            if seen is not None:
                # Seen before: already in the distinct set and among the examples.
                top[top_key] = seen + 1
                return
            if len(top) < TOP_VALUES and key is value:
                top[top_key] = 1
            else:
                node.top = None
        distinct = node.distinct.get(name)
        if distinct is None:
            distinct = node.distinct[name] = Distinct(self.exact_cap)
        distinct.add(key)
        if len(node.examples) < EXAMPLES:
            example = (name, key)
            if example not in node.example_keys:
                node.example_keys.append(example)
                node.examples.append(value[:EXAMPLE_CHARS] if kind is str else value)

    def _string(self, node: PathStats, value: str) -> None:
        n = len(value)
        if n < node.len_min:
            node.len_min = n
        if n > node.len_max:
            node.len_max = n
        if n <= LONG_STRING:
            cache = self._shapes
            shape_info = cache.get(value)
            if shape_info is None:
                shape_info = value_shape(value)
                if shape_info[1] is None:  # timestamps seldom repeat: not worth keeping
                    if len(cache) >= SHAPE_CACHE:
                        cache.clear()
                    cache[value] = shape_info
        else:
            shape_info = value_shape(value)
        shape, moment, decimals, no_zone = shape_info
        shapes = node.shapes
        if shape in shapes:
            shapes[shape] += 1
        else:
            shapes[shape] = 1
            node.shape_examples[shape] = _example(value)
        if decimals is not None:
            span = node.decimals.get(shape)
            if span is None:
                node.decimals[shape] = [decimals, decimals]
            elif decimals < span[0]:
                span[0] = decimals
            elif decimals > span[1]:
                span[1] = decimals
        if moment is not None:
            if moment < node.ts_min:
                node.ts_min, node.ts_min_raw = moment, value
            if moment > node.ts_max:
                node.ts_max, node.ts_max_raw = moment, value
            if no_zone:
                node.ts_no_zone += 1

    def report(self, source: dict[str, Any] | None = None) -> dict[str, Any]:
        """The profile as plain JSON-ready data (the Markdown is rendered from it)."""
        sections: list[dict[str, Any]] = []
        by_scope: dict[str, dict[str, Any]] = {}
        for node in _walk(self.root):
            scope = node if node.is_scope else node.scope
            assert scope is not None
            section = by_scope.get(scope.path)
            if section is None:
                section = {
                    "scope": "record" if scope is self.root else scope.path,
                    "of": "records" if scope is self.root else f"elements of {scope.path}",
                    "count": scope.count,
                    "paths": [],
                }
                by_scope[scope.path] = section
                sections.append(section)
            if node is not self.root:
                section["paths"].append(_path_report(node, section["of"], scope.count))
        return {
            "source": source or {},
            "settings": {
                "exact_distinct_cap": self.exact_cap,
                "max_paths": self.max_paths,
                "sketch": f"HyperLogLog (Apache DataSketches), lg_k={PATH_LG_K}",
                "bounds": f"{BOUND_SIGMAS} standard deviations (about 95 %)",
            },
            "records": self.records.report(),
            "checks": self.records.checks(),
            "unprofiled_values": self.unprofiled_values,
            "sections": sections,
        }


def _walk(node: PathStats) -> Iterable[PathStats]:
    """Depth first, keys sorted, each array right after the path that holds it."""
    yield node
    for key in sorted(node.children):
        yield from _walk(node.children[key])
    if node.items is not None:
        yield from _walk(node.items)


def _example(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(value)
    return text if len(text) <= EXAMPLE_CHARS else text[: EXAMPLE_CHARS - 1] + "…"


def value_shape(value: str) -> tuple[str, float | None, int | None, bool]:
    """(shape, epoch seconds if a timestamp, digits after the dot, ISO without zone)."""
    if not value:
        return "empty", None, None, False
    match = _SHAPE.fullmatch(value)
    if match is None:
        return "text", None, None, False
    group = match.lastgroup
    if group == "number":
        dot = value.find(".")
        decimals = len(value) - dot - 1 if dot >= 0 else None
        number = float(value)
        if EPOCH_MIN <= number < EPOCH_MAX and value[0] not in "+-":
            return "epoch-seconds", number, decimals, False
        return ("integer-string" if dot < 0 else "decimal-string"), None, decimals, False
    if group == "iso":
        try:
            moment = dt.datetime.fromisoformat(value)
        except ValueError:
            return "text", None, None, False
        no_zone = moment.tzinfo is None
        if no_zone:
            moment = moment.replace(tzinfo=dt.UTC)
        return "iso-8601", moment.timestamp(), None, no_zone
    if group == "boolean":
        return "boolean-string", None, None, False
    return group or "text", None, None, False


def utc_iso(epoch: float) -> str:
    """Epoch seconds as UTC ISO-8601 with milliseconds and a ``Z``."""
    moment = EPOCH + dt.timedelta(seconds=epoch)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _path_report(node: PathStats, of: str, scope_count: int) -> dict[str, Any]:
    nulls = node.types.get("null", 0)
    entry: dict[str, Any] = {
        "path": node.path,
        "of": of,  # what present_pct and null_pct are shares of
        "count": node.count,
        "present_pct": _pct(node.count, scope_count),
        "null_pct": _pct(nulls, scope_count),
        "types": {t: node.types[t] for t in TYPES if t in node.types},
        "distinct": _distinct(node),
    }
    if node.top is not None and node.top:
        entry["values"] = [
            {"value": value, "count": n}
            for (_, value), n in sorted(node.top.items(), key=lambda kv: (-kv[1], str(kv[0][1])))
        ]
    else:
        entry["values"] = None
    entry["examples"] = [_example(v) for v in node.examples]
    if node.num_min is not None:
        entry["number"] = {"min": node.num_min, "max": node.num_max}
    if node.shapes:
        entry["string"] = {
            "length": {"min": node.len_min, "max": node.len_max},
            "shapes": {s: node.shapes[s] for s in SHAPES if s in node.shapes},
            "shape_examples": {s: node.shape_examples[s] for s in SHAPES if s in node.shapes},
            "decimals": {s: {"min": d[0], "max": d[1]} for s, d in node.decimals.items()},
        }
    if node.ts_min_raw is not None:
        entry["timestamp"] = {
            "count": sum(node.shapes.get(s, 0) for s in TIMESTAMP_SHAPES),
            "min": utc_iso(node.ts_min),
            "max": utc_iso(node.ts_max),
            "min_text": node.ts_min_raw,
            "max_text": node.ts_max_raw,
            "without_zone_read_as_utc": node.ts_no_zone,
        }
    if node.arr_max >= 0:
        entry["array"] = {
            "min_length": node.arr_min,
            "max_length": node.arr_max,
            "empty": node.arr_empty,
            "elements": node.items.count if node.items is not None else 0,
        }
    return entry


def _distinct(node: PathStats) -> dict[str, Any] | None:
    """Non-null values; None for a path that only ever held objects or arrays."""
    if node.distinct:
        return _sum_counts([node.distinct[t].count() for t in TYPES if t in node.distinct])
    if "null" in node.types:
        return {"value": 0, "exact": True}
    return None


def _pct(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 4) if whole else None


# --- the record level and the checks of docs/data.md ----------------------------------


@dataclass
class Rule:
    name: str
    holds: int = 0
    broken: int = 0
    first_broken: list[str] = field(default_factory=list)  # keen_ids, a few


class Records:
    """Record-level counts (duplicates by keen_id and content) and cross-field checks."""

    def __init__(self) -> None:
        self.records = 0
        self.rejected = 0
        self.first_rejects: list[dict[str, Any]] = []
        self.without_keen_id = 0
        self.with_keen_id = 0
        self.keen_ids = Distinct(RECORD_CAP, RECORD_LG_K)
        self.contents = Distinct(RECORD_CAP, RECORD_LG_K)
        self.test_records = 0
        self.test_names: dict[str, int] = {}
        self.without_counts = 0
        self.without_counts_test = 0
        self.questions = 0
        self.questions_without_user = 0
        self.questions_without_user_test = 0
        self.name_to_exam: dict[str, str] = {}
        self.shared_names: dict[str, set[str]] = {}
        self.names_untracked = 0
        self.question_to_exam: dict[int, int] = {}
        self.shared_questions: set[int] = set()
        self.questions_untracked = 0
        self.stamps_equal = Rule("keen_created_at = keen_timestamp")
        self.rules = [
            Rule("total = number of questions"),
            Rule("correct = questions with user_result 'correct'"),
            Rule("incorrect = questions with user_result 'incorrect'"),
            Rule("incomplete = questions with user_result 'missed_some'"),
            Rule("unanswered = questions with user_result 'unanswered'"),
            Rule("correct + incorrect + incomplete + unanswered = total"),
            Rule("submitted = questions with user_submitted true"),
            Rule("all_correct = (correct = total)"),
        ]

    def reject(self, index: int, error: str | None) -> None:
        self.rejected += 1
        if len(self.first_rejects) < EXAMPLES:
            self.first_rejects.append({"index": index, "error": error})

    def add(self, record: dict[str, Any]) -> None:
        self.records += 1
        keen_id = record.get("keen_id")
        if keen_id is None:
            self.without_keen_id += 1
        else:
            self.with_keen_id += 1
            self.keen_ids.add(hash64(keen_id if isinstance(keen_id, str) else repr(keen_id)))
            self.contents.add(hash64(_content(record)))

        base = record.get("base_exam_id")
        is_test = base == exam_id_of_test_records()
        if is_test:
            self.test_records += 1
            name = record.get("exam_name")
            if isinstance(name, str) and (name in self.test_names or len(self.test_names) < 5):
                self.test_names[name] = self.test_names.get(name, 0) + 1
        self._exam_name(record.get("exam_name"), base)

        created, stamp = record.get("keen_created_at"), record.get("keen_timestamp")
        if created is not None or stamp is not None:
            self._check(self.stamps_equal, created == stamp, keen_id)

        sequences = record.get("sequences")
        sequences = sequences if isinstance(sequences, dict) else {}
        questions = sequences.get("questions")
        if not isinstance(questions, list):
            questions = []
        questions = [q for q in questions if isinstance(q, dict)]
        results: dict[Any, int] = {}
        submitted = 0
        for question in questions:
            self.questions += 1
            if not any(f in question for f in USER_FIELDS):
                self.questions_without_user += 1
                self.questions_without_user_test += is_test
            result = question.get("user_result")
            results[result] = results.get(result, 0) + 1
            submitted += question.get("user_submitted") is True
            self._question_exam(question.get("id"), base)

        counts = sequences.get("counts")
        if not isinstance(counts, dict):
            self.without_counts += 1
            self.without_counts_test += is_test
            return
        total, correct = counts.get("total"), counts.get("correct")
        parts = [counts.get(k) for k in ("correct", "incorrect", "incomplete", "unanswered")]
        sums = sum(p for p in parts if isinstance(p, int)) if None not in parts else None
        verdicts = [
            total == len(questions),
            correct == results.get("correct", 0),
            counts.get("incorrect") == results.get("incorrect", 0),
            counts.get("incomplete") == results.get("missed_some", 0),
            counts.get("unanswered") == results.get("unanswered", 0),
            sums is not None and sums == total,
            counts.get("submitted") == submitted,
            counts.get("all_correct") is (correct == total and total is not None),
        ]
        for rule, ok in zip(self.rules, verdicts, strict=True):
            self._check(rule, ok, keen_id)

    @staticmethod
    def _check(rule: Rule, ok: bool, keen_id: Any) -> None:
        if ok:
            rule.holds += 1
            return
        rule.broken += 1
        if len(rule.first_broken) < EXAMPLES:
            rule.first_broken.append(str(keen_id))

    def _exam_name(self, name: Any, base: Any) -> None:
        if not isinstance(name, str) or base is None:
            return
        base = str(base)
        known = self.name_to_exam.get(name)
        if known is None:
            if len(self.name_to_exam) >= KEY_CAP:
                self.names_untracked += 1
                return
            self.name_to_exam[name] = base
        elif known != base:
            ids = self.shared_names.setdefault(name, {known})
            if len(ids) < TOP_VALUES:
                ids.add(base)

    def _question_exam(self, question_id: Any, base: Any) -> None:
        if question_id is None or base is None:
            return
        key, exam = hash(str(question_id)), hash(str(base))
        known = self.question_to_exam.get(key)
        if known is None:
            if len(self.question_to_exam) >= KEY_CAP:
                self.questions_untracked += 1
                return
            self.question_to_exam[key] = exam
        elif known != exam:
            self.shared_questions.add(key)

    def report(self) -> dict[str, Any]:
        keen_ids = self.keen_ids.count()
        contents = self.contents.count()
        exact = keen_ids["exact"] and contents["exact"]
        return {
            "records": self.records,
            "rejected": self.rejected,
            "first_rejects": self.first_rejects,
            "without_keen_id": self.without_keen_id,
            "distinct_keen_id": keen_ids,
            "distinct_contents": contents,
            # Records whose keen_id was seen before; identical copies are the part whose
            # whole content was seen before; the rest reuse a keen_id with other content.
            "duplicate_records": {
                "value": max(0, self.with_keen_id - keen_ids["value"]),
                "exact": keen_ids["exact"],
            },
            "identical_copies": {
                "value": max(0, self.with_keen_id - contents["value"]),
                "exact": exact,
            },
            "same_keen_id_other_content": {
                "value": max(0, contents["value"] - keen_ids["value"]),
                "exact": exact,
            },
        }

    def checks(self) -> dict[str, Any]:
        tracked = len(self.question_to_exam)
        return {
            "test_records": {
                "base_exam_id": exam_id_of_test_records(),
                "records": self.test_records,
                "exam_names": dict(self.test_names),
            },
            "without_counts": {
                "records": self.without_counts,
                "test_records": self.without_counts_test,
            },
            "questions_without_user_fields": {
                "questions": self.questions,
                "without": self.questions_without_user,
                "in_test_records": self.questions_without_user_test,
            },
            "exam_names_with_several_exam_ids": {
                "names": len(self.name_to_exam),
                "shared": len(self.shared_names),
                "examples": {n: sorted(ids) for n, ids in list(self.shared_names.items())[:5]},
                "untracked": self.names_untracked,
            },
            "question_ids_in_several_exams": {
                "question_ids": tracked,
                "shared": len(self.shared_questions),
                "untracked": self.questions_untracked,
            },
            "rules": [_rule(self.stamps_equal), *(_rule(r) for r in self.rules)],
        }


def _rule(rule: Rule) -> dict[str, Any]:
    return {
        "rule": rule.name,
        "checked": rule.holds + rule.broken,
        "holds": rule.holds,
        "broken": rule.broken,
        "first_broken_keen_ids": rule.first_broken,
    }


# --- running and rendering -------------------------------------------------------------


def profile(
    path: str | Path,
    exact_cap: int = EXACT_CAP,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Profile one input; ``progress(records, bytes_read)`` is called every few records."""
    profiler = Profiler(exact_cap)
    with Input(path) as source:
        seen = 0
        for item in source.records():
            if item.ok:
                profiler.add(item.value)
            else:
                profiler.reject(item.index, item.error)
            seen += 1
            if progress is not None and seen % PROGRESS_EVERY == 0:
                progress(seen, source.bytes_read)
        if progress is not None:
            progress(seen, source.bytes_read)
        info = {"file": source.name, "layout": source.layout, "bytes": source.size}
    return profiler.report(info)


def render_json(report: dict[str, Any]) -> str:
    text = json.dumps(report, indent=2, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates in the input: escape them all
        text = json.dumps(report, indent=2)
    return text + "\n"


def render_markdown(report: dict[str, Any]) -> str:
    """The report as Markdown: record counts, checks, then one table of paths per scope."""
    source = report["source"]
    records = report["records"]
    checks = report["checks"]
    size = f", {source['bytes']:,} bytes" if source.get("bytes") is not None else ""
    lines = [
        f"# Profile of `{source.get('file', '?')}`",
        "",
        f"Layout: {LAYOUTS.get(source.get('layout'), source.get('layout'))}{size}; "
        f"{_plural(records['records'], 'record')}.",
        "",
        "## Records",
        "",
        "| measure | value |",
        "|---|---:|",
        f"| records (JSON objects) | {records['records']:,} |",
        f"| elements that are not JSON objects (skipped) | {records['rejected']:,} |",
        f"| records without keen_id | {records['without_keen_id']:,} |",
        f"| distinct keen_id | {_count(records['distinct_keen_id'])} |",
        f"| duplicate records (keen_id seen before) | {_count(records['duplicate_records'])} |",
        f"| of which identical copies (whole record seen before) "
        f"| {_count(records['identical_copies'])} |",
        f"| of which same keen_id with other content "
        f"| {_count(records['same_keen_id_other_content'])} |",
        "",
    ]
    for reject in records["first_rejects"]:
        lines.append(f"- skipped element {reject['index']}: {_cell(reject['error'])}")
    if records["first_rejects"]:
        lines.append("")

    test = checks["test_records"]
    names = ", ".join(f"{json.dumps(n)} ({c:,})" for n, c in test["exam_names"].items())
    no_counts = checks["without_counts"]
    no_user = checks["questions_without_user_fields"]
    shared = checks["exam_names_with_several_exam_ids"]
    shared_names = "; ".join(
        f"{json.dumps(n)} ({len(ids)} ids)" for n, ids in shared["examples"].items()
    )
    questions = checks["question_ids_in_several_exams"]
    lines += [
        "## Checks (docs/data.md)",
        "",
        "| check | result |",
        "|---|---|",
        f"| test records (base_exam_id = {json.dumps(test['base_exam_id'])}) "
        f"| {test['records']:,}{': ' + _cell(names) if names else ''} |",
        f"| records without sequences.counts | {no_counts['records']:,}, "
        f"of which test records: {no_counts['test_records']:,} |",
        f"| questions without any user_* field | {no_user['without']:,} of "
        f"{no_user['questions']:,}, of which in test records: {no_user['in_test_records']:,} |",
        f"| exam names with more than one base_exam_id | {shared['shared']:,} of "
        f"{shared['names']:,}{': ' + _cell(shared_names) if shared_names else ''}"
        f"{_untracked(shared['untracked'])} |",
        f"| question ids under more than one base_exam_id | {questions['shared']:,} of "
        f"{questions['question_ids']:,}{_untracked(questions['untracked'])} |",
        "",
        "Rules between fields; the rules on `sequences.counts` are checked on records that "
        "have it.",
        "",
        "| rule | checked | holds | broken | first broken (keen_id) |",
        "|---|---:|---:|---:|---|",
    ]
    for rule in checks["rules"]:
        lines.append(
            f"| {_cell(rule['rule'])} | {rule['checked']:,} | {rule['holds']:,} "
            f"| {rule['broken']:,} | {_cell(', '.join(rule['first_broken_keen_ids']))} |"
        )

    settings = report["settings"]
    lines += [
        "",
        "## Fields",
        "",
        "One table per scope: **present %** and **null %** are shares of the records, or of "
        "the elements of the array named in the heading (a key present with a null value "
        "counts in both). **types**: JSON types with counts (numbers split into integer "
        "and float as written); for strings, their shapes, so that numbers, booleans and "
        "timestamps held in strings show. **distinct**: non-null values, exact up to "
        f"{settings['exact_distinct_cap']:,} per type, then a HyperLogLog estimate marked "
        "≈ (bounds in the JSON output). **values**: every value with its count when there "
        f"are at most {TOP_VALUES}, else a few examples. **range**: numbers, timestamps "
        "held in strings (UTC), array lengths, string lengths.",
        "",
    ]
    if report["unprofiled_values"]:
        lines += [
            f"More than {settings['max_paths']:,} paths: {report['unprofiled_values']:,} "
            "values under further paths were not profiled.",
            "",
        ]
    for section in report["sections"]:
        if not section["paths"]:
            continue
        if section["scope"] == "record":
            heading = f"### Per record ({_plural(section['count'], 'record')})"
        else:
            heading = (
                f"### Per element of `{section['scope']}` ({_plural(section['count'], 'element')})"
            )
        lines += [
            heading,
            "",
            "| path | present % | null % | types | distinct | values or examples | range |",
            "|---|---:|---:|---|---:|---|---|",
        ]
        for entry in section["paths"]:
            lines.append(
                "| "
                + " | ".join(
                    [
                        f"`{entry['path']}`",
                        _pct_text(entry["present_pct"]),
                        _pct_text(entry["null_pct"]),
                        _cell(_types_text(entry)),
                        _count(entry["distinct"]) if entry["distinct"] else "",
                        _cell(_values_text(entry)),
                        _cell(_range_text(entry)),
                    ]
                )
                + " |"
            )
        lines.append("")
    return "\n".join(lines)


LAYOUTS = {
    "array": "one JSON array",
    "jsonl": "JSON Lines",
    "empty": "empty input",
}


def _plural(n: int, noun: str) -> str:
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"


def _count(count: dict[str, Any]) -> str:
    return f"{count['value']:,}" if count["exact"] else f"≈{count['value']:,}"


def _untracked(n: int) -> str:
    return f" (first {KEY_CAP:,} keys tracked, {n:,} later ones not)" if n else ""


def _pct_text(pct: float | None) -> str:
    if pct is None:
        return ""
    if pct == 100 or pct == 0:
        return f"{pct:.0f}"
    if pct >= 99.95:
        return ">99.9"
    if pct < 0.05:
        return "<0.1"
    return f"{pct:.1f}"


def _types_text(entry: dict[str, Any]) -> str:
    parts = []
    for name, n in entry["types"].items():
        text = f"{name} {n:,}"
        if name == "string" and "string" in entry:
            strings = entry["string"]
            shapes = []
            several = len(strings["shapes"]) > 1
            for shape, k in strings["shapes"].items():
                shape_text = f"{shape} {k:,}" if several else shape
                digits = strings["decimals"].get(shape)
                if digits:
                    low, high = digits["min"], digits["max"]
                    shape_text += f", {_span(low, high)} decimal{'' if high == 1 else 's'}"
                if several:
                    shape_text += f" e.g. {strings['shape_examples'][shape]}"
                shapes.append(shape_text)
            text += f" ({'; '.join(shapes)})"
        parts.append(text)
    return ", ".join(parts)


def _values_text(entry: dict[str, Any]) -> str:
    if entry["values"] is not None:
        return ", ".join(f"{_example(v['value'])} {v['count']:,}" for v in entry["values"])
    if entry["examples"]:
        return "e.g. " + ", ".join(entry["examples"])
    return ""


def _range_text(entry: dict[str, Any]) -> str:
    parts = []
    if "number" in entry:
        parts.append(_span(entry["number"]["min"], entry["number"]["max"]))
    if "timestamp" in entry:
        ts = entry["timestamp"]
        text = f"{ts['min']} to {ts['max']}"
        if ts["without_zone_read_as_utc"]:
            text += f" ({ts['without_zone_read_as_utc']:,} without zone, read as UTC)"
        parts.append(text)
    elif "string" in entry:
        length = entry["string"]["length"]
        parts.append("length " + _span(length["min"], length["max"]))
    if "array" in entry:
        array = entry["array"]
        text = "length " + _span(array["min_length"], array["max_length"])
        if array["empty"]:
            text += f" ({array['empty']:,} empty)"
        parts.append(text)
    return "; ".join(parts)


def _span(low: Any, high: Any) -> str:
    return f"{low:,}" if low == high else f"{low:,} to {high:,}"


def _cell(text: str | None) -> str:
    return (text or "").replace("|", "\\|").replace("\n", " ")

"""Bad and odd Kafka messages, each with where it must end up.

Every case is one Kafka message (value, and a key or None) and its expected outcome:

* ``QUARANTINE``: the lander puts it in ``assessment_attempts_quarantine`` with an
  ``error`` that contains ``error`` (a fragment of the reason);
* ``RAW``: the lander puts it in ``assessment_attempts`` untouched, and staging then
  either parses it (``PARSED``: ``fields`` are the expected typed values of a few
  columns of ``stg_assessments__attempts``), lists it in
  ``stg_assessments__attempt_parse_errors`` (``PARSE_ERROR``, with a fragment of the
  reason), or drops it as a later copy of an attempt it already holds (``DUPLICATE``).

``violates`` names the dbt data tests of the staging models that the case makes fail
(a landed attempt without ``keen_timestamp`` is kept, and ``not_null`` on
``submitted_at`` reports it). ``why`` says why the outcome is the right one.

Valid cases start from one generated attempt (``ingestion.generate``) and change what
they test; each gets its own ``keen_id`` (staging deduplicates on it) unless it is
about duplicates. The expected outcomes follow the lander's rules
(``ingestion.landing.quarantine.classify``: UTF-8, strict JSON, an object, at most
``--max-message-bytes``, a non-empty string ``keen_id``) and Spark's ``from_json``
with the explicit schema (``warehouse/macros/assessment_attempt_schema.sql``): a string
field takes any JSON value as its JSON text (staging's casts then decide), while a
value that does not fit a struct, array, integer or boolean field makes the payload a
parse error. ``tests/unit/test_corpus_classify.py`` and
``tests/integration/test_bad_input.py`` check every case.

``FILE_CASES`` are whole input files for ``edtrack publish`` (empty, garbage bytes, a
JSON object around the records, a truncated array, 50 MB lines and records), each with
its exit code, what the command says, and what reaches the topic and the rejects file;
``tests/integration/test_bad_files.py`` checks every one against the real broker.
"""

from __future__ import annotations

import copy
import datetime as dt
import decimal
import gzip
import itertools
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ingestion.generate import generate
from ingestion.landing.lander import LandConfig
from ingestion.landing.quarantine import QUARANTINE, RAW
from ingestion.source import compact

MAX_BYTES = LandConfig.max_message_bytes  # the lander's default limit (1 MiB)

# What staging does with a landed message.
PARSED = "parsed"
PARSE_ERROR = "parse_error"
DUPLICATE = "duplicate"

# Fragments of stg_assessments__attempt_parse_errors.error.
WRONG_TYPE = "does not fit the attempt schema"
UNPARSEABLE = "could not be parsed"

# dbt data tests of the staging models that some cases make fail.
NOT_NULL_SUBMITTED_AT = "not_null_stg_assessments__attempts_submitted_at"
NOT_NULL_BASE_EXAM_ID = "not_null_stg_assessments__attempts_base_exam_id"
NOT_NULL_IS_TEST_RECORD = "not_null_stg_assessments__attempts_is_test_record"

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Case:
    id: str
    value: bytes | None
    key: bytes | None
    table: str  # RAW or QUARANTINE
    why: str
    error: str | None = None  # QUARANTINE: fragment of the lander's error
    staging: str | None = None  # RAW: PARSED, PARSE_ERROR or DUPLICATE
    fields: Mapping[str, Any] = field(default_factory=dict)  # PARSED: column -> value
    parse_error: str | None = None  # PARSE_ERROR: fragment of the parse error
    duplicate_of: str | None = None  # DUPLICATE: the case whose row staging keeps
    violates: tuple[str, ...] = ()  # dbt data tests this case makes fail

    def __post_init__(self) -> None:
        if self.table == QUARANTINE:
            ok = self.error is not None and self.staging is None
        else:
            ok = self.table == RAW and self.error is None and self.staging is not None
            ok = ok and (self.staging == PARSED) == bool(self.fields)
            ok = ok and (self.staging == PARSE_ERROR) == (self.parse_error is not None)
            ok = ok and (self.staging == DUPLICATE) == (self.duplicate_of is not None)
        if not ok:
            raise ValueError(f"inconsistent expectation for case {self.id!r}")


# --- building messages ----------------------------------------------------------------

BASE: dict[str, Any] = next(generate(1, seed=3))
DROP = object()  # as a change: remove the key
KEEN_ID = object()  # as a message key: the record's keen_id, as the publisher sends it
_serial = itertools.count(1)


def attempt(**changes: Any) -> dict[str, Any]:
    """A copy of the generated attempt with its own keen_id and ``changes`` applied;
    a dotted name (``sequences.questions.0.options``) reaches inside, ``DROP`` removes."""
    record = copy.deepcopy(BASE)
    record["keen_id"] = f"{BASE['keen_id'][:16]}{next(_serial):08x}"
    for path, value in changes.items():
        *parents, last = path.split(".")
        node: Any = record
        for step in parents:
            node = node[int(step)] if isinstance(node, list) else node[step]
        if isinstance(node, list):
            node[int(last)] = value
        elif value is DROP:
            del node[last]
        else:
            node[last] = value
    return record


def raw_json(record: dict[str, Any], **spliced: bytes) -> bytes:
    """The record's compact JSON, with the value of each string "<<name>>" replaced by
    the raw bytes given for ``name`` (for what a JSON encoder would never write)."""
    text = compact(record)
    for name, raw in spliced.items():
        placeholder = json.dumps(f"<<{name}>>").encode()
        assert placeholder in text, name
        text = text.replace(placeholder, raw)
    return text


def padded(record: dict[str, Any], size: int) -> bytes:
    """The record with an unknown ``padding`` field that makes it exactly ``size`` bytes."""
    bare = compact({**record, "padding": ""})
    return compact({**record, "padding": "x" * (size - len(bare))})


def key_of(record: dict[str, Any]) -> bytes:
    return record["keen_id"].encode()


def epoch(text: str) -> dt.datetime:
    """An epoch-seconds string as staging types it: microseconds, rounded half up."""
    micros = (decimal.Decimal(text) * 1_000_000).quantize(0, decimal.ROUND_HALF_UP)
    return EPOCH + dt.timedelta(microseconds=int(micros))


def iso(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def typed(record: dict[str, Any]) -> dict[str, Any]:
    """Staging's typed columns of a well-formed record."""
    sequences = record["sequences"]
    return {
        "attempt_id": record["keen_id"],
        "base_exam_id": record["base_exam_id"],
        "exam_name": record["exam_name"],
        "max_attempts": float(record["max_attempts"]),
        "attempt_number": sequences["attempt"],
        "question_count": len(sequences["questions"]),
        "counts_total": sequences["counts"]["total"],
        "has_counts": True,
        "is_certification": {"true": True, "false": False}.get(str(record["certification"])),
        "is_test_record": False,
        "submitted_at": epoch(record["keen_timestamp"]),
        "started_at": iso(record["started_at"]),
    }


def quarantined(id: str, value: bytes | None, error: str, why: str, key=None) -> Case:
    return Case(id, value, key, QUARANTINE, why, error=error)


Writer = Callable[[dict[str, Any]], bytes]


def parsed(
    id: str,
    record: dict[str, Any],
    why: str,
    write: Writer = compact,
    key: bytes | None | object = KEEN_ID,
    kept: tuple[str, ...] = (),
    violates: tuple[str, ...] = (),
    **fields: Any,
) -> Case:
    """A landed attempt that staging parses. Expected: its ``attempt_id``, the columns
    in ``kept`` with the record's own (well-formed) values, and ``fields``."""
    own = typed(record) if kept else {}
    return Case(
        id,
        write(record),
        key_of(record) if key is KEEN_ID else key,
        RAW,
        why,
        staging=PARSED,
        fields={"attempt_id": record["keen_id"], **{k: own[k] for k in kept}, **fields},
        violates=violates,
    )


def parse_error(
    id: str, record: dict[str, Any], error: str, why: str, write: Writer = compact
) -> Case:
    return Case(id, write(record), key_of(record), RAW, why, staging=PARSE_ERROR, parse_error=error)


def with_extra(raw: bytes) -> Writer:
    """Writes the record's compact JSON with ``"extra": <raw>`` appended."""
    return lambda record: compact(record)[:-1] + b',"extra":' + raw + b"}"


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


# --- the corpus -----------------------------------------------------------------------

_base = attempt()
_reused = attempt(exam_name="Reused keen_id, different content")
_reused["keen_id"] = _base["keen_id"]
_json_text = compact(_base).decode()

CASES: tuple[Case, ...] = (
    # .. well-formed, as a reference and for the duplicates ...............................
    parsed(
        "baseline",
        _base,
        "a generated attempt as the publisher sends it: every typed column as in the export",
        **typed(_base),
    ),
    Case(
        "exact-duplicate",
        compact(_base),
        key_of(_base),
        RAW,
        "the export repeats attempts byte for byte: staging keeps the earliest offset",
        staging=DUPLICATE,
        duplicate_of="baseline",
    ),
    Case(
        "reused-keen-id-other-content",
        compact(_reused),
        key_of(_reused),
        RAW,
        "a keen_id seen before with different content: one attempt per keen_id, the "
        "earliest offset wins and copies_in_raw counts every copy",
        staging=DUPLICATE,
        duplicate_of="baseline",
    ),
    # .. not a message the lander can read .................................................
    quarantined(
        "tombstone-null-value",
        None,
        "empty message (null value)",
        "a Kafka tombstone has no value at all",
        key=b"5a329b9ebd107d05deadbeef",
    ),
    quarantined("empty-value", b"", "empty message", "zero bytes hold no attempt"),
    quarantined("whitespace-only", b" \r\n\t ", "empty message", "only JSON whitespace"),
    quarantined(
        "nul-bytes-only",
        b"\x00\x00\x00",
        "not JSON",
        "NUL bytes are valid UTF-8 but not JSON (and not whitespace)",
    ),
    quarantined("invalid-json", b"attempt 5a329b9e: done", "not JSON", "plain text"),
    quarantined(
        "truncated-json",
        compact(attempt())[:700],
        "not JSON",
        "a record cut off mid-way (a producer that split a buffer)",
        key=b"truncated",
    ),
    quarantined(
        "python-repr-not-json",
        repr(attempt()).encode(),
        "not JSON",
        "str(dict) instead of json.dumps: single quotes, True/False/None",
    ),
    quarantined(
        "trailing-comma",
        compact(attempt())[:-1] + b",}",
        "not JSON",
        "JSON forbids a trailing comma",
    ),
    quarantined(
        "two-objects-in-one-message",
        compact(attempt()) + b"\n" + compact(attempt()),
        "not JSON",
        "two JSON Lines records in one message: one message is one attempt, so neither "
        "is guessed at",
    ),
    quarantined("json-null", b"null", "JSON null, not an object", "valid JSON, not an attempt"),
    quarantined(
        "json-array-of-the-attempt",
        b"[" + compact(attempt()) + b"]",
        "JSON list, not an object",
        "the export's array layout sent as one message",
    ),
    quarantined("json-number", b"42", "JSON int, not an object", "a number"),
    quarantined("json-float", b"1516717442.735266", "JSON float, not an object", "a number"),
    quarantined("json-boolean", b"true", "JSON bool, not an object", "a boolean"),
    quarantined(
        "json-string-holding-the-attempt",
        json.dumps(_json_text).encode(),
        "JSON str, not an object",
        "an attempt encoded twice: a JSON string whose text is the object",
    ),
    # .. encodings .........................................................................
    quarantined(
        "latin-1-exam-name",
        raw_json(attempt(exam_name="<<name>>"), name='"Caf\xe9 Fundamentals"'.encode("latin-1")),
        "not UTF-8",
        "a Latin-1 byte (0xE9) is not UTF-8; the exact bytes are kept in payload_base64",
    ),
    quarantined(
        "utf-16-with-bom",
        _json_text.encode("utf-16"),
        "not UTF-8",
        "UTF-16 starts with 0xFF 0xFE, which UTF-8 never has",
    ),
    quarantined(
        "utf-16-without-bom",
        _json_text.encode("utf-16-le"),
        "not JSON",
        "UTF-16LE of ASCII decodes as UTF-8 (with NULs), but it is not JSON",
    ),
    quarantined(
        "utf-8-bom",
        b"\xef\xbb\xbf" + compact(attempt()),
        "byte order mark",
        "RFC 8259: senders must not add a BOM; the lander does not guess, and the "
        "exact bytes stay in the quarantine",
    ),
    quarantined(
        "encoded-surrogate-bytes",
        raw_json(attempt(exam_name="<<name>>"), name=b'"\xed\xa0\x80"'),
        "not UTF-8",
        "a surrogate encoded as bytes (CESU-8) is not UTF-8",
    ),
    quarantined(
        "gzip-compressed-attempt",
        gzip.compress(compact(attempt()), mtime=0),
        "not UTF-8",
        "a compressed payload the consumer was not told about",
    ),
    quarantined(
        "lone-surrogate-escape",
        raw_json(attempt(exam_name="<<name>>"), name=b'"\\ud800 Fundamentals"'),
        "surrogate",
        "an escape of half a surrogate pair is valid JSON syntax but names no character "
        "and has no UTF-8 form; Spark would stage it as '?', so it stays in the "
        "quarantine with its exact bytes",
    ),
    # .. control characters ................................................................
    quarantined(
        "raw-control-character-in-string",
        raw_json(attempt(exam_name="<<name>>"), name=b'"Learning\x01Git"'),
        "control character",
        "JSON strings must escape U+0000-U+001F",
    ),
    quarantined(
        "raw-tab-in-string",
        raw_json(attempt(exam_name="<<name>>"), name=b'"Learning\tGit"'),
        "control character",
        "a literal tab is a control character too (a TSV habit)",
    ),
    parsed(
        "escaped-control-characters",
        attempt(exam_name="tab\there\nnul\x00 bell\x07 del\x7f"),
        "escaped control characters (and a raw DEL, which JSON allows) are valid JSON "
        "and reach staging exactly",
        kept=("exam_name",),
    ),
    # .. size and depth ....................................................................
    quarantined(
        "message-5-mib",
        padded(attempt(), 5 * 1024 * 1024),
        "message of 5,242,880 bytes exceeds the 1,048,576-byte limit",
        "larger than the lander's default --max-message-bytes (1 MiB)",
    ),
    quarantined(
        "message-one-byte-over-the-limit",
        padded(attempt(), MAX_BYTES + 1),
        "exceeds the 1,048,576-byte limit",
        "the limit is inclusive: one byte more is too large",
    ),
    parsed(
        "message-exactly-at-the-limit",
        attempt(),
        "exactly --max-message-bytes is allowed; the unknown padding field is ignored",
        write=lambda record: padded(record, MAX_BYTES),
        kept=("exam_name",),
    ),
    parsed(
        "long-exam-name",
        attempt(exam_name="Normal Forms " * 8000),
        "a 104,000-character string is well within every limit",
        kept=("exam_name",),
    ),
    quarantined(
        "nesting-10000-deep",
        with_extra(nested(10_000))(attempt()),
        "depth limit exceeded",
        "nested far deeper than any attempt: the lander's JSON parser stops at 1,024 "
        "levels and the message is kept in the quarantine",
    ),
    parse_error(
        "nesting-1010-deep-in-an-unknown-field",
        attempt(),
        UNPARSEABLE,
        "deep enough for Spark's JSON parser (1,000 levels) to give up but within the "
        "lander's (1,024): landed, then listed as a parse error, not dropped",
        write=with_extra(nested(1010)),
    ),
    # .. numbers JSON does not have, and numbers too large .................................
    quarantined(
        "nan",
        raw_json(attempt(max_attempts="<<n>>"), n=b"NaN"),
        "not JSON",
        "NaN is not JSON (Python's json writes it by default)",
    ),
    quarantined(
        "infinity",
        raw_json(attempt(max_attempts="<<n>>"), n=b"-Infinity"),
        "not JSON",
        "Infinity is not JSON either",
    ),
    quarantined(
        "number-beyond-double",
        raw_json(attempt(max_attempts="<<n>>"), n=b"1e400"),
        "number is infinity",
        "valid JSON syntax, but no double holds it; the lander does not turn it into infinity",
    ),
    parsed(
        "huge-integer-in-an-unknown-field",
        attempt(extra=123456789012345678901234567890),
        "an integer beyond 64 bits is valid JSON; an unknown field is ignored",
        kept=("exam_name",),
    ),
    parsed(
        "huge-integer-max-attempts",
        attempt(max_attempts=10**20),
        "max_attempts is a string field: Spark keeps the number's text, staging casts it",
        max_attempts=1e20,
    ),
    parse_error(
        "huge-integer-attempt-number",
        attempt(**{"sequences.attempt": 10**20}),
        WRONG_TYPE,
        "sequences.attempt is an int: a value beyond 32 bits does not fit",
    ),
    parse_error(
        "counts-total-just-over-int",
        attempt(**{"sequences.counts.total": 2**31}),
        WRONG_TYPE,
        "2,147,483,648 is one more than an int holds",
    ),
    # .. keen_id ...........................................................................
    quarantined(
        "missing-keen-id",
        compact(attempt(keen_id=DROP)),
        "no keen_id",
        "without keen_id there is no attempt to deduplicate or key",
    ),
    quarantined("keen-id-null", compact(attempt(keen_id=None)), "no keen_id", "null"),
    quarantined("keen-id-empty", compact(attempt(keen_id="")), "no keen_id", "empty string"),
    quarantined(
        "keen-id-number",
        compact(attempt(keen_id=1516717442)),
        "no keen_id",
        "a number is not an id string (Spark would read it as the text '1516717442')",
    ),
    quarantined(
        "keen-id-object",
        compact(attempt(keen_id={"$oid": "5a329b9ebd107d0573c15cea"})),
        "no keen_id",
        "MongoDB extended JSON: an object, not the id string",
    ),
    quarantined(
        "keen-id-wrong-case",
        compact({("KEEN_ID" if k == "keen_id" else k): v for k, v in attempt().items()}),
        "no keen_id",
        "field names are case-sensitive in JSON and in the schema",
    ),
    quarantined("empty-object", b"{}", "no keen_id", "an object with nothing in it"),
    quarantined(
        "duplicate-keen-id-key-last-is-null",
        compact(attempt())[:-1] + b',"keen_id":null}',
        "no keen_id",
        "with duplicate keys the last one counts (as in Spark), and it is null",
    ),
    parsed(
        "duplicate-keen-id-key-last-wins",
        attempt(),
        "the lander and Spark both take the last of duplicate keys, so they agree on the keen_id",
        write=lambda record: b'{"keen_id":"decoy-not-this-one",' + compact(record)[1:],
    ),
    parsed(
        "keen-id-whitespace",
        attempt(keen_id=" "),
        "a non-empty string passes the lander's check; staging keeps it as it is",
        kept=("exam_name",),
    ),
    parsed(
        "keen-id-sql-injection",
        attempt(keen_id="'); drop table x; --"),
        "values never become SQL text (partition values are parameters)",
        kept=("exam_name",),
    ),
    # .. keys ..............................................................................
    parsed(
        "no-key",
        attempt(),
        "a message without a key lands; staging keys on keen_id, not the Kafka key",
        key=None,
        kept=("exam_name",),
    ),
    parsed(
        "key-differs-from-keen-id",
        attempt(),
        "the Kafka key is metadata; the attempt is identified by its keen_id",
        key=b"some-other-key",
        kept=("exam_name",),
    ),
    parsed(
        "key-not-utf8",
        attempt(),
        "a key that is not UTF-8 lands with replacement characters in kafka_key",
        key=b"\xff\xfe not UTF-8",
        kept=("exam_name",),
    ),
    # .. strings ...........................................................................
    parsed(
        "non-ascii-exam-name",
        attempt(exam_name="Prüfung: Grundlagen — 試験 🎓"),
        "UTF-8 text (accents, CJK, an emoji beyond the BMP) reaches staging exactly",
        kept=("exam_name",),
    ),
    parsed(
        "escaped-non-ascii-exam-name",
        attempt(exam_name="Caf\u00e9 \U0001f393"),
        "\\u escapes (a surrogate pair for the emoji) decode to the same text",
        write=lambda record: json.dumps(record, separators=(",", ":")).encode(),
        kept=("exam_name",),
    ),
    parsed(
        "unicode-line-separators",
        attempt(exam_name="Line\u2028Paragraph\u2029End"),
        "U+2028/U+2029 are not line breaks for JSON Lines or Spark's reader",
        kept=("exam_name",),
    ),
    parsed(
        "sql-injection-exam-name",
        attempt(exam_name="'); drop table x; --"),
        "an exam name is data, never SQL",
        kept=("exam_name",),
    ),
    parsed(
        "template-placeholders-exam-name",
        attempt(exam_name="%(d0)s ${hiveconf:x} {{ var('raw_schema') }} %s"),
        "placeholders of PyHive, Hive and Jinja stay text",
        kept=("exam_name",),
    ),
    parsed(
        "pretty-printed",
        attempt(),
        "newlines and indentation between tokens are JSON whitespace; the landed row "
        "escapes them, so it is still one JSON Lines row",
        write=lambda record: json.dumps(record, indent=2).encode(),
        kept=("exam_name",),
    ),
    parsed(
        "leading-and-trailing-whitespace",
        attempt(),
        "whitespace around the object is allowed",
        write=lambda record: b"\n  " + compact(record) + b"\r\n",
        kept=("exam_name",),
    ),
    parsed(
        "duplicate-exam-name-key",
        attempt(exam_name="Second Wins"),
        "duplicate keys: the last one counts",
        write=lambda record: b'{"exam_name":"First Loses",' + compact(record)[1:],
        exam_name="Second Wins",
    ),
    parsed(
        "unknown-extra-fields",
        attempt(
            user_id="u-1",
            tags=["a", {"b": [1, 2]}],
            **{"sequences.extra": {"x": 1}, "sequences.questions.0.hint": "none"},
        ),
        "fields outside the schema are ignored, wherever they are",
        kept=("exam_name", "question_count", "counts_total"),
    ),
    # .. wrong types for the known fields ..................................................
    parsed(
        "keen-timestamp-as-number",
        attempt(keen_timestamp=float(BASE["keen_timestamp"])),
        "a string field takes a number as its text ('1.513266078575815E9'); the "
        "decimal cast reads it to the microsecond",
        submitted_at=epoch(BASE["keen_timestamp"]),
    ),
    parsed(
        "certification-as-boolean",
        attempt(certification=True),
        "JSON true in the string field is the text 'true', which staging maps to true",
        is_certification=True,
    ),
    parsed(
        "certification-uppercase",
        attempt(certification="TRUE"),
        "staging compares certification case-insensitively",
        is_certification=True,
    ),
    parsed(
        "certification-null",
        attempt(certification=None),
        "the export's own quirk: null stays null",
        is_certification=None,
    ),
    parsed(
        "certification-as-number",
        attempt(certification=1),
        "the text '1' is neither 'true' nor 'false': staging's mapping gives null, the "
        "same as the export's null (a lost value)",
        is_certification=None,
    ),
    parsed(
        "max-attempts-as-number",
        attempt(max_attempts=2),
        "a number in the string field is its text '2', cast to 2.0",
        max_attempts=2.0,
    ),
    parsed(
        "max-attempts-as-object",
        attempt(max_attempts={"allowed": 1}),
        "the object's JSON text does not cast to a double: staging's cast gives null (a "
        "lost value)",
        max_attempts=None,
    ),
    parsed(
        "max-attempts-not-a-number",
        attempt(max_attempts="unlimited"),
        "a string that is not a number casts to null",
        max_attempts=None,
    ),
    parse_error(
        "sequences-as-string",
        attempt(sequences="see attached"),
        WRONG_TYPE,
        "sequences is a struct: a string does not fit",
    ),
    parse_error(
        "sequences-as-array",
        attempt(sequences=[BASE["sequences"]]),
        WRONG_TYPE,
        "sequences is a struct, not an array of them",
    ),
    parse_error(
        "questions-as-object",
        attempt(**{"sequences.questions": {"0": BASE["sequences"]["questions"][0]}}),
        WRONG_TYPE,
        "questions is an array: an object keyed by position does not fit",
    ),
    parse_error(
        "attempt-number-as-string",
        attempt(**{"sequences.attempt": "1"}),
        WRONG_TYPE,
        "sequences.attempt is an int: the schema does not read numbers from strings",
    ),
    parse_error(
        "attempt-number-as-float",
        attempt(**{"sequences.attempt": 1.5}),
        WRONG_TYPE,
        "sequences.attempt is an int: a fraction does not fit",
    ),
    parse_error(
        "counts-as-array",
        attempt(**{"sequences.counts": [1, 2, 3]}),
        WRONG_TYPE,
        "counts is a struct",
    ),
    parse_error(
        "user-correct-as-string",
        attempt(**{"sequences.questions.0.user_correct": "true"}),
        WRONG_TYPE,
        "user_correct is a boolean: the string 'true' does not fit (the export's strings "
        "are only at the top level)",
    ),
    parse_error(
        "option-checked-as-number",
        attempt(**{"sequences.questions.1.options.2.checked": 1}),
        WRONG_TYPE,
        "a wrong type three levels down still makes the payload a parse error",
    ),
    parsed(
        "options-null",
        attempt(**{"sequences.questions.0.options": None}),
        "null fits any field: the question keeps its place with no options",
        question_count=len(BASE["sequences"]["questions"]),
    ),
    parsed(
        "questions-empty",
        attempt(**{"sequences.questions": []}),
        "an empty array is zero questions",
        question_count=0,
    ),
    # .. missing fields ....................................................................
    parsed(
        "missing-keen-timestamp",
        attempt(keen_timestamp=DROP),
        "landed and staged with a null submitted_at, which not_null reports",
        violates=(NOT_NULL_SUBMITTED_AT,),
        submitted_at=None,
    ),
    parsed(
        "missing-base-exam-id",
        attempt(base_exam_id=DROP),
        "staged without an exam: not_null on base_exam_id (and on is_test_record, "
        "derived from it) reports it",
        violates=(NOT_NULL_BASE_EXAM_ID, NOT_NULL_IS_TEST_RECORD),
        base_exam_id=None,
        is_test_record=None,
    ),
    parsed(
        "missing-exam-name",
        attempt(exam_name=DROP),
        "a missing name is null",
        exam_name=None,
    ),
    parsed(
        "missing-sequences",
        attempt(sequences=DROP),
        "no questions and no counts: both unknown (null), not zero",
        question_count=None,
        has_counts=False,
        counts_total=None,
    ),
    parsed(
        "missing-counts",
        attempt(**{"sequences.counts": DROP}),
        "like the export's test records: counts absent",
        has_counts=False,
        counts_total=None,
        question_count=len(BASE["sequences"]["questions"]),
    ),
    # .. malformed timestamps ..............................................................
    parsed(
        "keen-timestamp-not-a-number",
        attempt(keen_timestamp="yesterday"),
        "does not cast: submitted_at is null, which not_null reports",
        violates=(NOT_NULL_SUBMITTED_AT,),
        submitted_at=None,
    ),
    parsed(
        "keen-timestamp-iso-string",
        attempt(keen_timestamp="2018-01-23T14:24:02.735Z"),
        "an ISO string where epoch seconds belong does not cast: reported by not_null",
        violates=(NOT_NULL_SUBMITTED_AT,),
        submitted_at=None,
    ),
    parsed(
        "keen-timestamp-nanoseconds",
        attempt(keen_timestamp="1516717442.123456789"),
        "nine decimals round half up to the microsecond",
        submitted_at=epoch("1516717442.123456789"),
    ),
    parsed(
        "started-at-impossible-date",
        attempt(started_at="2018-13-45T99:00:00.000Z"),
        "month 13 does not cast: started_at is null (no test requires it)",
        started_at=None,
    ),
    parsed(
        "started-at-without-zone",
        attempt(started_at="2018-01-23T14:23:19.082"),
        "no zone: read as UTC, the session time zone",
        started_at=iso("2018-01-23T14:23:19.082+00:00"),
    ),
)

BY_ID: dict[str, Case] = {case.id: case for case in CASES}


# --- bad files: what `edtrack publish` does with a whole input --------------------------


@dataclass(frozen=True)
class FileCase:
    """An input file for `edtrack publish` and every outcome it must have."""

    id: str
    content: bytes
    exit_code: int
    says: str  # a fragment of what the command prints (stderr or stdout)
    published: int  # messages it puts on the topic
    rejected: int  # lines of the rejects file (0: no rejects file)
    why: str
    args: tuple[str, ...] = ()


def _jsonl(records: list[dict[str, Any]]) -> bytes:
    return b"".join(compact(r) + b"\n" for r in records)


def _garbage(size: int) -> bytes:
    """Bytes that are no JSON and no UTF-8, in lines (no line starts a JSON value)."""
    line = bytes(range(128, 256)) + b" \x00\x01 not json"
    return b"\n".join(line for _ in range(size // len(line))) + b"\n"


_GOOD = [attempt() for _ in range(5)]
BIG = 50 * 1024 * 1024

FILE_CASES: tuple[FileCase, ...] = (
    FileCase("empty", b"", 2, "is empty", 0, 0, "an empty export is a failed export"),
    FileCase("blank-lines", b"\n  \n\n", 2, "is empty", 0, 0, "whitespace only: no record"),
    FileCase(
        "garbage-bytes",
        _garbage(4096),
        2,
        "None of the 29 record(s)",
        0,
        29,
        "not one record is an object: an error, with every line kept in the rejects file",
    ),
    FileCase(
        "wrapper-object-one-line",
        compact({"exported": "2018-01-28", "attempts": _GOOD}),
        2,
        "publish them with --path attempts",
        0,
        0,
        "one message for the whole wrapper would be quarantined later for lacking keen_id",
    ),
    FileCase(
        "wrapper-object-pretty",
        json.dumps({"exported": "2018-01-28", "attempts": _GOOD}, indent=2).encode(),
        2,
        "'attempts' (5 elements)",
        0,
        0,
        "a pretty-printed object is not JSON Lines: its arrays are named",
    ),
    FileCase(
        "wrapper-object-with-path",
        compact({"exported": "2018-01-28", "attempts": _GOOD}),
        0,
        "published 5 of 5 records",
        5,
        0,
        "--path picks the array of records",
        args=("--path", "attempts"),
    ),
    FileCase(
        "truncated-array",
        (b"[" + b",".join(compact(r) for r in _GOOD))[:-40],
        2,
        "4 record(s) before it were sent",
        4,
        0,
        "the records before the break are sent, and the sentence says so and how to go on",
    ),
    FileCase(
        "50mb-line-of-non-json",
        _jsonl(_GOOD[:2]) + b"x" * BIG + b"\n" + _jsonl(_GOOD[2:]),
        0,
        "1 record(s) rejected",
        5,
        1,
        "a huge bad line is rejected with its bytes; the good records around it are sent",
    ),
    FileCase(
        "50mb-record",
        _jsonl(_GOOD[:2]) + padded(attempt(), BIG) + b"\n" + _jsonl(_GOOD[2:]),
        0,
        "1 record(s) rejected",
        5,
        1,
        "a record over the broker's message limit is rejected, not failed at delivery",
    ),
)
FILE_CASES_BY_ID: dict[str, FileCase] = {case.id: case for case in FILE_CASES}

"""Read attempt records from an export file, streamed.

Accepted layouts, detected from the bytes (not the file name): the published export
(one JSON array, possibly a single multi-MB line), JSON Lines, and gzip of either;
``-`` reads standard input. An array inside a JSON object is read with ``array_path``
(``{"attempts": [...]}``: ``attempts``); a JSON object without it is an error that
names its arrays. Memory stays bounded by the largest single record.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import ijson
import orjson

from core.errors import UserError

GZIP_MAGIC = b"\x1f\x8b"
BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class InputRecord:
    """One element of the input: a parsed object, or why it is not one."""

    index: int  # 0-based position among the input's records
    value: Any = None
    error: str | None = None
    raw: bytes | None = None  # the offending bytes, for the rejects file

    @property
    def ok(self) -> bool:
        return self.error is None


class InputBroken(UserError):
    """The input stops being valid JSON after ``index`` records."""

    def __init__(self, message: str, index: int) -> None:
        super().__init__(message)
        self.index = index


class Input:
    """An opened input; ``bytes_read`` follows the underlying (compressed) file."""

    def __init__(self, path: str | Path, array_path: str | None = None) -> None:
        self.name = "-" if str(path) == "-" else str(path)
        self.array_path = array_path
        if self.name == "-":
            self._raw: BinaryIO = sys.stdin.buffer
            self.size: int | None = None
        else:
            p = Path(path)
            if not p.is_file():
                raise UserError(f"Input file {p} does not exist or is not a file; check the path.")
            self._raw = open(p, "rb")  # noqa: SIM115 - closed by close()
            self.size = os.path.getsize(p)
        buffered = io.BufferedReader(self._raw) if not hasattr(self._raw, "peek") else self._raw
        if buffered.peek(2)[:2] == GZIP_MAGIC:
            self.stream: BinaryIO = io.BufferedReader(gzip.GzipFile(fileobj=buffered))  # type: ignore[arg-type]
        else:
            self.stream = buffered  # type: ignore[assignment]
        self.layout = self._detect_layout()

    def _detect_layout(self) -> str:
        if self.stream.peek(3)[:3] == BOM:
            self.stream.read(3)
        head = self.stream.peek(64 * 1024).lstrip(b" \t\r\n")
        if not head:
            return "empty"
        if self.array_path is not None or head[:1] == b"[":
            return "array"
        # One JSON object over several lines (pretty-printed), not JSON Lines: its first
        # line opens something ("{", '{"attempts": [') where a JSON Lines record closes.
        first_line, newline, _ = head.partition(b"\n")
        if head[:1] == b"{" and newline and first_line.rstrip()[-1:] in (b"{", b"[", b",", b":"):
            return "object"
        return "jsonl"

    @property
    def bytes_read(self) -> int:
        try:
            return self._raw.tell()
        except (OSError, ValueError):
            return 0

    def records(self) -> Iterator[InputRecord]:
        if self.layout == "array":
            yield from self._array_records()
        elif self.layout == "object":
            raise UserError(self._describe_object())
        elif self.layout == "jsonl":
            yield from self._jsonl_records()

    def _array_records(self) -> Iterator[InputRecord]:
        index = 0
        prefix = f"{self.array_path}.item" if self.array_path else "item"
        try:
            for value in ijson.items(self.stream, prefix, use_float=True):
                if isinstance(value, dict):
                    yield InputRecord(index, value)
                else:
                    yield InputRecord(
                        index,
                        error=f"array element is a {_type_name(value)}, not an object",
                        raw=json.dumps(value).encode(),
                    )
                index += 1
        except ijson.JSONError as exc:
            reason = str(exc).strip().splitlines()[0].strip() if str(exc).strip() else "truncated"
            raise InputBroken(
                f"{self.name} is not valid JSON after record {index} ({reason}).", index
            ) from None
        if index == 0 and self.array_path:
            raise UserError(f"{self.name} has no array of records at {self.array_path!r}.")

    def _describe_object(self) -> str:
        """One sentence on a JSON object given as input: its arrays, to pick with --path."""
        arrays: dict[str, int] = {}
        try:
            for prefix, event, _ in ijson.parse(self.stream):
                if event == "start_array" and "." not in prefix and prefix:
                    arrays[prefix] = 0
                elif event in ("start_map", "string", "number", "boolean", "null"):
                    owner = prefix.removesuffix(".item")
                    if prefix.endswith(".item") and owner in arrays:
                        arrays[owner] += 1
        except ijson.JSONError:
            return f"{self.name} starts like a JSON object but is not valid JSON; check the file."
        if not arrays:
            return f"{self.name} is one JSON object, not records: export the attempts array."
        listed = ", ".join(f"{key!r} ({n:,} elements)" for key, n in arrays.items())
        best = max(arrays, key=arrays.__getitem__)
        return (
            f"{self.name} is one JSON object, not an array of records or JSON Lines; its "
            f"arrays: {listed}. Publish one with --path {best}."
        )

    def _jsonl_records(self) -> Iterator[InputRecord]:
        index = 0
        for raw_line in self.stream:
            line = raw_line.strip()
            if not line:
                continue
            try:
                value = _loads(line)
            except ValueError as exc:
                yield InputRecord(index, error=f"line is not valid JSON ({exc})", raw=line)
                index += 1
                continue
            if isinstance(value, dict):
                yield InputRecord(index, value)
            else:
                yield InputRecord(
                    index, error=f"line holds a {_type_name(value)}, not an object", raw=line
                )
            index += 1

    def close(self) -> None:
        if self._raw is not sys.stdin.buffer:
            self._raw.close()

    def __enter__(self) -> Input:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# 19 digits in a row may be an integer beyond 64 bits, which orjson would turn into a
# float, silently changing the record: such lines go to the standard parser. Digits are
# mapped to "9" and everything else to " " first (bytes.translate and `in` run in C; a
# regular expression costs more than the parse it saves).
_DIGITS_AS_NINES = bytes(0x39 if 0x30 <= i <= 0x39 else 0x20 for i in range(256))
_LONG_DIGIT_RUN = b"9" * 19


def _loads(line: bytes) -> Any:
    """Parse one JSON Lines line: orjson (fast) unless it could change the value; the
    standard parser for those lines and for lines orjson rejects (its messages)."""
    if _LONG_DIGIT_RUN not in line.translate(_DIGITS_AS_NINES):
        try:
            return orjson.loads(line)
        except orjson.JSONDecodeError:
            pass
    return json.loads(line, parse_constant=_reject_constant)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "boolean", int: "number", float: "number", str: "string", list: "array"}.get(
        type(value), type(value).__name__
    )


def compact(value: dict[str, Any]) -> bytes:
    """The record's compact JSON (UTF-8, key order kept)."""
    try:
        return orjson.dumps(value)
    except TypeError:  # integers beyond 64 bits, or a lone surrogate ("\ud800")
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        try:
            return text.encode()
        except UnicodeEncodeError:  # a lone surrogate has no UTF-8: keep it escaped
            return json.dumps(value, separators=(",", ":")).encode()

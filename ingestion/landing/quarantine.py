"""Which messages land in the raw table and which in the quarantine, and why: the
quarantine's rules."""

from __future__ import annotations

import orjson

RAW = "raw"
QUARANTINE = "quarantine"


def classify(value: bytes | None, max_bytes: int) -> tuple[str | None, str | None]:
    """Decide where a message goes: ``(payload_text, None)`` or ``(None, error)``."""
    if value is None:
        return None, "empty message (null value)"
    if len(value) > max_bytes:
        return None, f"message of {len(value):,} bytes exceeds the {max_bytes:,}-byte limit"
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, f"not UTF-8 ({exc.reason} at byte {exc.start})"
    if not text.strip():
        return None, "empty message"
    try:
        parsed = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        return None, f"not JSON ({exc})"
    if not isinstance(parsed, dict):
        kind = "null" if parsed is None else type(parsed).__name__
        return None, f"JSON {kind}, not an object"
    keen_id = parsed.get("keen_id")
    if not isinstance(keen_id, str) or not keen_id:
        return None, "no keen_id (missing, empty or not a string)"
    return text, None

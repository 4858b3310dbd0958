"""Bad export files through `edtrack publish` against the real broker: every outcome
said in one sentence, the exit code to match, and nothing lost (what is not sent is in
the rejects file with its exact bytes). The cases are in tests/reliability/corpus.py
(FILE_CASES); each publishes to its own topic."""

from __future__ import annotations

import base64
import json

import pytest

from ingestion.source import compact
from ingestion.topic import read_topic
from tests.reliability.corpus import _GOOD, FILE_CASES, FILE_CASES_BY_ID


def on_topic(cli, topic: str) -> list[tuple[int, bytes]]:
    """(record_index, value) of every message on ``topic``."""
    return sorted(
        (int(dict(m.headers)["record_index"]), m.value)
        for m in read_topic(cli.config.kafka_bootstrap, topic)
    )


def sentences(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.strip()]


@pytest.mark.parametrize("case", FILE_CASES, ids=[c.id for c in FILE_CASES])
def test_every_bad_file_has_its_outcome_said(cli, tmp_path, case):
    path = tmp_path / f"{case.id}.json"
    path.write_bytes(case.content)
    topic = f"file-case-{case.id}"
    result = cli.run("publish", "--topic", topic, *case.args, str(path), check=False)
    assert result.returncode == case.exit_code, result.stderr[-2000:]
    assert case.says in result.stdout + result.stderr, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    if case.exit_code:
        assert len(sentences(result)) <= 2, result.stderr  # the sentence (+ the summary)
    assert len(on_topic(cli, topic)) == case.published
    rejects = sorted(tmp_path.glob(f"{case.id}.json.rejects*.jsonl"))
    if not case.rejected:
        assert rejects == []
        return
    (reject_file,) = rejects
    assert str(reject_file) in result.stdout + result.stderr  # its path is printed
    lines = [json.loads(line) for line in reject_file.read_text().splitlines()]
    assert len(lines) == case.rejected
    kept = [
        base64.b64decode(line["raw_base64"]) if "raw_base64" in line else line["raw"].encode()
        for line in lines
    ]
    source_lines = [line.strip() for line in case.content.splitlines() if line.strip()]
    for line, raw in zip(lines, kept, strict=True):
        assert raw == source_lines[line["index"]], line["error"]  # the exact bytes


def test_a_truncated_file_then_whole_with_resume_lands_every_record_once(cli, tmp_path):
    truncated = FILE_CASES_BY_ID["truncated-array"]
    path = tmp_path / "export.json"
    path.write_bytes(truncated.content)
    topic = "file-case-resume-after-truncation"
    assert cli.run("publish", "--topic", topic, str(path), check=False).returncode == 2
    path.write_bytes(b"[" + b",".join(compact(r) for r in _GOOD) + b"]")
    result = cli.run("publish", "--topic", topic, "--resume", str(path))
    assert "resume: 4 records" in result.stderr
    assert [value for _, value in on_topic(cli, topic)] == [compact(r) for r in _GOOD]


def test_resume_refuses_another_file_under_the_same_name(cli, tmp_path):
    topic = "file-case-same-name"
    path = tmp_path / "export.jsonl"
    path.write_bytes(b"".join(compact(r) + b"\n" for r in _GOOD[:3]))
    cli.run("publish", "--topic", topic, str(path))
    path.write_bytes(b"".join(compact(r) + b"\n" for r in _GOOD[3:]))  # today's, same name
    result = cli.run("publish", "--topic", topic, "--resume", str(path), check=False)
    assert result.returncode == 2
    assert "is not the file published" in result.stderr
    assert len(sentences(result)) == 1, result.stderr
    assert len(on_topic(cli, topic)) == 3  # nothing skipped silently, nothing sent

"""The ingestion profile's attribution of cProfile entries to stages, and its table."""

from __future__ import annotations

import cProfile
from pathlib import Path

import orjson
import pytest

from bench import profile_ingest as prof
from core.project import PROJECT_ROOT


@pytest.mark.parametrize(
    ("filename", "function", "stage"),
    [
        (str(PROJECT_ROOT / "ingestion/publish.py"), "_send", "edtrack"),
        (str(PROJECT_ROOT / "core/sql.py"), "run", "edtrack"),
        ("/x/site-packages/kafka/producer/kafka.py", "send", "kafka-python"),
        ("/x/site-packages/hdfs_native/__init__.py", "create", "hdfs"),
        ("/usr/lib/python3.11/json/decoder.py", "decode", "json"),
        ("/usr/lib/python3.11/hashlib.py", "new", "hashing"),
        ("~", "<built-in method orjson.loads>", "json"),
        ("~", "<built-in method _blake2.blake2b>", "hashing"),
        ("~", "<built-in method crc32c.crc32c>", "kafka-python"),
        ("~", "<method 'acquire' of '_thread.lock' objects>", "other"),
        (str(PROJECT_ROOT / "bench/suite.py"), "main", "other"),
    ],
)
def test_each_entry_goes_to_the_stage_of_its_module(filename, function, stage):
    assert prof.stage_of(filename, function) == stage


def test_the_stages_add_up_to_the_profile_and_edtrack_is_its_own_stage():
    from ingestion.landing.envelope import iso_ms

    profile = cProfile.Profile()
    profile.enable()
    for i in range(2000):
        iso_ms(1_500_000_000_000 + i)
        orjson.loads(b'{"a": 1}')
    profile.disable()
    stages = prof.by_stage(profile)
    assert set(stages) == set(prof.STAGES)
    assert stages["edtrack"] > 0 and stages["json"] > 0
    assert stages["kafka-python"] == 0 and stages["hdfs"] == 0


def test_the_decoding_floor_decodes_every_value(tmp_path: Path):
    data = tmp_path / "values.jsonl"
    data.write_bytes(
        b"".join(orjson.dumps({"keen_id": str(i), "x": "y" * 50}) + b"\n" for i in range(1200))
    )
    floor = prof.decoding_floor_us(data, limit=1000)
    assert 0 < floor < 10_000


def test_the_table_has_a_row_per_stage_and_the_process_line():
    stages = dict.fromkeys(prof.STAGES, 1.0)
    command = {
        "wall_s": 2.0,
        "process_cpu_us_per_message": 9.5,
        "main_thread_cpu_us_per_message": 6.0,
        "main_thread_us_per_message": stages,
    }
    text = prof.render({"count": 10, "decoding_floor_us": 3.2, "publish": command, "land": command})
    assert "3.2 µs" in text
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    assert len(rows) == 1 + len(prof.STAGES) + 3
    assert "| main thread | 6.0 | 6.0 |" in text
    assert "| whole process (all threads) | 9.5 | 9.5 |" in text

"""Peer of the whole pipeline: the seed's approach, one Spark batch job.

Run by ``bench/suite.py`` with spark-submit (``local[2]``, Spark's Kafka source). It reads
the whole topic with ``spark.read.format("kafka")``, parses each value with ``from_json``
and the project's own payload schema (passed as a DDL string, so no inference pass),
writes the attempts as parquet to HDFS registered in the Hive metastore
(``seed_batch.attempts``), and answers one client question from it (the most taken
exams). No deduplication, no typing, no quarantine, no tests: that is the point of
comparison. Prints one JSON line: rows written and the answer's row count.

    spark-submit ... seed_batch.py BOOTSTRAP TOPIC SCHEMA_FILE
"""

import json
import sys
import time
from pathlib import Path

from pyspark.sql import SparkSession
from pyspark.sql import functions as F


def main() -> None:
    bootstrap, topic, schema_file = sys.argv[1:4]
    schema = Path(schema_file).read_text()
    started = time.monotonic()
    spark = SparkSession.builder.appName("bench-seed-batch").enableHiveSupport().getOrCreate()
    raw = (
        spark.read.format("kafka")
        .option("kafka.bootstrap.servers", bootstrap)
        .option("subscribe", topic)
        .option("startingOffsets", "earliest")
        .option("endingOffsets", "latest")
        .load()
    )
    attempts = raw.select(
        F.from_json(F.col("value").cast("string"), schema).alias("a"),
        F.col("timestamp").alias("kafka_timestamp"),
    ).select("a.*", "kafka_timestamp")
    spark.sql("create database if not exists seed_batch")
    attempts.write.mode("overwrite").format("parquet").saveAsTable("seed_batch.attempts")
    answer = spark.sql(
        "select base_exam_id, max(exam_name) as exam_name, "
        "count(distinct keen_id) as distinct_attempts from seed_batch.attempts "
        "group by base_exam_id order by distinct_attempts desc limit 10"
    ).collect()
    rows = spark.table("seed_batch.attempts").count()
    print(
        json.dumps(
            {
                "rows": rows,
                "answer_rows": len(answer),
                "job_s": round(time.monotonic() - started, 2),
            }
        ),
        flush=True,
    )
    spark.stop()


if __name__ == "__main__":
    main()

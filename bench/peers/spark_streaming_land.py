"""Peer of ``edtrack land``: Spark Structured Streaming, Kafka topic to JSON files on HDFS.

Run by ``bench/suite.py`` with spark-submit (``local[2]``, Spark's Kafka source from
``stack/maven/spark-kafka.pom.xml``). One ``trigger(availableNow=True)`` run reads the
topic from the earliest offsets, writes each message as one JSON line carrying the same
envelope facts the lander keeps (topic, partition, offset, Kafka timestamp, key, payload)
and checkpoints on HDFS, then stops. Prints one JSON line: the rows it processed.

    spark-submit ... spark_streaming_land.py BOOTSTRAP TOPIC OUTPUT_DIR CHECKPOINT_DIR
"""

import json
import sys
import time

from pyspark.sql import SparkSession


def main() -> None:
    bootstrap, topic, output, checkpoint = sys.argv[1:5]
    started = time.monotonic()
    spark = SparkSession.builder.appName("bench-spark-streaming-land").getOrCreate()
    session_s = time.monotonic() - started
    messages = (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", bootstrap)
        .option("subscribe", topic)
        .option("startingOffsets", "earliest")
        .load()
        .selectExpr(
            "topic",
            "partition",
            "offset",
            "timestamp",
            "cast(key as string) as key",
            "cast(value as string) as payload",
        )
    )
    query = (
        messages.writeStream.format("json")
        .option("path", output)
        .option("checkpointLocation", checkpoint)
        .trigger(availableNow=True)
        .start()
    )
    query.awaitTermination()
    progress = query.recentProgress
    print(
        json.dumps(
            {
                "rows": sum(p["numInputRows"] for p in progress),
                "micro_batches": len(progress),
                "session_start_s": round(session_s, 2),
                "stream_s": round(time.monotonic() - started - session_s, 2),
            }
        ),
        flush=True,
    )
    spark.stop()


if __name__ == "__main__":
    main()

"""A second Spark application (a batch job, not the Thrift Server) on the stack's metastore.

Usage: python spark_batch.py METASTORE_URI HDFS_URL STATEMENT...
Runs each statement in one local Spark session with Hive support pointed at the given
metastore service, and prints the rows of the last one as a JSON list of lists.
"""

from __future__ import annotations

import json
import sys


def main(metastore_uri: str, hdfs_url: str, statements: list[str]) -> None:
    from pyspark.sql import SparkSession

    spark = (
        SparkSession.builder.master("local[1]")
        .appName("edtrack-batch-check")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.sql.catalogImplementation", "hive")
        .config("spark.hadoop.hive.metastore.uris", metastore_uri)
        .config("spark.hadoop.fs.defaultFS", hdfs_url)
        .config("spark.sql.warehouse.dir", f"{hdfs_url}/warehouse")
        .config("spark.sql.shuffle.partitions", "1")
        .enableHiveSupport()
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    try:
        rows = []
        for statement in statements:
            rows = spark.sql(statement).collect()
        print(json.dumps([list(row) for row in rows], default=str))
    finally:
        spark.stop()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3:])

"""Landing: Kafka messages on HDFS as JSON Lines, exactly once (see ``lander``)."""

"""The topic publish writes and the lander reads: its name, and the largest message
either side accepts."""

DEFAULT_TOPIC = "assessment-attempts"
# The largest message, by default, for every side: the publisher rejects larger records,
# the lander quarantines larger messages, and Kafka's own default (message.max.bytes)
# is 1 MiB plus a batch header. EDTRACK_MAX_MESSAGE_BYTES changes it for both commands.
MAX_MESSAGE_BYTES = 1024 * 1024
MAX_MESSAGE_BYTES_ENV = "EDTRACK_MAX_MESSAGE_BYTES"

"""The init container: wait for the broker, create the topic, exit 0. Idempotent."""

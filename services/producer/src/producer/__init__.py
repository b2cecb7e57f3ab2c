"""The producer: fake payment transactions to Kafka, one every PRODUCER_INTERVAL_S seconds."""

"""The consumer: batches from Kafka through a pipeline, offsets committed by hand."""

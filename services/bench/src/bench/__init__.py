"""`make bench`: what size- and time-based batching cost, beside Kafka's own perf tools."""

"""librdkafka configurations for the playground's clients, built in one place."""

from __future__ import annotations

import logging
from typing import Any

from playground.settings import KafkaSettings

# Any, not str|int|...: librdkafka settings also take Python objects (the logger, callbacks).
ClientConfig = dict[str, Any]


def _config(kafka: KafkaSettings, client_id: str, specific: ClientConfig) -> ClientConfig:
    """Our settings for one kind of client; KAFKA_CLIENT_* passthrough settings win over them."""
    return {
        "bootstrap.servers": kafka.bootstrap_servers,
        "client.id": client_id,
        # librdkafka's own log lines go through Python logging, in the service's format.
        "logger": logging.getLogger("librdkafka"),
        **specific,
        **kafka.client_config,
    }


def producer_config(kafka: KafkaSettings, client_id: str) -> ClientConfig:
    return _config(
        kafka,
        client_id,
        {
            # No duplicates or reordering from retries; implies acks=all.
            "enable.idempotence": True,
            # The Java client's partitioner: the same key lands on the same partition whichever
            # client produced it (librdkafka's default, consistent_random, hashes differently).
            "partitioner": "murmur2_random",
        },
    )


def transactional_producer_config(
    kafka: KafkaSettings, client_id: str, transactional_id: str
) -> ClientConfig:
    """A producer whose writes, and a consumer's offsets, commit or abort together.

    `transactional_id` must stay the same across restarts of one consumer instance: the new
    instance's init_transactions() then fences the old one (a zombie) and aborts its open
    transaction."""
    config = producer_config(kafka, client_id)
    config["transactional.id"] = transactional_id
    return config


def consumer_config(
    kafka: KafkaSettings,
    client_id: str,
    group_id: str,
    *,
    protocol: str = "classic",
    assignment_strategy: str | None = "range",
    instance_id: str | None = None,
    session_timeout_ms: int | None = None,
    max_poll_interval_ms: int | None = None,
    isolation_level: str | None = None,
) -> ClientConfig:
    optional = {
        # librdkafka's default is read_committed already; exactly-once says so explicitly.
        "isolation.level": isolation_level,
        "partition.assignment.strategy": assignment_strategy,
        "group.instance.id": instance_id,
        "session.timeout.ms": session_timeout_ms,
        "max.poll.interval.ms": max_poll_interval_ms,
    }
    return _config(
        kafka,
        client_id,
        {
            "group.id": group_id,
            "group.protocol": protocol,
            **{name: value for name, value in optional.items() if value is not None},
            # Offsets are committed by hand, after the pipeline has processed a batch.
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": "earliest",
        },
    )


def share_consumer_config(
    kafka: KafkaSettings, client_id: str, group_id: str, *, max_poll_records: int
) -> ClientConfig:
    return _config(
        kafka,
        client_id,
        {
            "group.id": group_id,
            # Every record acknowledged by hand, as the pipeline decides (accept, release, reject).
            "share.acknowledgement.mode": "explicit",
            "max.poll.records": max_poll_records,
        },
    )


def admin_config(kafka: KafkaSettings, client_id: str) -> ClientConfig:
    return _config(kafka, client_id, {})

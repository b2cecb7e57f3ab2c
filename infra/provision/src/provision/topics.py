"""Create the playground's topic, or check the one that exists."""

from __future__ import annotations

import logging
import time

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic  # admin re-exports it, but its stubs do not say so

log = logging.getLogger("provision")


class TopicMismatch(Exception):
    """The topic exists with another partition count: we do not change it behind your back."""


def wait_for_broker(admin: AdminClient, deadline_s: float) -> None:
    """Return once the cluster answers a metadata request; raise after `deadline_s`."""
    give_up = time.monotonic() + deadline_s
    while True:
        try:
            admin.list_topics(timeout=5)
            return
        except KafkaException as exc:
            if time.monotonic() >= give_up:
                raise TimeoutError(f"no answer from Kafka after {deadline_s:g} s: {exc}") from None
            log.info("Waiting for Kafka...", extra={"event": "waiting_for_broker"})
            time.sleep(1)


def ensure_topic(admin: AdminClient, name: str, partitions: int, replication_factor: int) -> bool:
    """Create `name` unless it exists; return True when it was created.

    Raises TopicMismatch when it exists with another partition count.
    """
    future = admin.create_topics(
        [NewTopic(name, num_partitions=partitions, replication_factor=replication_factor)],
        operation_timeout=30,
    )[name]
    try:
        future.result()
    except KafkaException as exc:
        if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
            raise
    else:
        log.info(
            "✅ Created topic %s (%d partitions, replication factor %d)",
            name,
            partitions,
            replication_factor,
            extra={
                "event": "topic_created",
                "topic": name,
                "partitions": partitions,
                "replication_factor": replication_factor,
            },
        )
        return True
    existing = len(admin.list_topics(name, timeout=10).topics[name].partitions)
    if existing != partitions:
        raise TopicMismatch(
            f"topic {name!r} exists with {existing} partitions, not {partitions}: set "
            f"TOPIC_PARTITIONS={existing}, or delete the topic (docker compose down -v) "
            "and provision again"
        )
    log.info(
        "Topic %s already exists with %d partitions: nothing to do",
        name,
        existing,
        extra={"event": "topic_exists", "topic": name, "partitions": existing},
    )
    return False

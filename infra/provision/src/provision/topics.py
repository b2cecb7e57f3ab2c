"""Create the playground's topic, or check the one that exists."""

from __future__ import annotations

import logging
import time

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic  # admin re-exports it, but its stubs do not say so

from playground.groups import configure_share_group as set_share_group_configs

log = logging.getLogger("provision")


class TopicMismatch(Exception):
    """The topic exists with another partition count: we do not change it behind your back."""


def wait_for_brokers(admin: AdminClient, brokers: int, deadline_s: float) -> None:
    """Return once the cluster answers a metadata request and names at least `brokers` brokers
    (those registered with the controller and not fenced); raise after `deadline_s`."""
    give_up = time.monotonic() + deadline_s
    while True:
        try:
            found = len(admin.list_topics(timeout=5).brokers)
            if found >= brokers:
                return
            problem = f"{found} of {brokers} brokers registered"
        except KafkaException as exc:
            problem = str(exc)
        if time.monotonic() >= give_up:
            raise TimeoutError(f"Kafka not ready after {deadline_s:g} s: {problem}")
        log.info("Waiting for Kafka... (%s)", problem, extra={"event": "waiting_for_broker"})
        time.sleep(1)


def ensure_topic(
    admin: AdminClient,
    name: str,
    partitions: int,
    replication_factor: int,
    min_insync_replicas: int | None = None,
) -> bool:
    """Create `name` unless it exists; return True when it was created.

    Raises TopicMismatch when it exists with another partition count.
    """
    config = (
        {} if min_insync_replicas is None else {"min.insync.replicas": f"{min_insync_replicas}"}
    )
    topic = NewTopic(
        name, num_partitions=partitions, replication_factor=replication_factor, config=config
    )
    future = admin.create_topics(
        [topic],
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


def configure_share_group(
    admin: AdminClient, group: str, lock_duration_ms: int, delivery_count_limit: int
) -> bool:
    """Give the share group its configs; return False (and warn) where the cluster refuses.

    A share group reads from the earliest offset (not the latest, Kafka's default, which would
    skip what was sent before its first member joined), locks a record for `lock_duration_ms`
    and gives up on it after `delivery_count_limit` deliveries. The group need not exist yet.
    A cluster without share groups (before Kafka 4.2) or with other bounds refuses: the other
    scenarios do not need them, so provision goes on.
    """
    try:
        set_share_group_configs(admin, group, lock_duration_ms, delivery_count_limit)
    except KafkaException as exc:
        log.warning(
            "⚠️ Share group %s not configured: %s",
            group,
            exc.args[0],
            extra={"event": "share_group_not_configured", "group": group, "error": str(exc)},
        )
        return False
    log.info(
        "✅ Share group %s: record lock %d ms, delivery count limit %d, from the earliest offset",
        group,
        lock_duration_ms,
        delivery_count_limit,
        extra={
            "event": "share_group_configured",
            "group": group,
            "record_lock_duration_ms": lock_duration_ms,
            "delivery_count_limit": delivery_count_limit,
        },
    )
    return True

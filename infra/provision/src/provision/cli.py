"""`provision`: wait for Kafka, create the topic; a second run changes nothing."""

from __future__ import annotations

import click
from confluent_kafka.admin import AdminClient

from playground import logs
from playground.cli import load_settings
from playground.kafka import admin_config
from playground.settings import processed_topic
from provision import settings
from provision.topics import TopicMismatch, configure_share_group, ensure_topic, wait_for_brokers


@click.command()
@click.option("--partitions", type=int, help="[env TOPIC_PARTITIONS, default 3]")
@click.option("--replication-factor", type=int, help="[env TOPIC_REPLICATION_FACTOR, default 1]")
def main(partitions: int | None, replication_factor: int | None) -> None:
    """Create the playground's topic, its dead-letter and its output topics if they do not exist."""
    config = load_settings(
        settings.read,
        {"TOPIC_PARTITIONS": partitions, "TOPIC_REPLICATION_FACTOR": replication_factor},
    )
    logs.configure(config.log, static={"service": "provision"})
    admin = AdminClient(admin_config(config.kafka, "provision"))
    try:
        # A topic with replication factor N needs N brokers: in a cluster that is still
        # starting, wait for all of them rather than fail to create it.
        wait_for_brokers(admin, config.replication_factor, config.wait_s)
        # The dead-letter and output topics mirror the main one, so a poison message or a
        # result keeps its partition: the consumer writes each to its input's partition number.
        topics = (
            config.kafka.topic,
            config.kafka.dead_letter_topic,
            processed_topic(config.kafka.topic),
        )
        for topic in topics:
            ensure_topic(
                admin,
                topic,
                config.partitions,
                config.replication_factor,
                config.min_insync_replicas,
            )
        configure_share_group(
            admin,
            config.share_group_id,
            config.share_record_lock_duration_ms,
            config.share_delivery_count_limit,
        )
    except (TimeoutError, TopicMismatch) as exc:
        raise click.ClickException(str(exc)) from None

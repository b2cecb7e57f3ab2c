"""`consumer`: one client of the playground (bravo, zulu, ...), in its consumer group."""

from __future__ import annotations

import logging
from dataclasses import replace

import click
from confluent_kafka import (
    Consumer,
    KafkaError,
    KafkaException,
    Producer,
    ShareConsumer,
    TopicPartition,
)

from consumer import settings, transactional
from consumer.checkpoint import CommitFailed
from consumer.deadletter import DeadLetterError, DeadLetters
from consumer.loop import ConsumerLoop
from consumer.output import Output, OutputError
from consumer.share import ShareLoop
from consumer.transactional import TransactionalLoop, TransactionFatal
from playground import logs, replica
from playground.cli import load_settings
from playground.kafka import consumer_config, producer_config, share_consumer_config
from playground.settings import processed_topic
from playground.shutdown import StopFlag

log = logging.getLogger("consumer")

# Each way a consumer stops for good, first match wins: its line and its event. It exits 1,
# committing nothing more.
STOPS: tuple[tuple[type[Exception], str, dict[str, str]], ...] = (
    (
        DeadLetterError,
        "🛑 %s: stopped without committing the batch",
        {"event": "dead_letter_failed"},
    ),
    (OutputError, "🛑 %s: stopped without committing the batch", {"event": "output_failed"}),
    (
        TransactionFatal,
        "🛑 Transaction failed for good (%s): stopped, committing nothing more",
        {"event": "transaction_fatal"},
    ),
    (CommitFailed, "🛑 %s: stopped, committing nothing more", {"event": "commit_fatal"}),
    (
        # A fatal consumer error: librdkafka cannot go on either.
        KafkaException,
        "🛑 Fatal Kafka error: %s: stopped, committing nothing more",
        {"event": "consumer_fatal"},
    ),
)
STOPS_FOR_GOOD = tuple(kind for kind, _, _ in STOPS)


@click.command()
@click.option("--client", help="Client name, also the client.id. [env CLIENT, default bravo]")
@click.option(
    "--group", "group_id", help="Consumer group id. [env GROUP_ID, default test_group_<client>]"
)
@click.option("--batch-size", type=int, help="Messages per batch. [env BATCH_SIZE, default 3]")
@click.option(
    "--batch-max-wait",
    "batch_max_wait_s",
    type=float,
    help="Seconds from a batch's first message until it is handed on anyway. "
    "[env BATCH_MAX_WAIT_S, default 5]",
)
@click.option(
    "--pipeline", help="Comma-separated steps. [env PIPELINE, default validate,enrich,score,log]"
)
def main(
    client: str | None,
    group_id: str | None,
    batch_size: int | None,
    batch_max_wait_s: float | None,
    pipeline: str | None,
) -> None:
    """Consume transactions in batches, run the pipeline, commit offsets by hand (or, in a share
    group, acknowledge each record)."""
    config = load_settings(
        settings.read,
        {
            "CLIENT": client,
            "GROUP_ID": group_id,
            "BATCH_SIZE": batch_size,
            "BATCH_MAX_WAIT_S": batch_max_wait_s,
            "PIPELINE": pipeline,
        },
    )
    # Replicas of one Compose service (--scale) share CLIENT: each adds its replica number.
    config = replace(config, client=replica.client_id(config.client, replica.own_number()))
    logs.configure(
        config.log,
        tag=logs.tag(config.client),
        static={"service": "consumer", "client": config.client, "group_id": config.group_id},
    )
    stop = StopFlag().install()

    def dead_letters() -> DeadLetters:
        return DeadLetters(
            Producer(producer_config(config.kafka, f"{config.client}-dlq")),
            config.kafka.dead_letter_topic,
            config.client,
            config.group_id,
            config.dlq_timeout_s,
        )

    try:
        if config.group_type == "share":
            share_consumer = ShareConsumer(
                share_consumer_config(
                    config.kafka, config.client, config.group_id, max_poll_records=config.batch_size
                )
            )
            ShareLoop(config, share_consumer, dead_letters(), stop).run()
            return
        loop: ConsumerLoop | None = None

        def on_commit(error: KafkaError | None, partitions: list[TopicPartition]) -> None:
            # librdkafka's answer to an asynchronous commit, run by consume(): the loop's.
            assert loop is not None
            loop.checkpoint.on_commit(error, partitions)

        consumer = Consumer(
            {
                **consumer_config(
                    config.kafka,
                    config.client,
                    config.group_id,
                    protocol=config.group_protocol,
                    assignment_strategy=config.assignment_strategy,
                    instance_id=config.group_instance_id,
                    session_timeout_ms=config.session_timeout_ms,
                    max_poll_interval_ms=config.max_poll_interval_ms,
                    isolation_level=(
                        transactional.ISOLATION_LEVEL if config.exactly_once else None
                    ),
                ),
                "on_commit": on_commit,
            }
        )
        if config.exactly_once:
            loop = TransactionalLoop(
                config, consumer, lambda: Producer(transactional.producer_config(config)), stop
            )
            loop.run()
        else:
            output = (
                Output(
                    Producer(producer_config(config.kafka, f"{config.client}-out")),
                    processed_topic(config.kafka.topic),
                    config.group_id,
                    config.dlq_timeout_s,
                )
                if config.write_output
                else None
            )
            loop = ConsumerLoop(config, consumer, dead_letters(), stop, output=output)
            loop.run()
    except STOPS_FOR_GOOD as exc:
        message, extra = next((m, e) for kind, m, e in STOPS if isinstance(exc, kind))
        # librdkafka's error is the KafkaException's argument; ours carry their own message.
        why = exc.args[0] if isinstance(exc, KafkaException) else exc
        log.error(message, why, extra={**extra, "error": str(why)})
        raise SystemExit(1) from None

"""`producer`: publish fake payment transactions until stopped (or until --count are sent)."""

from __future__ import annotations

import logging
import time

import click

from playground import logs
from playground.cli import load_settings
from playground.kafka import producer_config
from playground.shutdown import StopFlag
from playground.transaction import TransactionFactory
from producer import settings
from producer.publisher import Publisher, logs_each

log = logging.getLogger("producer")


@click.command(context_settings={"show_default": True})
@click.option(
    "--interval",
    "interval_s",
    type=float,
    default=None,
    help="Seconds between transactions; 0 sends as fast as Kafka takes them. "
    "[env PRODUCER_INTERVAL_S, default 2]",
)
@click.option(
    "--count",
    type=int,
    default=None,
    help="Stop after this many transactions. [env PRODUCER_COUNT, default: never]",
)
@click.option(
    "--seed",
    type=int,
    default=None,
    help="Seed Faker for a reproducible sequence. [env PRODUCER_SEED]",
)
def main(interval_s: float | None, count: int | None, seed: int | None) -> None:
    """Publish fake payment transactions to the playground's topic."""
    config = load_settings(
        settings.read,
        {"PRODUCER_INTERVAL_S": interval_s, "PRODUCER_COUNT": count, "PRODUCER_SEED": seed},
    )
    logs.configure(config.log, static={"service": "producer", "client": config.client_id})
    stop = StopFlag().install()
    make = TransactionFactory(config.seed)
    log.info(
        "Starting producer loop (interval: %ss, topic: %s)... Ctrl+C to stop",
        f"{config.interval_s:g}",
        config.kafka.topic,
        extra={
            "event": "producer_started",
            "interval_s": config.interval_s,
            "count": config.count,
            "topic": config.kafka.topic,
        },
    )
    cpu_started = time.process_time()  # every thread's: ours and librdkafka's
    with Publisher(
        producer_config(config.kafka, config.client_id),
        config.kafka.topic,
        log_each=logs_each(config.interval_s),
    ) as out:
        queued, due = 0, time.monotonic()
        while not stop.is_set() and (config.count is None or queued < config.count):
            out.send(make())
            queued += 1
            if config.interval_s:
                # A schedule, not a pause after each send: the time send() takes does not lower
                # the rate. Behind by over a second (the broker was away), it starts afresh
                # instead of bursting to catch up.
                due, now = due + config.interval_s, time.monotonic()
                if due < now - 1:
                    due = now
                out.serve(due - now, stop.is_set)
        left = out.flush()
    log.info(
        "🛑 Producer stopped: %d sent, %d failed",
        out.sent,
        out.failed + left,
        extra={
            "event": "producer_stopped",
            "sent": out.sent,
            "failed": out.failed + left,
            "cpu_s": round(time.process_time() - cpu_started, 3),
        },
    )
    if out.failed or left:
        raise SystemExit(1)

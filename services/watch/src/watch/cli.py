"""`playground-watch`: the consumer groups of the playground's topic, live or once."""

from __future__ import annotations

import json
import os
import time

import click
from confluent_kafka import KafkaException
from rich.console import Console
from rich.live import Live

from playground import host
from playground.cli import host_option
from playground.groups import TIMEOUT_S, Admin
from playground.kafka import admin_config
from playground.shutdown import StopFlag
from watch import timeline
from watch.broker import Broker
from watch.logsource import container_events
from watch.render import as_text, view
from watch.shares import ShareGroups, docker_client
from watch.watcher import Watcher


@click.command()
@host_option("KAFKA_BOOTSTRAP_SERVERS", "Broker to ask.")
@host_option("TOPIC")
@click.option(
    "--group",
    "groups",
    multiple=True,
    help="Show only this group (repeatable). Default: every group on the topic.",
)
@click.option(
    "--interval",
    type=click.FloatRange(min=0.1),
    default=1.0,
    show_default=True,
    help="Seconds between refreshes.",
)
@click.option("--once", is_flag=True, help="Print one snapshot (rates over one interval) and exit.")
@click.option("--json", "as_json", is_flag=True, help="With --once: JSON instead of text.")
@host_option(
    "COMPOSE_PROJECT_NAME",
    "Compose project whose consumer logs give the rebalance history "
    "(needs the Docker socket; skipped without it).",
)
def main(
    bootstrap_servers: str,
    topic: str,
    groups: tuple[str, ...],
    interval: float,
    once: bool,
    as_json: bool,
    project: str,
) -> None:
    """Watch the playground's consumer groups: members, partitions, lag and rebalances."""
    if as_json and not once:
        raise click.UsageError("--json goes with --once")
    kafka = host.kafka_settings(bootstrap_servers, topic)
    admin = Admin(admin_config(kafka, "playground-watch"))
    broker = Broker(admin, topic)
    try:
        partitions = [p.partition for p in broker.snapshot(groups).partitions]
        history = timeline.from_events(container_events(project) or [], partitions)
        watcher = Watcher(broker, groups, history, ShareGroups(admin, project, docker_client()))
        if once:
            _once(watcher, interval, as_json)
        else:
            _live(watcher, interval)
    except (KafkaException, TimeoutError) as exc:
        # No broker at all: librdkafka keeps trying, so the request's future times out.
        why = str(exc) or f"no answer within {TIMEOUT_S} s"
        raise click.ClickException(
            f"cannot read from Kafka at {bootstrap_servers}: {why}"
        ) from None


def _once(watcher: Watcher, interval: float, as_json: bool) -> None:
    watcher.step()
    time.sleep(interval)  # a second sample, so rates mean something
    snapshot = watcher.step()
    if as_json:
        click.echo(json.dumps(snapshot.to_json(), indent=2))
    else:
        width = int(os.environ.get("COLUMNS", "120"))
        click.echo(as_text(snapshot, width), nl=False)


def _live(watcher: Watcher, interval: float) -> None:
    stop = StopFlag().install()
    with Live(view(watcher.step()), console=Console(), refresh_per_second=4) as live:
        while not stop.is_set():
            deadline = time.monotonic() + interval
            while not stop.is_set() and time.monotonic() < deadline:
                time.sleep(0.1)
            live.update(view(watcher.step()))

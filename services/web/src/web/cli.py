"""`playground-web`: the live view of the consumer groups, served to the browser."""

from __future__ import annotations

import logging
import threading

import click
from confluent_kafka import Consumer
from confluent_kafka.admin import AdminClient

from playground import host
from playground.cli import host_option
from playground.groups import Admin
from playground.kafka import admin_config, consumer_config
from playground.shutdown import StopFlag
from watch.broker import Broker
from watch.logsource import container_events
from watch.shares import ShareGroups, docker_client
from web.feed import Feed
from web.ledger import LedgerRows
from web.server import Server

log = logging.getLogger("web")


@click.command()
@host_option("KAFKA_BOOTSTRAP_SERVERS", "Broker to ask.")
@host_option("TOPIC")
@host_option(
    "COMPOSE_PROJECT_NAME",
    "Compose project whose consumer logs give the rebalance history "
    "(needs the Docker socket; the page says so without it).",
)
@click.option(
    "--group",
    "groups",
    multiple=True,
    help="Show only this group (repeatable). Default: every group on the topic.",
)
@click.option(
    "--bind",
    envvar="WEB_BIND",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on (Compose: 0.0.0.0 in the container). [env WEB_BIND]",
)
@click.option(
    "--port",
    envvar="WEB_PORT",
    type=click.IntRange(1, 65535),
    default=8080,
    show_default=True,
    help="Port to listen on. [env WEB_PORT]",
)
@click.option(
    "--interval",
    type=click.FloatRange(min=0.1),
    default=1.0,
    show_default=True,
    help="Seconds between updates.",
)
def main(
    bootstrap_servers: str,
    topic: str,
    project: str,
    groups: tuple[str, ...],
    bind: str,
    port: int,
    interval: float,
) -> None:
    """Serve the playground's consumer groups as a live page: partitions, members, lag and
    rebalances."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    kafka = host.kafka_settings(bootstrap_servers, topic)
    config = admin_config(kafka, "playground-web")
    # assign() only: the group id is librdkafka's requirement, never joined or committed to.
    ledger = LedgerRows(
        lambda: Consumer(consumer_config(kafka, "playground-web", "playground-web-ledger")), topic
    )
    feed = Feed(
        connect=lambda: Broker(Admin(config), topic),
        groups=groups,
        history=lambda: container_events(project),
        interval=interval,
        where=bootstrap_servers,
        ledger=ledger.latest,
        shares=ShareGroups(AdminClient(config), project, docker_client()),
    )
    try:
        server = Server((bind, port), feed)
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {bind}:{port}: {exc.strerror}") from None
    threading.Thread(target=feed.run, name="feed", daemon=True).start()
    threading.Thread(target=server.serve_forever, name="http", daemon=True).start()
    log.info("Serving the playground's groups on http://%s:%d (topic %s)", bind, port, topic)
    flag = StopFlag().install()
    while not flag.wait(0.2):  # in short waits: the signal's handler runs between them
        pass
    feed.stop()
    server.shutdown()
    server.server_close()

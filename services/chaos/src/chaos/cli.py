"""`playground-chaos`: the fault drills against the playground that is up, then the ledger."""

from __future__ import annotations

from datetime import datetime

import click
import docker
from confluent_kafka import Consumer, KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]
from docker.errors import DockerException
from rich.console import Console
from rich.table import Table

from chaos.drills import FAULTS, Check, Drills, Report
from chaos.playground import Playground, PlaygroundError
from playground import host, ledgerfeed
from playground.cli import host_option
from playground.groups import Admin
from playground.host import TimedOut
from playground.kafka import ClientConfig, admin_config, consumer_config

# Wide enough for the ledger table even when the output is a pipe (80 columns by default).
console = Console(highlight=False, width=max(Console().width, 100))


@click.command()
@host_option("KAFKA_BOOTSTRAP_SERVERS", "The playground's broker, from the host.")
@host_option("TOPIC")
@host_option(
    "COMPOSE_PROJECT_NAME", "The playground's Compose project, whose containers the drills hurt."
)
@click.option(
    "--count",
    type=click.IntRange(min=1),
    default=10_000,
    show_default=True,
    help="Transactions the stream sends at least (it runs until the faults are over, too).",
)
@click.option(
    "--interval",
    type=click.FloatRange(min=0),
    default=0.003,
    show_default=True,
    help="Seconds between two transactions of the stream.",
)
@click.option(
    "--faults",
    type=click.Choice(FAULTS),
    help="consumers: kill -9, pause, broker restart, graceful restarts; brokers (three-broker "
    "cluster): kill -9 a partition's leader, then a group's coordinator, a rolling restart, "
    "a broker cut off the network, two of three brokers down; transactions: kill -9 a member of "
    "each group three times (an exactly-once one mid-transaction), a broker restart, then the "
    "output topic read back; share: kill -9 a share group's member three times, a broker "
    "restart, graceful restarts.  [default: share when only share group members run, else "
    "brokers on a cluster, else transactions if a consumer runs exactly-once, else consumers]",
)
def main(
    bootstrap_servers: str,
    topic: str,
    project: str,
    count: int,
    interval: float,
    faults: str | None,
) -> None:
    """Fault drills on the running playground: kill -9 a consumer three times, pause it past
    its session timeout, restart the broker, restart every consumer gracefully; all while a
    fast stream of transactions flows. Then print the ledger: lost must be 0, duplicates at
    most the batches in flight. Exit code 1 if a promise was broken.

    Follow it in another terminal with `docker compose logs -f`. Start the playground with
    SESSION_TIMEOUT_MS=6000 for quicker drills (the default session timeout is 45 s).
    """
    kafka = host.kafka_settings(bootstrap_servers, topic)
    try:
        client = docker.from_env()
    except DockerException as exc:
        raise click.ClickException(f"cannot reach Docker: {exc}") from None

    def connect() -> Admin:
        return Admin(admin_config(kafka, "playground-chaos"))

    def reader(isolation: str = "read_committed") -> Consumer:
        return Consumer(
            consumer_config(
                kafka,
                "playground-chaos-read-back",
                "playground-chaos",
                isolation_level=isolation,
            )
        )

    playground = Playground(project, client, topic, connect, reader)
    feed = LedgerFeed(admin_config(kafka, "playground-chaos-ledger"), topic)
    drills = Drills(playground, say=say, on_check=feed.check)
    try:
        report = drills.run(count, interval, faults)
    except (PlaygroundError, TimedOut) as exc:
        feed.done(None)
        raise click.ClickException(str(exc)) from None
    finally:
        client.close()
    feed.done(report)
    console.print(table(report))
    if report.outputs:
        console.print(outputs_table(report))
    if report.read_back is not None:
        console.print(f"Topic read back: {report.read_back}")
    for problem in report.problems:
        console.print(f"[red]✗ {problem}[/]")
    console.print("[green]All promises kept.[/]" if report.ok else "[red]Promises broken.[/]")
    raise SystemExit(0 if report.ok else 1)


class LedgerFeed:
    """Publishes each ledger row to `<topic>.ledger` as it is balanced, for the web page. Best
    effort: the drills' verdict never depends on it, and a failure is said once. Connects at
    the first row: a run that fails before any fault publishes nothing."""

    def __init__(self, config: ClientConfig, topic: str) -> None:
        self.config = config
        self.topic = ledgerfeed.topic_for(topic)
        self.run = datetime.now().astimezone().isoformat(timespec="seconds")
        self._producer: Producer | None = None
        self.failed = False

    @property
    def producer(self) -> Producer:
        if self._producer is None:
            # One partition keeps the rows in order; the broker's default replication factor.
            admin = AdminClient(self.config)
            created = admin.create_topics([NewTopic(self.topic, 1)], request_timeout=10)
            try:
                created[self.topic].result(timeout=15)
            except KafkaException as exc:
                if exc.args[0].name() != "TOPIC_ALREADY_EXISTS":
                    self._failed(str(exc))
            self._producer = Producer(self.config)
        return self._producer

    def check(self, check: Check) -> None:
        self.publish(check.row())

    def done(self, report: Report | None) -> None:
        if self._producer is None:
            return
        end: ledgerfeed.Row = {"done": True, "ok": report.ok if report else False}
        if report and report.read_back is not None:
            end["read_back"] = str(report.read_back)
        if report:
            end["problems"] = report.problems
        self.publish(end)
        if self.producer.flush(10):
            self._failed("rows still unsent after 10 s")

    def publish(self, row: ledgerfeed.Row) -> None:
        try:
            self.producer.produce(self.topic, ledgerfeed.encode({"run": self.run, **row}))
        except (BufferError, KafkaException) as exc:
            self._failed(str(exc))
        self.producer.poll(0)

    def _failed(self, why: str) -> None:
        if not self.failed:
            say(f"[yellow]the ledger's rows do not reach {self.topic} (the web page): {why}[/]")
        self.failed = True


def say(text: str) -> None:
    console.print(f"[dim]{datetime.now():%H:%M:%S}[/] {text}", soft_wrap=True)


def table(report: Report) -> Table:
    t = Table(title="Ledger: the stream's acknowledged transactions against batch_processed")
    t.add_column("fault", no_wrap=True)
    t.add_column("group", no_wrap=True)
    for name in ("messages", "lost", "new duplicates", "allowed", "recovered (s)", ""):
        t.add_column(name, justify="right")
    for c in report.checks:
        t.add_row(
            c.fault,
            c.group,
            str(c.ledger.sent),
            str(c.ledger.lost),
            str(c.new_duplicates),
            str(c.allowed),
            "" if c.recovery_s is None else f"{c.recovery_s:.1f}",
            "✓" if c.ok else "[red]✗[/]",
        )
    return t


def outputs_table(report: Report) -> Table:
    """The processing guarantees side by side: each group's outputs, read back read_committed."""
    t = Table(title="Output topic read back read_committed: each input's outputs, per group")
    t.add_column("group", no_wrap=True)
    t.add_column("guarantee", no_wrap=True)
    for name in ("inputs", "lost", "duplicates", "allowed", "aborted", ""):
        t.add_column(name, justify="right")
    for o in report.outputs:
        t.add_row(
            o.group,
            o.guarantee,
            str(o.ledger.sent),
            str(o.ledger.lost),
            str(o.ledger.duplicates),
            str(o.allowed),
            str(o.aborted),
            "✓" if o.ok else "[red]✗[/]",
        )
    return t

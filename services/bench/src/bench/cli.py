"""`playground-bench`: measure the batching trade-off on the playground's broker."""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import click
import docker
from docker.errors import DockerException
from rich.console import Console

from bench import cluster, eos, idle, measure, report, share
from bench.lab import Lab
from playground import host
from playground.cli import host_option
from playground.host import MissingContainer

console = Console(highlight=False, width=max(Console().width, 110))

# What a run measures, in order; `--only` picks some (the consumer reads what the producer wrote).
SECTIONS = (
    "producer",
    "consumer",
    "peers",
    "latency",
    "rebalance",
    "eos",
    "share",
    "idle",
    "cluster",
)


@click.command()
@host_option("KAFKA_BOOTSTRAP_SERVERS", "The playground's broker, from the host.")
@host_option("COMPOSE_PROJECT_NAME", "The Compose project whose broker, network and images to use.")
@host_option("APP_IMAGE", "The image our services run from (`make images` builds it).")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("docs/bench"),
    show_default=True,
    help="Where results.json and the plots go.",
)
@click.option(
    "--smoke", is_flag=True, help="A few thousand messages: proves it runs, measures nothing."
)
@click.option(
    "--messages",
    type=click.IntRange(min=100),
    help="Override the pre-filled topic's size (default 1,000,000).",
)
@click.option(
    "--only",
    "only",
    multiple=True,
    type=click.Choice(SECTIONS),
    help="Measure only these sections (repeatable): their figures go to partial.json, "
    "never to results.json or the docs, which hold one whole run.",
)
def main(
    bootstrap_servers: str,
    project: str,
    app_image: str,
    out: Path,
    smoke: bool,
    messages: int | None,
    only: tuple[str, ...],
) -> None:
    """Consumer and producer throughput, latency and rebalance times of the playground's own
    services, each beside Kafka's own tool on the same broker in the same run. Stop the
    playground's producer and consumers first: they would compete for the same 2 cores."""
    sizes = measure.SMOKE if smoke else measure.Sizes()
    if messages:
        sizes = measure.Sizes(**{**sizes.__dict__, "messages": messages})
    try:
        client = docker.from_env()
    except DockerException as exc:
        raise click.ClickException(f"cannot reach Docker: {exc}") from None
    # Bench topics are made per measurement: the settings' topic is never used.
    kafka = host.kafka_settings(bootstrap_servers, topic="")
    try:
        lab = Lab(client, project, kafka, app_image)
        kafka_image = lab.kafka.image.tags[0] if lab.kafka.image.tags else lab.kafka.image.id
    except MissingContainer as exc:
        raise click.ClickException(f"{exc} (make bench starts the broker)") from None
    started = time.monotonic()
    results: dict[str, Any] = {
        "started": datetime.now().astimezone().isoformat(timespec="seconds"),
        "smoke": smoke,
        "sizes": sizes.__dict__,
        "machine": report.machine(kafka_image),
    }
    wanted = set(only or SECTIONS)
    if wanted & {"consumer", "peers"}:
        wanted.add("producer")
    try:
        if "producer" in wanted:
            results["producer"] = measure.producer(lab, sizes, say)
        if "consumer" in wanted:
            results["consumer"] = measure.consumer(lab, sizes, results["producer"]["topic"], say)
        if "peers" in wanted:
            results["peers"] = measure.peers(lab, sizes, results["producer"]["topic"], say)
        if "latency" in wanted:
            results["latency"] = measure.latency(lab, sizes, say)
        if "rebalance" in wanted:
            results["rebalance"] = measure.rebalance(lab, sizes, say)
        if "eos" in wanted:
            results["eos"] = eos.eos(lab, sizes, say)
        if "share" in wanted:
            results["share"] = share.share(lab, sizes, say)
        if "idle" in wanted:
            results["idle"] = idle.idle(lab, sizes, say)
        if "cluster" in wanted:  # three brokers of its own beside this one
            results["cluster"] = cluster.cluster(lab, sizes, say)
    finally:
        lab.cleanup()
        client.close()
    if only:
        results["seconds"] = round(time.monotonic() - started)
        out.mkdir(parents=True, exist_ok=True)
        (out / "partial.json").write_text(json.dumps(results, indent=2) + "\n")
        console.print_json(data=results)
        console.print(f"partial results in {out}/partial.json ({results['seconds']} s)")
        return
    results["goals"] = report.goals(results)
    results["seconds"] = round(time.monotonic() - started)
    report.write(results, out)
    console.print(report.table(results))
    for g in results["goals"]:
        console.print(f"{'[green]✓' if g['met'] else '[red]✗'} {g['goal']}: {g['figure']}[/]")
    console.print(f"results and plots in {out}/ ({results['seconds']} s)")
    # The figures in the docs come from this run, never from a hand: docs/bench.md sits beside
    # docs/bench/. A run into another directory (the e2e smoke test's) has no document there.
    doc = out.parent / "bench.md"
    if doc.exists():
        try:
            report.update_doc(doc, results)
        except report.DocError as exc:
            raise click.ClickException(f"{doc}: {exc}") from None
        console.print(f"figures written to {doc}")


def say(text: str) -> None:
    console.print(f"[dim]{datetime.now():%H:%M:%S}[/] {text}", soft_wrap=True)

"""Throughput on three brokers beside one, in the same run: the topic at replication factor 3
with min.insync.replicas 2 (every write acknowledged by two brokers, acks=all) against
replication factor 1 on the single broker. The cluster is a Compose project of its own
(compose.cluster.yaml over compose.yaml), started for the measurement and removed after it,
so the playground's own broker is left as it was."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from bench import measure
from bench.lab import Lab
from bench.measure import Say, Sizes
from playground import host

BROKERS = ("kafka", "kafka-2", "kafka-3")
BATCH = 1000  # the consumer's batch size here: its best in the single-broker runs


def cluster(lab: Lab, sizes: Sizes, say: Say) -> dict[str, Any]:
    say("cluster: producer and consumer throughput on the single broker (RF 1)")
    single = _throughput(lab, sizes, say)
    project = f"{lab.project}-bench-cluster"
    say(f"cluster: starting three brokers in Compose project {project}")
    with three_brokers(project) as bootstrap:
        cluster_lab = Lab(
            lab.docker,
            project,
            host.kafka_settings(bootstrap, topic=""),
            lab.app_image,
            replication=3,
        )
        try:
            say("cluster: the same on three brokers (RF 3, min ISR 2, acks=all)")
            three = _throughput(cluster_lab, sizes, say)
        finally:
            cluster_lab.cleanup()
    return {
        "single": single,
        "cluster": three,
        "producer_ratio": three["producer"]["ours_msgs_s"] / single["producer"]["ours_msgs_s"],
        "consumer_ratio": three["consumer"]["msgs_s"] / single["consumer"]["msgs_s"],
    }


def _throughput(lab: Lab, sizes: Sizes, say: Say) -> dict[str, Any]:
    produced = measure.producer(lab, sizes, say)
    say(
        f"  producer {produced['ours_msgs_s']:,.0f} msgs/s "
        f"(kafka-producer-perf-test {produced['kafka_tool_msgs_s']:,.0f})"
    )
    consumed = measure.consume(lab, produced["topic"], BATCH, sizes)
    say(f"  consumer, batch size {BATCH}: {consumed['msgs_s']:,.0f} msgs/s")
    return {"replication_factor": lab.replication, "producer": produced, "consumer": consumed}


@contextmanager
def three_brokers(project: str) -> Iterator[str]:
    """A three-broker cluster in a Compose project of its own; its bootstrap from the host."""
    ports = [host.free_port() for _ in BROKERS]
    env = {
        **os.environ,
        "COMPOSE_PROJECT_NAME": project,
        "COMPOSE_FILE": "compose.yaml:compose.cluster.yaml",
        "KAFKA_HOST_PORT": str(ports[0]),
        "KAFKA_HOST_PORT_2": str(ports[1]),
        "KAFKA_HOST_PORT_3": str(ports[2]),
    }

    def compose(*args: str) -> None:
        subprocess.run(["docker", "compose", *args], env=env, check=True, capture_output=True)

    compose("down", "-v")
    try:
        compose("up", "-d", "--wait", *BROKERS)
        yield ",".join(f"localhost:{p}" for p in ports)
    finally:
        compose("down", "-v")

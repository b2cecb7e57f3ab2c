"""Where the benchmarks run: the playground's broker, its network and images, driven through
the Docker API. Our services run from the app image with the command `make play` runs; Kafka's
tools run from the broker's own image, on the same network."""

from __future__ import annotations

import os
import re
import time
from collections import Counter
from datetime import datetime
from functools import cached_property
from typing import Any

from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]
from docker.errors import ContainerError

from playground import host
from playground.host import Container, service_container
from playground.kafka import admin_config, consumer_config
from playground.records import Record
from playground.settings import KafkaSettings, processed_topic

INTERNAL_BOOTSTRAP = "kafka:19092"  # the broker as containers on the Compose network see it


class Lab:
    def __init__(
        self,
        docker: Any,
        project: str,
        kafka: KafkaSettings,
        app_image: str,
        replication: int = 1,  # the bench topics' replication factor (3: min ISR 2)
    ) -> None:
        self.docker = docker
        self.replication = replication
        self.project = project
        self.settings = kafka  # the broker from the host, with the services' client settings
        self.app_image = app_image
        self.run_id = time.strftime("%H%M%S")
        self._containers: list[Container] = []
        # Topics and containers asked for by name: a second one of a kind gets a suffix.
        self._names: Counter[tuple[str, str]] = Counter()
        self.kafka = service_container(docker, project, "kafka")  # MissingContainer if none

    @cached_property
    def admin(self) -> AdminClient:
        # One for the whole run: a client destroyed with a request in flight can hang.
        return AdminClient(admin_config(self.settings, "playground-bench"))

    @property
    def network(self) -> str:
        return str(next(iter(self.kafka.attrs["NetworkSettings"]["Networks"])))

    def _unique(self, kind: str, name: str) -> str:
        """`name`, suffixed -2, -3 ... when this kind of thing is asked for by that name again in
        this run (the cluster section measures the producer and consumer sections' way a second
        time)."""
        self._names[(kind, name)] += 1
        n = self._names[(kind, name)]
        return name if n == 1 else f"{name}-{n}"

    def topic(self, name: str, partitions: int = 3) -> str:
        """A new, empty topic for one measurement, with the output topic our consumers write
        their results to, as provision makes them."""
        topic = f"bench-{self.run_id}-{self._unique('topic', name)}"
        config = {"min.insync.replicas": "2"} if self.replication > 1 else {}
        made = [topic, processed_topic(topic)]
        futures = self.admin.create_topics(
            [NewTopic(t, partitions, self.replication, config=config) for t in made]
        )
        for t in made:
            futures[t].result(timeout=30)
        return topic

    def service(self, command: str, name: str, **env: object) -> Container:
        """One of our services (`producer`, `consumer`), as `make play` runs it, logging JSON."""
        environment = {
            **host.client_env_file(),  # as Compose passes every service kafka-client.env
            "KAFKA_BOOTSTRAP_SERVERS": INTERNAL_BOOTSTRAP,
            "LOG_FORMAT": "json",
            **{k: str(v) for k, v in env.items()},
        }
        container = self.docker.containers.run(
            self.app_image,
            command=[command],
            environment=environment,
            network=self.network,
            name=f"{self.project}-bench-{self._unique('container', name)}-{self.run_id}",
            detach=True,
        )
        self._containers.append(container)
        return container

    def tool(self, *command: str) -> str:
        """One of Kafka's own tools, from the broker's image; its output (stdout).

        Removed with its volumes: the image declares three (as apache/kafka does), and the
        SDK's `remove=True` leaves them behind, three more on the host for every run."""
        container = self.docker.containers.run(
            self.kafka.image.id,
            command=list(command),
            entrypoint=[],
            network=self.network,
            detach=True,
        )
        try:
            status = container.wait()["StatusCode"]
            out: bytes = container.logs(stdout=True, stderr=False)
            if status != 0:
                raise ContainerError(
                    container,
                    status,
                    command,
                    self.kafka.image.id,
                    container.logs(stdout=False, stderr=True),
                )
            return out.decode()
        finally:
            container.remove(v=True, force=True)

    def create_times(self, topic: str, count: int) -> dict[tuple[int, int], float]:
        """(partition, offset) -> the record's CreateTime (s), set by the producer at produce()."""
        consumer = Consumer(
            consumer_config(self.settings, "playground-bench", f"bench-read-{topic}")
        )
        partitions = consumer.list_topics(topic, timeout=30).topics[topic].partitions
        consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
        found: dict[tuple[int, int], float] = {}
        deadline = time.monotonic() + 60
        while len(found) < count and time.monotonic() < deadline:
            for m in consumer.consume(1000, 1.0):
                if m.error() is None:
                    found[(m.partition() or 0, m.offset() or 0)] = m.timestamp()[1] / 1000
        consumer.close()
        return found

    def cleanup(self) -> None:
        for c in self._containers:
            c.remove(force=True)
        self._containers.clear()


def cpu_seconds(container: Container) -> float:
    """The CPU time a running container has used so far (its cgroup's, as Docker reports it)."""
    stats = container.stats(stream=False, one_shot=True)
    return float(stats["cpu_stats"]["cpu_usage"]["total_usage"]) / 1e9


def load_average() -> float:
    """The machine's 1-minute load average: how much else wanted the cores meanwhile."""
    return round(os.getloadavg()[0], 2)


def seconds(record: Record) -> float:
    """The record's own timestamp (UTC, set by the service when it logged), as epoch seconds."""
    return datetime.fromisoformat(record["timestamp"]).timestamp()


def numbers(pattern: str, text: str) -> list[float]:
    """Every number `pattern` captures in a tool's output."""
    found = [float(n) for n in re.findall(pattern, text)]
    if not found:
        raise ValueError(f"no match for {pattern!r} in:\n{text[-2000:]}")
    return found

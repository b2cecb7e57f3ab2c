"""The running playground as the drills see it: containers through the Docker API, groups and
offsets through Kafka's admin API (never joining a group)."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from consumer.deadletter import header_list, text
from consumer.settings import ConsumerSettings
from consumer.settings import read as read_consumer_settings
from playground import groups, replica
from playground.groups import Admin, Group
from playground.host import Container, MissingContainer, environment, service_container
from playground.records import Position
from playground.settings import load, processed_topic
from playground.transaction import InvalidTransaction, Transaction

STREAM = "chaos-producer"
READ_BACK_S = 120


@dataclass(frozen=True)
class Replicas:
    """One partition as the cluster's metadata has it."""

    leader: int  # broker id; -1 while it has none
    replicas: tuple[int, ...]
    in_sync: tuple[int, ...]


class PlaygroundError(Exception):
    """The playground is not in a state the drills can run against."""


@dataclass(frozen=True)
class Member:
    """A running consumer container and the settings it runs with."""

    service: str
    container: Container
    settings: ConsumerSettings
    number: int | None = None  # which replica of its service (docker compose up --scale)

    @property
    def group(self) -> str:
        return self.settings.group_id

    @property
    def client(self) -> str:
        """Its client id, as the consumer derives it (playground.replica)."""
        return replica.client_id(self.settings.client, self.number)


class Playground:
    """One Compose project's containers and one broker's view of its topic and groups.
    No I/O here."""

    def __init__(
        self,
        project: str,
        docker: Any,
        topic: str,
        connect: Callable[[], Admin],
        reader: Callable[..., Consumer] | None = None,
    ) -> None:
        self.project = project
        self.docker = docker
        self.topic = topic
        self._connect = connect
        # A consumer that joins no group: reads the topic back. Called with an isolation level
        # ("read_committed", "read_uncommitted") to read the output topic.
        self._reader = reader
        self._admin: Admin | None = None
        self._retired: list[Admin] = []

    @property
    def admin(self) -> Admin:
        if self._admin is None:
            self._admin = self._connect()
        return self._admin

    def reconnect(self) -> None:
        """A new admin client: after a broker restart, librdkafka's old one never reaches the
        group coordinator again (its requests time out). The old one is kept, not destroyed:
        destroying a client with requests in flight can block."""
        if self._admin is not None:
            self._admin.close_readers()
            self._retired.append(self._admin)
        self._admin = None

    def container(self, service: str) -> Container:
        try:
            return service_container(self.docker, self.project, service)
        except MissingContainer as exc:
            raise PlaygroundError(
                f"{exc}: start the playground first (make up, or make up PROFILE=shared)"
            ) from None

    def members(self) -> list[Member]:
        """Every running consumer, read with the consumer's own settings rules."""
        running = self.docker.containers.list(
            filters={"label": f"com.docker.compose.project={self.project}", "status": "running"}
        )
        members = []
        for container in running:
            if container.attrs["Config"].get("Cmd") != ["consumer"]:
                continue
            service = container.labels.get("com.docker.compose.service", container.name)
            settings = load(read_consumer_settings, environment(container))
            number = replica.number(container.name)
            if number is not None and number > 1:  # a scaled service's replicas: one name each
                service = f"{service}-{number}"
            members.append(Member(service, container, settings, number))
        return sorted(members, key=lambda m: m.service)

    def groups(self, group_ids: tuple[str, ...]) -> dict[str, Group]:
        """Those of the groups that read the topic, as the broker has them now."""
        found = (groups.describe(self.admin, g, self.topic) for g in group_ids)
        return {g.group_id: g for g in found if g.reads_topic}

    def end_offsets(self) -> dict[int, int]:
        return groups.end_offsets(self.admin, self.topic)

    # ---- the brokers ----
    def brokers(self) -> dict[int, Container]:
        """broker id (KAFKA_NODE_ID) -> its container, for every broker of the project."""
        found = self.docker.containers.list(
            all=True, filters={"label": f"com.docker.compose.project={self.project}"}
        )
        return {
            int(env["KAFKA_NODE_ID"]): c
            for c in found
            if "KAFKA_NODE_ID" in (env := environment(c))
            and c.labels.get("com.docker.compose.oneoff") == "False"
        }

    def partitions(self) -> dict[int, Replicas]:
        """The topic's partitions: leader, replicas and in-sync replicas of each (metadata)."""
        topic = self.admin.list_topics(self.topic, timeout=10).topics[self.topic]
        return {
            p: Replicas(m.leader, tuple(m.replicas), tuple(m.isrs))
            for p, m in topic.partitions.items()
        }

    def network_of(self, container: Container) -> tuple[Any, list[str]]:
        """The container's (first) network and its aliases there, to reconnect it as it was:
        the other brokers find it by its Compose alias (kafka-2, ...)."""
        name, settings = next(iter(container.attrs["NetworkSettings"]["Networks"].items()))
        aliases = [a for a in settings.get("Aliases") or [] if a != container.id[:12]]
        return self.docker.networks.get(name), aliases

    def coordinator(self, group_id: str) -> int:
        """The id of the broker that coordinates the group."""
        found = self.admin.describe_consumer_groups([group_id], request_timeout=10)[group_id]
        return int(found.result(timeout=10).coordinator.id)

    def read_back(self, ends: dict[int, int]) -> dict[Position, str]:
        """(partition, offset) -> transaction id of every message below `ends`, read from
        Kafka itself: what the topic holds, not what anybody logged."""
        if self._reader is None:
            raise PlaygroundError("no reader to read the topic back with")
        consumer = self._reader()
        found: dict[Position, str] = {}
        left = {p for p, end in ends.items() if end > 0}
        consumer.assign([TopicPartition(self.topic, p, OFFSET_BEGINNING) for p in left])
        give_up = time.monotonic() + READ_BACK_S
        try:
            while left and time.monotonic() < give_up:
                for message in consumer.consume(1000, timeout=1):
                    if message.error():
                        continue
                    p, offset = message.partition() or 0, message.offset() or 0
                    try:
                        found[(p, offset)] = Transaction.from_json(message.value()).transaction_id
                    except InvalidTransaction:
                        found[(p, offset)] = ""
                    if offset >= ends[p] - 1:
                        left.discard(p)
        finally:
            consumer.close()
        return found

    # ---- the output topic (<TOPIC>.processed) ----
    def output_ends(self, committed_only: bool) -> dict[int, int]:
        """The output topic's high watermarks, or (`committed_only`) last stable offsets."""
        return groups.end_offsets(
            self.admin, processed_topic(self.topic), committed_only=committed_only
        )

    def open_transactions(self) -> dict[int, tuple[int, int]]:
        """The output topic's partitions with a transaction open: (stable offset, high)."""
        return groups.open_transactions(self.admin, processed_topic(self.topic))

    def read_outputs(self, isolation: str, ends: dict[int, int]) -> Counter[tuple[str, Position]]:
        """(group header, source position) -> how many output records below `ends` carry it,
        as a reader with `isolation` sees them (read_committed skips aborted transactions)."""
        if self._reader is None:
            raise PlaygroundError("no reader to read the output topic with")
        topic = processed_topic(self.topic)
        consumer = self._reader(isolation)
        found: Counter[tuple[str, Position]] = Counter()
        left = {p for p, end in ends.items() if end > 0}
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in left])
        give_up = time.monotonic() + READ_BACK_S
        try:
            while left and time.monotonic() < give_up:
                for message in consumer.consume(1000, timeout=1):
                    p, offset = message.partition() or 0, message.offset() or 0
                    if message.error() or offset >= ends[p]:
                        continue
                    headers = {k: text(v) for k, v in header_list(message.headers())}
                    if "group" in headers and "source" in headers:
                        part, at = headers["source"].split(":")
                        found[(headers["group"], (int(part), int(at)))] += 1
                # The position passes control records (commit and abort markers) too.
                for tp in consumer.position([TopicPartition(topic, p) for p in sorted(left)]):
                    if tp.offset >= ends[tp.partition]:
                        left.discard(tp.partition)
        finally:
            consumer.close()
        if left:
            raise PlaygroundError(f"output topic {topic} not read to its end in {READ_BACK_S} s")
        return found

    def start_stream(self, interval_s: float) -> Container:
        """A second producer, like the playground's but fast and endless, logging JSON.

        It is a copy of the running producer container (image, network, settings), so it
        reaches the broker exactly as the playground does.
        """
        template = self.container("producer")
        env = environment(template) | {
            "PRODUCER_INTERVAL_S": str(interval_s),
            "PRODUCER_COUNT": "",
            "PRODUCER_SEED": "",
            "LOG_FORMAT": "json",
        }
        name = f"{self.project}-{STREAM}"
        for old in self.docker.containers.list(all=True, filters={"name": f"^{name}$"}):
            old.remove(force=True)
        return self.docker.containers.run(
            template.image.id,
            command=["producer"],
            environment=env,
            network=next(iter(template.attrs["NetworkSettings"]["Networks"])),
            user=template.attrs["Config"].get("User") or None,
            name=name,
            detach=True,
        )

"""The running playground as the drills see it: containers through the Docker API, groups and
offsets through Kafka's admin API (never joining a group)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from confluent_kafka.admin import AdminClient

from consumer.settings import ConsumerSettings
from consumer.settings import read as read_consumer_settings
from playground import groups, replica
from playground.groups import Group
from playground.host import Container, MissingContainer, environment, service_container
from playground.settings import load

STREAM = "chaos-producer"


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
        self, project: str, docker: Any, topic: str, connect: Callable[[], AdminClient]
    ) -> None:
        self.project = project
        self.docker = docker
        self.topic = topic
        self._connect = connect
        self._admin: AdminClient | None = None
        self._retired: list[AdminClient] = []

    @property
    def admin(self) -> AdminClient:
        if self._admin is None:
            self._admin = self._connect()
        return self._admin

    def reconnect(self) -> None:
        """A new admin client: after a broker restart, librdkafka's old one never reaches the
        group coordinator again (its requests time out). The old one is kept, not destroyed:
        destroying a client with requests in flight can block."""
        if self._admin is not None:
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

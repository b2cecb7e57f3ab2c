"""The running playground as the drills see it: containers through the Docker API, groups and
offsets through Kafka's admin API (never joining a group)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from consumer.settings import ConsumerSettings
from consumer.settings import read as read_consumer_settings
from playground.settings import load
from watch.broker import Broker
from watch.logsource import environment
from watch.model import GroupView

Container = Any  # docker.models.containers.Container: the docker SDK ships no type hints
STREAM = "chaos-producer"


class PlaygroundError(Exception):
    """The playground is not in a state the drills can run against."""


@dataclass(frozen=True)
class Member:
    """A running consumer container and the settings it runs with."""

    service: str
    container: Container
    settings: ConsumerSettings

    @property
    def group(self) -> str:
        return self.settings.group_id

    @property
    def client(self) -> str:
        return self.settings.client


class Playground:
    """One Compose project's containers and one broker's view of its groups. No I/O here."""

    def __init__(self, project: str, docker: Any, connect: Callable[[], Broker]) -> None:
        self.project = project
        self.docker = docker
        self._connect = connect
        self._broker: Broker | None = None
        self._retired: list[Broker] = []

    @property
    def broker(self) -> Broker:
        if self._broker is None:
            self._broker = self._connect()
        return self._broker

    def reconnect(self) -> None:
        """A new admin client: after a broker restart, librdkafka's old one never reaches the
        group coordinator again (its requests time out). The old one is kept, not destroyed:
        destroying a client with requests in flight can block."""
        if self._broker is not None:
            self._retired.append(self._broker)
        self._broker = None

    def container(self, service: str) -> Container:
        found = self.docker.containers.list(
            all=True,
            filters={
                "label": [
                    f"com.docker.compose.project={self.project}",
                    f"com.docker.compose.service={service}",
                    "com.docker.compose.oneoff=False",
                ]
            },
        )
        if not found:
            raise PlaygroundError(
                f"no {service} container in Compose project {self.project!r}: "
                "start the playground first (make up, or make up PROFILE=shared)"
            )
        return found[0]

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
            members.append(Member(service, container, settings))
        return sorted(members, key=lambda m: m.service)

    def groups(self, groups: tuple[str, ...]) -> dict[str, GroupView]:
        """The groups as the broker has them now (members, committed and end offsets)."""
        views = {g.group_id: g for g in self.broker.snapshot(groups).groups}
        return {g: views[g] for g in groups if g in views}

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


class LogReader:
    """The lines a container logged since the last read: its log survives restarts, so this
    follows a consumer through kill -9 and start. Reading only what is new keeps a long
    drill from re-reading (and re-parsing) millions of lines."""

    def __init__(self, container: Container, since: datetime) -> None:
        self.container = container
        self._second = int(since.timestamp())  # Docker's `since` counts whole seconds
        self._seen: set[str] = set()  # stamped lines already read from that second

    def read(self) -> list[str]:
        raw = self.container.logs(timestamps=True, since=self._second, stdout=True, stderr=False)
        new: list[str] = []
        for stamped in raw.decode("utf-8", "replace").splitlines():
            if stamped in self._seen:
                continue
            stamp, _, line = stamped.partition(" ")
            second = int(
                datetime.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC).timestamp()
            )
            if second > self._second:
                self._second, self._seen = second, set()
            self._seen.add(stamped)
            new.append(line)
        return new

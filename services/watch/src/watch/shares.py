"""Share groups as far as the view can see them.

confluent-kafka 2.16.1's admin API has no call for share groups (no describe, no share-group
offsets), so the broker tells only each group's configs (lock duration, delivery count limit,
through describe_configs). Who the members are, which partitions each is handed records of and
how it acknowledged them comes from the members' own `record_acknowledged` log records, read
through the Docker API as they come. Records in flight, and what the broker archived, it cannot
show.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from confluent_kafka import KafkaException
from confluent_kafka.admin import (  # type: ignore[attr-defined]
    AdminClient,
    ConfigResource,
    ResourceType,
)

from playground import replica
from playground.groups import TIMEOUT_S
from playground.host import Container, LogReader, environment
from playground.records import Record, record
from watch.model import ShareGroupView, ShareMemberView

log = logging.getLogger("watch")
EPOCH = datetime.fromtimestamp(1, UTC)  # Docker's `since` must be positive


@dataclass
class Activity:
    """One member's acknowledgements, as its log has them."""

    group_id: str
    partitions: set[int] = field(default_factory=set)
    acks: Counter[str] = field(default_factory=Counter)
    redelivered: int = 0

    def add(self, r: Record) -> None:
        if r.get("event") != "record_acknowledged":
            return
        self.partitions.add(int(r["partition"]))
        self.acks[str(r["ack"])] += 1
        self.redelivered += int(r["delivery_count"]) > 1


def members(activity: dict[str, Activity]) -> dict[str, tuple[ShareMemberView, ...]]:
    """group id -> its members, by client id (pure: the unit tests feed it)."""
    found: dict[str, list[ShareMemberView]] = {}
    for client, a in sorted(activity.items()):
        found.setdefault(a.group_id, []).append(
            ShareMemberView(
                client,
                tuple(sorted(a.partitions)),
                a.acks["accept"],
                a.acks["release"],
                a.acks["reject"],
                a.redelivered,
            )
        )
    return {g: tuple(m) for g, m in found.items()}


def configs(admin: AdminClient, group_id: str) -> tuple[int | None, int | None]:
    """The share group's lock duration and delivery count limit; (None, None) if not told."""
    resource = ConfigResource(ResourceType.GROUP, group_id)
    try:
        entries = admin.describe_configs([resource], request_timeout=TIMEOUT_S)[resource].result(
            timeout=TIMEOUT_S
        )
    except KafkaException:
        return None, None

    def number(name: str) -> int | None:
        entry = entries.get(name)
        return int(entry.value) if entry is not None and entry.value is not None else None

    return number("share.record.lock.duration.ms"), number("share.delivery.count.limit")


def docker_client() -> object | None:
    """A Docker client for the share group members' logs, or None without Docker."""
    try:
        import docker
        from docker.errors import DockerException
    except ImportError:  # pragma: no cover - docker is a dependency
        return None
    try:
        client: object = docker.from_env()
    except DockerException:
        return None
    return client


class ShareGroups:
    """The share groups of a Compose project, read anew at each call (new log lines only)."""

    def __init__(self, admin: AdminClient, project: str, docker: object | None) -> None:
        self.admin = admin
        self.project = project
        self.docker = docker  # a docker SDK client, or None: then no share group is seen
        self._readers: dict[str, tuple[LogReader, str, str]] = {}  # id -> reader, client, group
        self._others: set[str] = set()  # ids of containers that are no share group's member
        self.activity: dict[str, Activity] = {}

    def __call__(self) -> tuple[ShareGroupView, ...]:
        for key, (reader, client, group) in self._members():
            a = self.activity.setdefault(client, Activity(group))
            try:
                lines = reader.read()
            except Exception as exc:  # the container went: its counts stay, its reader goes
                log.debug("no log of %s: %s", client, exc)
                del self._readers[key]
                continue
            for line in lines:
                if (r := record(line)) is not None:
                    a.add(r)
        found = members(self.activity)
        return tuple(ShareGroupView(g, *configs(self.admin, g), found[g]) for g in sorted(found))

    def _members(self) -> Iterable[tuple[str, tuple[LogReader, str, str]]]:
        if self.docker is None:
            return []
        try:
            # Sparse: one request for the ids, not one more per container to inspect it (the
            # web service asks every second: six requests a step, half its CPU, were this).
            running = self.docker.containers.list(  # type: ignore[attr-defined]
                sparse=True, filters={"label": f"com.docker.compose.project={self.project}"}
            )
            for c in running:
                self._follow(c)
        except Exception as exc:  # Docker gone: the view goes on without share members
            log.debug("no Docker: %s", exc)
            return []
        return list(self._readers.items())

    def _follow(self, container: Container) -> None:
        if container.id in self._readers or container.id in self._others:
            return
        container.reload()  # its configuration, once: a container's environment never changes
        env = environment(container)
        if env.get("GROUP_TYPE") != "share":
            self._others.add(container.id)
            return
        client = replica.client_id(
            env.get("CLIENT") or container.name, replica.number(container.name)
        )
        # Its whole log (it survives restarts), then what is new at each refresh.
        self._readers[container.id] = (LogReader(container, EPOCH), client, env["GROUP_ID"])

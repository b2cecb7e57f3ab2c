"""Consumer groups and offsets as the broker reports them, through the admin API.

What the live view, the drills and the e2e tests ask the broker; none of it joins a group.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from confluent_kafka import (
    Consumer,
    ConsumerGroupState,
    IsolationLevel,
    KafkaError,
    KafkaException,
    TopicPartition,
)
from confluent_kafka.admin import (  # type: ignore[attr-defined]
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    ConsumerGroupDescription,
    OffsetSpec,
    ResourceType,
)

from playground.kafka import ClientConfig

TIMEOUT_S = 10
# The errors of a group coordinator that moved, or is still loading the group: asked again.
COORDINATOR_MOVING = {
    KafkaError.NOT_COORDINATOR,
    KafkaError.COORDINATOR_NOT_AVAILABLE,
    KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
}
RETRY_S = 0.2


class Admin(AdminClient):
    """The admin client, reading groups' committed offsets as a consumer does.

    Not with the admin API's ListConsumerGroupOffsets: when the coordinator a client has cached
    answers NOT_COORDINATOR (the group's coordinator moved: a broker restarted, or lost the
    leadership of the group's partition of __consumer_offsets), librdkafka asks its own
    consumer group handle to look the coordinator up again, and an admin client has none: the
    process dies of SIGSEGV (librdkafka#5040, open; it took CI's pytest down on the cluster).
    A consumer has one, so each group's offsets are read by a consumer with that group id that
    never subscribes: it fetches offsets (OffsetFetch), and neither joins nor commits."""

    def __init__(self, config: ClientConfig) -> None:
        super().__init__(config)
        self._config = dict(config)
        self._readers: dict[str, Consumer] = {}  # group id -> its offsets' reader, kept

    def committed(
        self, group_id: str, wanted: list[TopicPartition], timeout_s: float
    ) -> list[TopicPartition]:
        """The group's committed offsets of `wanted`. A coordinator that moved answers
        NOT_COORDINATOR once; the consumer then looks the new one up, and is asked again."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                found = self._reader(group_id).committed(
                    wanted, timeout=max(deadline - time.monotonic(), 0.1)
                )
                errors = [tp.error for tp in found if tp.error is not None]
                if errors:
                    raise KafkaException(errors[0])
                return list(found)
            except KafkaException as exc:
                if exc.args[0].code() not in COORDINATOR_MOVING or time.monotonic() > deadline:
                    raise
            time.sleep(RETRY_S)  # the lookup of the new coordinator is under way

    def close_readers(self) -> None:
        """Close the offsets' readers, for an admin client retired but kept alive (its own
        requests in flight need it): each reader has its threads and connections to every
        broker. Nothing of theirs is in flight once committed() has returned."""
        for reader in self._readers.values():
            reader.close()
        self._readers.clear()

    def _reader(self, group_id: str) -> Consumer:
        if group_id not in self._readers:
            self._readers[group_id] = Consumer(
                {
                    **self._config,
                    "group.id": group_id,
                    "enable.auto.commit": False,
                    # The offsets committed, not those of a transaction still open, as the admin
                    # API reads them: read_committed would wait for that transaction to end.
                    "isolation.level": "read_uncommitted",
                }
            )
        return self._readers[group_id]


# Kafka's own names for a group's states (`kafka-consumer-groups.sh --describe --state`), not
# the client's enum names (PREPARING_REBALANCING). confluent-kafka 2.16's enum has no KIP-848
# states: librdkafka reports a consumer-protocol group's Assigning/Reconciling as UNKNOWN.
STATE_NAMES = {
    ConsumerGroupState.UNKNOWN: "Unknown",
    ConsumerGroupState.PREPARING_REBALANCING: "PreparingRebalance",
    ConsumerGroupState.COMPLETING_REBALANCING: "CompletingRebalance",
    ConsumerGroupState.STABLE: "Stable",
    ConsumerGroupState.DEAD: "Dead",
    ConsumerGroupState.EMPTY: "Empty",
}


def state_name(state: object) -> str:
    if state is None:
        return "Unknown"
    if state in STATE_NAMES:
        return STATE_NAMES[state]
    # A state a later client adds (ASSIGNING): Kafka spells it in CamelCase.
    return "".join(w.capitalize() for w in str(getattr(state, "name", state)).split("_"))


def protocol_name(group_type: object) -> str:
    """ConsumerGroupType.CONSUMER -> "Consumer"; a client too old to say: "Classic"."""
    if group_type is None:
        return "Classic"
    return str(getattr(group_type, "name", group_type)).capitalize()


@dataclass(frozen=True)
class Member:
    client_id: str
    host: str
    partitions: tuple[int, ...]  # of the topic asked about (every topic's if none was)
    instance_id: str | None = None  # group.instance.id: a static member


@dataclass(frozen=True)
class Group:
    group_id: str
    state: str
    protocol: str
    assignor: str
    members: tuple[Member, ...]
    committed: dict[int, int]  # partition -> committed offset (partitions without one left out)
    coordinator: int | None = None  # the broker that coordinates the group

    @property
    def reads_topic(self) -> bool:
        return bool(self.committed) or any(m.partitions for m in self.members)

    def owners(self) -> dict[int, str]:
        return {p: m.client_id for m in self.members for p in m.partitions}


def describe(
    admin: Admin,
    group_id: str,
    topic: str | None = None,
    timeout_s: float = TIMEOUT_S,
    which: Iterable[int] | None = None,
) -> Group:
    """The group's state and members (their partitions of `topic`, or of every topic), and its
    committed offsets of `topic` (none without one; of its partitions `which`, or of all)."""
    description = admin.describe_consumer_groups([group_id], request_timeout=timeout_s)[
        group_id
    ].result(timeout=timeout_s)
    offsets = committed(admin, group_id, topic, timeout_s, which) if topic else {}
    return group(description, offsets, topic)


def group(
    description: ConsumerGroupDescription, committed: dict[int, int], topic: str | None = None
) -> Group:
    """A Group from the admin API's description (pure: the unit tests feed it fixtures)."""

    def partitions(member: object) -> tuple[int, ...]:
        assignment = getattr(member, "assignment", None)
        found = assignment.topic_partitions if assignment else None
        return tuple(sorted(tp.partition for tp in found or [] if topic in (None, tp.topic)))

    members = tuple(
        Member(
            m.client_id,
            m.host.lstrip("/"),
            partitions(m),
            getattr(m, "group_instance_id", None) or None,
        )
        for m in sorted(description.members, key=lambda m: m.client_id)
    )
    return Group(
        group_id=description.group_id,
        state=state_name(description.state),
        protocol=protocol_name(getattr(description, "type", None)),
        assignor=description.partition_assignor or "",
        members=members,
        committed=committed,
        coordinator=getattr(getattr(description, "coordinator", None), "id", None),
    )


def committed(
    admin: Admin,
    group_id: str,
    topic: str,
    timeout_s: float = TIMEOUT_S,
    which: Iterable[int] | None = None,
) -> dict[int, int]:
    """partition -> the group's committed offset of `topic` (of its partitions `which`, or of
    all), partitions without one left out; KafkaException if the coordinator does not answer
    within `timeout_s`."""
    chosen = partitions(admin, topic, timeout_s) if which is None else which
    wanted = [TopicPartition(topic, p) for p in chosen]
    found = admin.committed(group_id, wanted, timeout_s)
    return {tp.partition: tp.offset for tp in found if tp.offset >= 0}


def group_ids(admin: AdminClient, timeout_s: float = TIMEOUT_S) -> list[str]:
    listing = admin.list_consumer_groups(request_timeout=timeout_s).result(timeout=timeout_s)
    return [g.group_id for g in listing.valid]


def metadata(admin: AdminClient, topic: str, timeout_s: float = TIMEOUT_S) -> Any:
    """The cluster's metadata (its brokers up, the topic's partitions with their leader, replicas
    and ISR); KafkaException if the topic is not there."""
    cluster = admin.list_topics(topic, timeout=timeout_s)
    found = cluster.topics.get(topic)
    if found is None or found.error is not None:
        raise KafkaException(f"topic {topic!r} not found")
    return cluster


def partitions(admin: AdminClient, topic: str, timeout_s: float = TIMEOUT_S) -> list[int]:
    return sorted(metadata(admin, topic, timeout_s).topics[topic].partitions)


def end_offsets(
    admin: AdminClient,
    topic: str,
    which: Iterable[int] | None = None,
    timeout_s: float = TIMEOUT_S,
    *,
    committed_only: bool = False,
) -> dict[int, int]:
    """partition -> the offset the next message appended to it will get (the high watermark);
    `committed_only`: the last stable offset, below which no transaction is still open (what a
    read_committed reader may read up to)."""
    latest = OffsetSpec.latest()  # type: ignore[no-untyped-call]
    chosen = partitions(admin, topic, timeout_s) if which is None else which
    request = {TopicPartition(topic, p): latest for p in chosen}
    level = IsolationLevel.READ_COMMITTED if committed_only else IsolationLevel.READ_UNCOMMITTED
    futures = admin.list_offsets(request, isolation_level=level, request_timeout=timeout_s)
    return {tp.partition: f.result(timeout=timeout_s).offset for tp, f in futures.items()}


def open_transactions(
    admin: AdminClient, topic: str, timeout_s: float = TIMEOUT_S
) -> dict[int, tuple[int, int]]:
    """partition -> (last stable offset, high watermark) of the partitions where they differ:
    a transaction is open there, and read_committed readers wait at its first record."""
    high = end_offsets(admin, topic, timeout_s=timeout_s)
    stable = end_offsets(admin, topic, high, timeout_s, committed_only=True)
    return {p: (stable[p], high[p]) for p in sorted(high) if stable[p] < high[p]}


def configure_share_group(
    admin: AdminClient,
    group: str,
    lock_duration_ms: int,
    delivery_count_limit: int,
    timeout_s: float = TIMEOUT_S,
) -> None:
    """Set a share group's configs (it need not exist yet); raise KafkaException if refused.

    It reads from the earliest offset (Kafka's default, latest, would skip what was sent before
    its first member joined), locks a record for `lock_duration_ms` and archives it after
    `delivery_count_limit` deliveries.
    """
    wanted = {
        "share.auto.offset.reset": "earliest",
        "share.record.lock.duration.ms": str(lock_duration_ms),
        "share.delivery.count.limit": str(delivery_count_limit),
    }
    resource = ConfigResource(
        ResourceType.GROUP,
        group,
        incremental_configs=[
            ConfigEntry(name, value, incremental_operation=AlterConfigOpType.SET)
            for name, value in wanted.items()
        ],
    )
    admin.incremental_alter_configs([resource], request_timeout=timeout_s)[resource].result()

"""Consumer groups and offsets as the broker reports them, through the admin API.

What the live view, the drills and the e2e tests ask the broker; none of it joins a group.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from confluent_kafka import (
    ConsumerGroupState,
    ConsumerGroupTopicPartitions,
    KafkaException,
    TopicPartition,
)
from confluent_kafka.admin import (  # type: ignore[attr-defined]
    AdminClient,
    ConsumerGroupDescription,
    OffsetSpec,
)

TIMEOUT_S = 10

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
    admin: AdminClient, group_id: str, topic: str | None = None, timeout_s: float = TIMEOUT_S
) -> Group:
    """The group's state and members, and its committed offsets, of `topic` (or of all)."""
    description = admin.describe_consumer_groups([group_id], request_timeout=timeout_s)[
        group_id
    ].result(timeout=timeout_s)
    return group(description, committed(admin, group_id, topic, timeout_s), topic)


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
    admin: AdminClient, group_id: str, topic: str | None = None, timeout_s: float = TIMEOUT_S
) -> dict[int, int]:
    """partition -> the group's committed offset, of `topic` (or of all)."""
    request = [ConsumerGroupTopicPartitions(group_id)]
    result = admin.list_consumer_group_offsets(request, request_timeout=timeout_s)
    found = result[group_id].result(timeout=timeout_s)
    return {
        tp.partition: tp.offset
        for tp in found.topic_partitions or []
        if topic in (None, tp.topic) and tp.offset >= 0
    }


def group_ids(admin: AdminClient, timeout_s: float = TIMEOUT_S) -> list[str]:
    listing = admin.list_consumer_groups(request_timeout=timeout_s).result(timeout=timeout_s)
    return [g.group_id for g in listing.valid]


def partitions(admin: AdminClient, topic: str, timeout_s: float = TIMEOUT_S) -> list[int]:
    metadata = admin.list_topics(topic, timeout=timeout_s).topics.get(topic)
    if metadata is None or metadata.error is not None:
        raise KafkaException(f"topic {topic!r} not found")
    return sorted(metadata.partitions)


def end_offsets(
    admin: AdminClient,
    topic: str,
    which: Iterable[int] | None = None,
    timeout_s: float = TIMEOUT_S,
) -> dict[int, int]:
    """partition -> the offset the next message appended to it will get."""
    latest = OffsetSpec.latest()  # type: ignore[no-untyped-call]
    chosen = partitions(admin, topic, timeout_s) if which is None else which
    request = {TopicPartition(topic, p): latest for p in chosen}
    futures = admin.list_offsets(request, request_timeout=timeout_s)
    return {tp.partition: f.result(timeout=timeout_s).offset for tp, f in futures.items()}

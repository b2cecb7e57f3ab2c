"""Read a snapshot from the broker through the admin API. Never joins a group."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from confluent_kafka import ConsumerGroupTopicPartitions, KafkaException, TopicPartition
from confluent_kafka.admin import (  # type: ignore[attr-defined]
    AdminClient,
    ConsumerGroupDescription,
    OffsetSpec,
)

from watch.model import GroupView, MemberView, OffsetView, PartitionView, Snapshot

TIMEOUT_S = 10


class Broker:
    """Keeps one AdminClient (requests in flight need it alive) for the view's lifetime."""

    def __init__(self, admin: AdminClient, topic: str) -> None:
        self.admin = admin
        self.topic = topic

    def snapshot(self, groups: tuple[str, ...] = ()) -> Snapshot:
        time = datetime.now(UTC)
        # Groups first, end offsets last: read in this order, lag is never negative while the
        # producer keeps appending.
        found = [self._describe(g) for g in sorted(groups or self._group_ids())]
        ends = self.end_offsets()
        partitions = tuple(PartitionView(p, end) for p, end in sorted(ends.items()))
        views = tuple(g.view(ends) for g in found if g.reads_topic)
        return Snapshot(time, self.topic, partitions, views)

    def _partition_ids(self) -> list[int]:
        topics = self.admin.list_topics(self.topic, timeout=TIMEOUT_S).topics
        metadata = topics.get(self.topic)
        if metadata is None or metadata.error is not None:
            raise KafkaException(f"topic {self.topic!r} not found")
        return sorted(metadata.partitions)

    def end_offsets(self) -> dict[int, int]:
        latest = OffsetSpec.latest()  # type: ignore[no-untyped-call]
        request = {TopicPartition(self.topic, p): latest for p in self._partition_ids()}
        futures = self.admin.list_offsets(request, request_timeout=TIMEOUT_S)
        return {tp.partition: f.result(timeout=TIMEOUT_S).offset for tp, f in futures.items()}

    def _group_ids(self) -> list[str]:
        listing = self.admin.list_consumer_groups(request_timeout=TIMEOUT_S).result(
            timeout=TIMEOUT_S
        )
        return [g.group_id for g in listing.valid]

    def _describe(self, group_id: str) -> _Described:
        description = self.admin.describe_consumer_groups([group_id], request_timeout=TIMEOUT_S)[
            group_id
        ].result(timeout=TIMEOUT_S)
        members = tuple(
            MemberView(
                client_id=m.client_id,
                host=m.host.lstrip("/"),
                partitions=tuple(
                    sorted(
                        tp.partition
                        for tp in (m.assignment.topic_partitions if m.assignment else [])
                        if tp.topic == self.topic
                    )
                ),
            )
            for m in sorted(description.members, key=lambda m: m.client_id)
        )
        return _Described(description, members, self._committed(group_id))

    def _committed(self, group_id: str) -> dict[int, int]:
        request = [ConsumerGroupTopicPartitions(group_id)]
        result = self.admin.list_consumer_group_offsets(request, request_timeout=TIMEOUT_S)
        found = result[group_id].result(timeout=TIMEOUT_S)
        return {
            tp.partition: tp.offset
            for tp in found.topic_partitions or []
            if tp.topic == self.topic and tp.offset >= 0
        }


def _name(value: object) -> str:
    """Enum members as Kafka names them: ConsumerGroupState.STABLE -> 'Stable'."""
    if value is None:
        return ""
    name = getattr(value, "name", str(value))
    return name.capitalize() if name != "UNKNOWN" else "Unknown"


@dataclass(frozen=True)
class _Described:
    """A group's description, its members' partitions of our topic, its committed offsets."""

    description: ConsumerGroupDescription
    members: tuple[MemberView, ...]
    committed: dict[int, int]

    @property
    def reads_topic(self) -> bool:
        return bool(self.committed) or any(m.partitions for m in self.members)

    def view(self, ends: dict[int, int]) -> GroupView:
        owners = {p: m.client_id for m in self.members for p in m.partitions}
        committed = self.committed
        offsets = tuple(
            OffsetView(p, committed.get(p), end, end - committed.get(p, 0), owners.get(p))
            for p, end in sorted(ends.items())
        )
        d = self.description
        return GroupView(
            group_id=d.group_id,
            state=_name(d.state),
            protocol=_name(getattr(d, "type", None)) or "Classic",
            assignor=d.partition_assignor or "",
            members=self.members,
            offsets=offsets,
        )

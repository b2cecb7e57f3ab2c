"""Read a snapshot from the broker through the admin API. Never joins a group."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from confluent_kafka import KafkaException
from confluent_kafka.admin import PartitionMetadata  # type: ignore[attr-defined]

from playground import groups
from playground.groups import Admin, Group
from playground.settings import processed_topic
from watch.model import (
    BrokerView,
    GroupView,
    MemberView,
    OffsetView,
    OutputView,
    PartitionView,
    Snapshot,
)


class Broker:
    """Keeps one admin client (requests in flight need it alive) for the view's lifetime."""

    def __init__(self, admin: Admin, topic: str) -> None:
        self.admin = admin
        self.topic = topic
        self.known: set[int] = set()  # every broker seen so far: one missing now is down

    def snapshot(self, group_ids: tuple[str, ...] = ()) -> Snapshot:
        time = datetime.now(UTC)
        # One metadata request for the snapshot: the partitions every read below asks about.
        cluster = groups.metadata(self.admin, self.topic)
        meta = cluster.topics[self.topic]
        which = sorted(meta.partitions)
        # Groups first, end offsets last: read in this order, lag is never negative while the
        # producer keeps appending.
        found = [
            groups.describe(self.admin, g, self.topic, which=which)
            for g in sorted(group_ids or groups.group_ids(self.admin))
        ]
        ends = groups.end_offsets(self.admin, self.topic, which)
        partitions = tuple(
            replicated(PartitionView(p, end), meta.partitions.get(p))
            for p, end in sorted(ends.items())
        )
        views = tuple(view(g, ends) for g in found if g.reads_topic)
        # The metadata lists the brokers that are up; the replicas name those that should be.
        up = set(cluster.brokers)
        self.known |= up | {b for p in partitions for b in p.replicas}
        brokers = tuple(BrokerView(b, b in up) for b in sorted(self.known))
        return Snapshot(time, self.topic, partitions, views, output=self.output(), brokers=brokers)

    def output(self) -> tuple[OutputView, ...]:
        """The output topic's last stable offsets beside its high watermarks; none if the topic
        is not there (a playground provisioned before it existed)."""
        topic = processed_topic(self.topic)
        try:
            high = groups.end_offsets(self.admin, topic)
            stable = groups.end_offsets(self.admin, topic, high, committed_only=True)
        except KafkaException:
            return ()
        # Read after the high watermark, a stable offset can be past it: never shown so.
        return tuple(OutputView(p, min(stable[p], end), end) for p, end in sorted(high.items()))


def replicated(partition: PartitionView, meta: PartitionMetadata | None) -> PartitionView:
    """The partition with its leader, replicas and in-sync replicas, as the metadata has them."""
    if meta is None:
        return partition
    return replace(
        partition, leader=meta.leader, replicas=tuple(meta.replicas), isr=tuple(meta.isrs)
    )


def view(group: Group, ends: dict[int, int]) -> GroupView:
    """What the view shows of a group, against the topic's end offsets."""
    owners, committed = group.owners(), group.committed
    offsets = tuple(
        OffsetView(p, committed.get(p), end, end - committed.get(p, 0), owners.get(p))
        for p, end in sorted(ends.items())
    )
    return GroupView(
        group_id=group.group_id,
        state=group.state,
        protocol=group.protocol,
        assignor=group.assignor,
        members=tuple(
            MemberView(m.client_id, m.host, m.partitions, instance_id=m.instance_id)
            for m in group.members
        ),
        offsets=offsets,
        coordinator=group.coordinator,
    )

"""What the view shows, as plain data: one snapshot of the topic and its consumer groups.

Everything here is pure: reading the broker is in `broker.py`, drawing in `render.py`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class PartitionView:
    partition: int
    end_offset: int
    rate: float | None = None  # messages/s appended since the previous snapshot
    # Replication, from the cluster's metadata (broker ids); leader -1 while it has none.
    leader: int = -1
    replicas: tuple[int, ...] = ()
    isr: tuple[int, ...] = ()

    @property
    def under_replicated(self) -> bool:
        """Some replica is out of sync (or its broker down)."""
        return len(self.isr) < len(self.replicas)


@dataclass(frozen=True)
class OutputView:
    """A partition of the output topic: how far a read_committed reader may read (the last
    stable offset) and how far a read_uncommitted one does (the high watermark)."""

    partition: int
    stable_offset: int
    end_offset: int

    @property
    def unstable(self) -> int:
        """Records above the last stable offset: a transaction is open at its first one."""
        return max(self.end_offset - self.stable_offset, 0)


@dataclass(frozen=True)
class BrokerView:
    """A broker the cluster's replicas name: up while the metadata lists it."""

    broker_id: int
    up: bool


@dataclass(frozen=True)
class MemberView:
    client_id: str
    host: str
    partitions: tuple[int, ...]
    processed_per_s: float | None = None  # committed offsets' growth over its partitions
    instance_id: str | None = None  # group.instance.id: a static member


@dataclass(frozen=True)
class OffsetView:
    partition: int
    committed: int | None
    end_offset: int
    lag: int
    owner: str | None


@dataclass(frozen=True)
class GroupView:
    group_id: str
    state: str
    protocol: str
    assignor: str
    members: tuple[MemberView, ...]
    offsets: tuple[OffsetView, ...]
    coordinator: int | None = None  # broker id

    @property
    def lag(self) -> int:
        return sum(o.lag for o in self.offsets)

    def owners(self) -> dict[int, str]:
        return {p: m.client_id for m in self.members for p in m.partitions}


@dataclass(frozen=True)
class ShareMemberView:
    """A share group's member as its own log tells (`record_acknowledged`): the partitions it
    has been handed records of, and how it acknowledged them, over its container's log."""

    client_id: str
    partitions: tuple[int, ...]
    accepted: int = 0
    released: int = 0
    rejected: int = 0
    redelivered: int = 0  # records it was handed with a delivery count above 1


@dataclass(frozen=True)
class ShareGroupView:
    """A share group (KIP-932): its configs from the admin API, its members from their logs.
    confluent-kafka 2.16.1's admin API cannot describe a share group: no members, no records
    in flight, no acknowledged or archived counts from the broker."""

    group_id: str
    lock_duration_ms: int | None
    delivery_count_limit: int | None
    members: tuple[ShareMemberView, ...]


@dataclass(frozen=True)
class Move:
    partition: int
    source: str | None  # None: nobody owned it
    target: str | None


@dataclass(frozen=True)
class Rebalance:
    time: datetime
    group_id: str
    moves: tuple[Move, ...]


@dataclass(frozen=True)
class Handover:
    """Something moved between brokers: a partition's leadership (`kind` "leader", `of` the
    partition), a group's coordinator ("coordinator", the group id), or a broker went down or
    came back ("broker", its id; `source` None when it came back, `target` None when it went)."""

    time: datetime
    kind: str
    of: str
    source: int | None  # broker id; None: no broker
    target: int | None

    def __str__(self) -> str:
        if self.kind == "broker":
            return f"broker {self.of} {'down' if self.target is None else 'up'}"
        what = f"partition {self.of} leader" if self.kind == "leader" else f"{self.of} coordinator"
        return f"{what}: {_broker(self.source)} → {_broker(self.target)}"


def _broker(broker_id: int | None) -> str:
    return "none" if broker_id is None else f"broker {broker_id}"


@dataclass(frozen=True)
class Snapshot:
    time: datetime
    topic: str
    partitions: tuple[PartitionView, ...]
    groups: tuple[GroupView, ...]
    rebalances: tuple[Rebalance, ...] = field(default=())
    output: tuple[OutputView, ...] = field(default=())  # <topic>.processed, where it exists
    share_groups: tuple[ShareGroupView, ...] = field(default=())
    brokers: tuple[BrokerView, ...] = field(default=())
    handovers: tuple[Handover, ...] = field(default=())

    @property
    def cluster(self) -> bool:
        """More than one broker: the view shows brokers, leaders and coordinators."""
        return len(self.brokers) > 1

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["time"] = self.time.isoformat()
        for entry, handover in zip(data["handovers"], self.handovers, strict=True):
            entry["time"] = entry["time"].isoformat()
            entry["text"] = str(handover)
        for entry in data["rebalances"]:
            entry["time"] = entry["time"].isoformat()
            entry["moves"] = [
                {"partition": m["partition"], "from": m["source"], "to": m["target"]}
                for m in entry["moves"]
            ]
        for group, view in zip(data["groups"], self.groups, strict=True):
            group["lag"] = view.lag
        return data


def moves_between(before: dict[int, str], after: dict[int, str]) -> tuple[Move, ...]:
    """The partitions whose owner changed, in partition order."""
    return tuple(
        Move(p, before.get(p), after.get(p))
        for p in sorted(before.keys() | after.keys())
        if before.get(p) != after.get(p)
    )


def handovers_between(previous: Snapshot | None, current: Snapshot) -> list[Handover]:
    """Brokers gone or back, leaders and coordinators moved, between two snapshots."""
    if previous is None:
        return []
    found = []
    was_up = {b.broker_id: b.up for b in previous.brokers}
    for b in current.brokers:
        if b.broker_id in was_up and was_up[b.broker_id] != b.up:
            up = b.broker_id if b.up else None
            found.append(Handover(current.time, "broker", str(b.broker_id), None, up))
    leaders = {p.partition: p.leader for p in previous.partitions}
    for p in current.partitions:
        if p.partition in leaders and leaders[p.partition] != p.leader:
            source, target = (b if b >= 0 else None for b in (leaders[p.partition], p.leader))
            found.append(Handover(current.time, "leader", str(p.partition), source, target))
    coordinators = {g.group_id: g.coordinator for g in previous.groups}
    for g in current.groups:
        before = coordinators.get(g.group_id)
        if before is not None and g.coordinator is not None and before != g.coordinator:
            found.append(Handover(current.time, "coordinator", g.group_id, before, g.coordinator))
    return found


def with_rates(previous: Snapshot | None, current: Snapshot) -> Snapshot:
    """`current`, with partition and member rates measured against `previous`."""
    if previous is None or previous.topic != current.topic:
        return current
    seconds = (current.time - previous.time).total_seconds()
    if seconds <= 0:
        return current
    ends = {p.partition: p.end_offset for p in previous.partitions}
    partitions = tuple(
        replace(p, rate=(p.end_offset - ends[p.partition]) / seconds) if p.partition in ends else p
        for p in current.partitions
    )
    old_groups = {g.group_id: g for g in previous.groups}
    groups = tuple(_group_rates(old_groups.get(g.group_id), g, seconds) for g in current.groups)
    return replace(current, partitions=partitions, groups=groups)


def _group_rates(previous: GroupView | None, current: GroupView, seconds: float) -> GroupView:
    if previous is None:
        return current
    before = {o.partition: o.committed for o in previous.offsets}
    now = {o.partition: o.committed for o in current.offsets}

    def grown(p: int) -> int:
        old, new = before.get(p), now.get(p)
        return 0 if old is None or new is None else max(new - old, 0)

    members = tuple(
        replace(m, processed_per_s=sum(grown(p) for p in m.partitions) / seconds)
        for m in current.members
    )
    return replace(current, members=members)

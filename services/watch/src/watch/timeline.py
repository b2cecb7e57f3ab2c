"""The rebalance timeline: which partitions moved from whom to whom, and when.

Two sources, both reduced to ownership changes per group:
- the consumers' own log records (`partitions_assigned`/`revoked`/`lost`, JSON or text),
  which give the history from before the view started;
- what the view itself sees change between two snapshots.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from playground.records import record
from watch.model import Move, Rebalance, Snapshot, moves_between

# A rebalance that leaves partitions without an owner for this long is taken as finished.
SETTLE_TIMEOUT = timedelta(seconds=30)


@dataclass(frozen=True)
class OwnershipEvent:
    """One consumer's report: after this rebalance step it owns `owned`."""

    time: datetime
    group_id: str
    client: str
    owned: frozenset[int]


def parse_line(time: datetime, line: str, client: str, group_id: str) -> OwnershipEvent | None:
    """An ownership event from one consumer log line (JSON record or text), else None.

    `client` and `group_id` are the container's, for text lines, which do not carry them.
    """
    r = record(line)
    if r is None or not str(r.get("event", "")).startswith("partitions_"):
        return None
    owned = frozenset(int(p) for p in r.get("owned", []))
    return OwnershipEvent(time, r.get("group_id", group_id), r.get("client", client), owned)


def from_events(events: Iterable[OwnershipEvent], partitions: Iterable[int]) -> list[Rebalance]:
    """Replay ownership events per group into rebalances.

    A rebalance starts with the first event that changes who owns what and ends when every
    one of the topic's `partitions` has an owner again (or a long pause says nobody is
    coming), so its moves go from the last settled assignment to the next one.
    """
    everything = set(partitions)
    owners: dict[str, dict[int, str]] = {}
    pending: dict[str, tuple[datetime, dict[int, str]]] = {}  # group -> (start, before)
    last_seen: dict[str, datetime] = {}
    found: list[Rebalance] = []

    def close(group_id: str) -> None:
        started, before = pending.pop(group_id)
        moves = moves_between(before, owners[group_id])
        if moves:
            found.append(Rebalance(started, group_id, moves))

    for event in sorted(events, key=lambda e: e.time):
        group_id = event.group_id
        if group_id in pending and event.time - last_seen[group_id] > SETTLE_TIMEOUT:
            close(group_id)
        last_seen[group_id] = event.time
        current = owners.setdefault(group_id, {})
        after = {p: c for p, c in current.items() if c != event.client}
        after.update(dict.fromkeys(event.owned, event.client))
        if after != current and group_id not in pending:
            pending[group_id] = (event.time, dict(current))
        owners[group_id] = after
        if group_id in pending and everything <= after.keys():
            close(group_id)
    for group_id in list(pending):
        close(group_id)
    return sorted(found, key=lambda r: r.time)


def observed(previous: Snapshot | None, current: Snapshot) -> list[Rebalance]:
    """Rebalances the view saw happen between two of its own snapshots; a group that appears
    after the first snapshot starts from nobody owning anything."""
    if previous is None:
        return []
    before = {g.group_id: g.owners() for g in previous.groups}
    found = []
    for group in current.groups:
        moves = moves_between(before.get(group.group_id, {}), group.owners())
        if moves:
            found.append(Rebalance(current.time, group.group_id, moves))
    return found


def extend(history: list[Rebalance], seen: Iterable[Rebalance]) -> None:
    """Add what the view saw to `history`, as `from_events` does for the logs: while a group's
    latest rebalance left partitions without an owner (an eager rebalance takes every partition
    away before handing them out again), the next one seen within SETTLE_TIMEOUT is part of it."""
    for new in seen:
        earlier = [i for i, r in enumerate(history) if r.group_id == new.group_id]
        old = history[earlier[-1]] if earlier else None
        if (
            old is None
            or all(m.target is not None for m in old.moves)
            or new.time - old.time > SETTLE_TIMEOUT
        ):
            history.append(new)
            continue
        sources = {m.partition: m.source for m in old.moves}
        targets = {m.partition: m.target for m in old.moves}
        for m in new.moves:
            sources.setdefault(m.partition, m.source)
            targets[m.partition] = m.target
        moves = tuple(
            Move(p, sources[p], targets[p]) for p in sorted(sources) if sources[p] != targets[p]
        )
        history[earlier[-1]] = Rebalance(old.time, old.group_id, moves)

"""Draw a snapshot with rich: the topic, the groups side by side, the last rebalances."""

from __future__ import annotations

import io

from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from playground.logs import mark
from playground.settings import processed_topic
from watch.model import GroupView, Move, ShareGroupView, Snapshot

TIMELINE_ROWS = 8
NONE = "-"


def view(snapshot: Snapshot) -> RenderableType:
    return Group(
        _topic(snapshot),
        *([_output(snapshot)] if snapshot.output else []),
        _side_by_side([_group(g, snapshot.cluster) for g in snapshot.groups])
        if snapshot.groups
        else Text("No consumer group reads this topic yet.", style="dim"),
        *(
            [_side_by_side([_share(g) for g in snapshot.share_groups])]
            if snapshot.share_groups
            else []
        ),
        _timeline(snapshot),
    )


def _side_by_side(panels: list[RenderableType]) -> RenderableType:
    grid = Table.grid(expand=True, padding=(0, 1))
    for _ in panels:
        grid.add_column(ratio=1)
    grid.add_row(*panels)
    return grid


def as_text(snapshot: Snapshot, width: int = 120) -> str:
    """The view as plain text at a fixed width (for --once and snapshot tests)."""
    console = Console(width=width, record=True, color_system=None, file=io.StringIO())
    console.print(view(snapshot))
    return console.export_text()


def _rate(value: float | None) -> str:
    return NONE if value is None else f"{value:.1f}"


def _topic(snapshot: Snapshot) -> RenderableType:
    table = Table(box=None, pad_edge=False)
    table.add_column("partition", justify="right")
    table.add_column("end offset", justify="right")
    table.add_column("msgs/s", justify="right")
    # On a cluster, where replication can be watched: who leads, who holds a copy, who is in sync.
    replicated = any(len(p.replicas) > 1 for p in snapshot.partitions)
    if replicated:
        for name in ("leader", "replicas", "in sync", ""):
            table.add_column(name)
    for p in snapshot.partitions:
        row = [str(p.partition), f"{p.end_offset:,}", _rate(p.rate)]
        if replicated:
            row += [
                NONE if p.leader < 0 else str(p.leader),
                ",".join(map(str, p.replicas)),
                ",".join(map(str, p.isr)),
                "under-replicated" if p.under_replicated else "",
            ]
        table.add_row(*row, style="bold red" if replicated and p.under_replicated else None)
    title = f"Topic {snapshot.topic} · {len(snapshot.partitions)} partitions"
    body: RenderableType = table
    if snapshot.cluster:
        brokers = Text("brokers: ")
        for i, b in enumerate(snapshot.brokers):
            brokers.append(", " if i else "")
            brokers.append(
                f"{b.broker_id} {'up' if b.up else 'DOWN'}", None if b.up else "bold red"
            )
        body = Group(brokers, table)
    return Panel(
        body, title=title, subtitle=snapshot.time.strftime("%H:%M:%S UTC"), title_align="left"
    )


def _output(snapshot: Snapshot) -> RenderableType:
    """Where read_committed readers stop (the last stable offset) beside the high watermark:
    a gap is a transaction still open, and what only a read_uncommitted reader sees yet."""
    table = Table(box=None, pad_edge=False)
    table.add_column("partition", justify="right")
    table.add_column("last stable", justify="right")
    table.add_column("high watermark", justify="right")
    table.add_column("read_uncommitted only", justify="right")
    table.add_column("")
    for o in snapshot.output:
        table.add_row(
            str(o.partition),
            f"{o.stable_offset:,}",
            f"{o.end_offset:,}",
            f"{o.unstable:,}",
            "transaction open" if o.unstable else "",
            style="yellow" if o.unstable else None,
        )
    return Panel(
        table,
        title=f"Output {processed_topic(snapshot.topic)} · "
        "read_committed stops at the last stable offset",
        title_align="left",
    )


def _who(client: str | None) -> str:
    if client is None:
        return "nobody"
    return f"{mark(client)} {client}"


def _group(group: GroupView, cluster: bool = False) -> RenderableType:
    members = Table(box=None, pad_edge=False)
    members.add_column("member")
    members.add_column("host")
    members.add_column("owns")
    members.add_column("proc/s", justify="right")
    for m in group.members:
        members.add_row(
            _who(m.client_id),
            m.host,
            " ".join(map(str, m.partitions)) or NONE,
            _rate(m.processed_per_s),
        )
    offsets = Table(box=None, pad_edge=False)
    offsets.add_column("p", justify="right")
    offsets.add_column("committed", justify="right")
    offsets.add_column("end", justify="right")
    offsets.add_column("lag", justify="right")
    offsets.add_column("owner")
    for o in group.offsets:
        offsets.add_row(
            str(o.partition),
            NONE if o.committed is None else f"{o.committed:,}",
            f"{o.end_offset:,}",
            f"{o.lag:,}",
            _who(o.owner),
        )
    n = len(group.members)
    how = (
        "no members"
        if n == 0
        else "1 member: sees every message"
        if n == 1
        else f"{n} members share the partitions"
    )
    about = Text(f"{how}\n{group.protocol} protocol, {group.assignor or NONE} assignor", "dim")
    summary = Text(f"lag {group.lag:,}", "bold")
    coordinator = (
        f" · coordinator {NONE if group.coordinator is None else group.coordinator}"
        if cluster
        else ""
    )
    return Panel(
        Group(about, Text(""), members, Text(""), offsets, Text(""), summary),
        title=f"{group.group_id} · {group.state}{coordinator}",
        title_align="left",
    )


def _ms(value: int | None, unit: str = "") -> str:
    return NONE if value is None else f"{value:,}{unit}"


def _share(group: ShareGroupView) -> RenderableType:
    members = Table(box=None, pad_edge=False)
    members.add_column("member")
    members.add_column("reads")
    for name in ("accepted", "released", "rejected", "redelivered"):
        members.add_column(name, justify="right")
    for m in group.members:
        members.add_row(
            _who(m.client_id),
            " ".join(map(str, m.partitions)) or NONE,
            f"{m.accepted:,}",
            f"{m.released:,}",
            f"{m.rejected:,}",
            f"{m.redelivered:,}",
        )
    about = Text(
        f"{len(group.members)} members; a partition may be read by several, a record by one\n"
        f"record lock {_ms(group.lock_duration_ms, ' ms')}, "
        f"delivery count limit {_ms(group.delivery_count_limit)}",
        "dim",
    )
    cannot = Text(
        "members and counts from their logs; in flight and archived: "
        "not told by this client's admin API",
        "dim",
    )
    return Panel(
        Group(about, Text(""), members, Text(""), cannot),
        title=f"{group.group_id} · share group",
        title_align="left",
    )


def _moves(moves: tuple[Move, ...]) -> str:
    if not moves:
        return "no partition changed owner"
    return ", ".join(f"p{m.partition} {_who(m.source)} → {_who(m.target)}" for m in moves)


def _timeline(snapshot: Snapshot) -> RenderableType:
    table = Table(box=None, pad_edge=False)
    table.add_column("time")
    table.add_column("group")
    table.add_column("moved")
    rows = [(r.time, r.group_id, _moves(r.moves)) for r in snapshot.rebalances]
    # On a cluster, what moved between brokers too: brokers down and up, leaders, coordinators.
    rows += [(h.time, "cluster", str(h)) for h in snapshot.handovers]
    for when, group, moved in sorted(rows, key=lambda row: row[0])[-TIMELINE_ROWS:]:
        table.add_row(when.strftime("%H:%M:%S"), group, moved)
    if not rows:
        table.add_row(NONE, NONE, "none seen yet")
    title = "Rebalances and failovers" if snapshot.cluster else "Rebalances"
    return Panel(table, title=f"{title} (latest last)", title_align="left")

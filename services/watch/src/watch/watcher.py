"""Snapshots in a row, with rates and the rebalance timeline: what `make watch` and the web
page both show."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

from watch import timeline
from watch.broker import Broker
from watch.model import Handover, Rebalance, ShareGroupView, Snapshot, handovers_between, with_rates

HISTORY = 50  # rebalances kept
RATE_WINDOW = timedelta(seconds=10)


class Watcher:
    """Takes snapshots; rates span the last RATE_WINDOW, so slow commits still show a rate."""

    def __init__(
        self,
        broker: Broker,
        groups: tuple[str, ...],
        history: list[Rebalance],
        shares: Callable[[], tuple[ShareGroupView, ...]] = tuple,
    ) -> None:
        self.broker = broker
        self.shares = shares
        self.groups = groups
        self.history = history
        self.handovers: list[Handover] = []  # brokers down or up, leaders and coordinators moved
        self.recent: deque[Snapshot] = deque()

    def step(self) -> Snapshot:
        current = self.broker.snapshot(self.groups)
        timeline.extend(
            self.history, timeline.observed(self.recent[-1] if self.recent else None, current)
        )
        del self.history[:-HISTORY]
        self.handovers += handovers_between(self.recent[-1] if self.recent else None, current)
        del self.handovers[:-HISTORY]
        while self.recent and current.time - self.recent[0].time > RATE_WINDOW:
            self.recent.popleft()
        rated = with_rates(self.recent[0] if self.recent else None, current)
        self.recent.append(current)
        return replace(
            rated,
            rebalances=tuple(self.history),
            share_groups=self.shares(),
            handovers=tuple(self.handovers),
        )

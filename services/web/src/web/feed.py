"""What the page shows, refreshed in one thread: the watch's snapshots, the lag of the last
minute, and every problem in plain words.

Pages never ask the broker themselves: however many are open, the broker sees one admin client
asking once per interval, and every page gets the same state. With no page open it asks once
every UNWATCHED_INTERVAL_S only: an idle playground should cost next to nothing, and the
rebalances and failovers are still seen (and the history from the logs is still read once).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from confluent_kafka import KafkaException

from playground.groups import TIMEOUT_S
from playground.ledgerfeed import Row
from playground.logs import mark
from watch import timeline
from watch.broker import Broker
from watch.model import Rebalance, ShareGroupView, Snapshot
from watch.timeline import OwnershipEvent
from watch.watcher import Watcher

log = logging.getLogger("web")

LAG_WINDOW = timedelta(seconds=60)  # the sparklines' span
HISTORY_DELAY = timedelta(seconds=3)  # after the first snapshot, before reading the logs
DOCKER_RETRY_S = 10.0  # how often to look again for the Docker socket while it is missing
SEEN_TWICE = timedelta(seconds=5)  # a rebalance logged and observed: this far apart at most
NO_DOCKER = "no rebalance history: Docker socket unavailable"
# With no page open, a step this often instead of every interval; a page that opens wakes the
# feed at once. A page that asked for /state counts as open for WATCHED_FOR_S.
UNWATCHED_INTERVAL_S = 10.0
WATCHED_FOR_S = 30.0

# The terminal's client marks (playground.logs.mark), as colours the page can draw with.
COLOURS = {
    "🟣": "#8e44ad",
    "🔵": "#2e86de",
    "🟢": "#27ae60",
    "🟠": "#e67e22",
    "🟡": "#f1c40f",
    "🔴": "#e74c3c",
    "🟤": "#8d6e63",
    "⚪": "#bdc3c7",
}

Lags = dict[tuple[str, int], deque[tuple[datetime, int]]]


def remember_lags(lags: Lags, snapshot: Snapshot) -> None:
    """Add the snapshot's lag per (group, partition); forget what is older than LAG_WINDOW and
    groups that are gone."""
    seen = set()
    for group in snapshot.groups:
        for offset in group.offsets:
            key = (group.group_id, offset.partition)
            seen.add(key)
            series = lags.setdefault(key, deque())
            series.append((snapshot.time, offset.lag))
            while series and snapshot.time - series[0][0] > LAG_WINDOW:
                series.popleft()
    for key in lags.keys() - seen:
        del lags[key]


def clients(snapshot: Snapshot) -> dict[str, dict[str, str]]:
    """Every client the page names, with its terminal mark and that mark's colour."""
    names = {m.client_id for g in snapshot.groups for m in g.members}
    names |= {
        who for r in snapshot.rebalances for m in r.moves for who in (m.source, m.target) if who
    }
    return {n: {"mark": mark(n), "colour": COLOURS[mark(n)]} for n in sorted(names)}


def problems(snapshot: Snapshot | None) -> list[dict[str, str]]:
    """What is wrong with the groups themselves, in words."""
    if snapshot is None:
        return []
    return [
        {
            "kind": "group",
            "text": f"group {g.group_id} has no members: nobody reads its partitions "
            f"({g.state}, lag {g.lag:,})",
        }
        for g in snapshot.groups
        if not g.members
    ]


def page_state(
    snapshot: Snapshot | None,
    lags: Lags,
    broker_error: str | None,
    docker_error: str | None,
    updated: datetime | None,
    ledger: list[Row] | None = None,
) -> dict[str, Any]:
    """Everything one page update carries, as JSON-ready data."""
    errors = [{"kind": "broker", "text": broker_error}] if broker_error else []
    errors += [{"kind": "docker", "text": docker_error}] if docker_error else []
    errors += problems(snapshot)
    if snapshot:
        snapshot = replace(snapshot, rebalances=tuple(distinct(snapshot.rebalances)))
    return {
        "snapshot": snapshot.to_json() if snapshot else None,
        # The last good snapshot stays on the page while the broker is away, marked stale.
        "stale": broker_error is not None,
        "updated": updated.isoformat() if updated else None,
        "errors": errors,
        "clients": clients(snapshot) if snapshot else {},
        # The latest `make chaos` run's ledger, row by row as it fills in.
        "ledger": ledger or [],
        "lag_history": {
            f"{group}/{partition}": [lag for _, lag in series]
            for (group, partition), series in sorted(lags.items())
        },
    }


def distinct(rebalances: Iterable[Rebalance]) -> list[Rebalance]:
    """Each rebalance once, oldest first. The consumers' logs and the page's own snapshots may
    both have seen one: the same moves of a group, seconds apart, nothing of that group between.
    """
    kept: list[Rebalance] = []
    latest: dict[str, Rebalance] = {}
    for r in sorted(rebalances, key=lambda r: r.time):
        prior = latest.get(r.group_id)
        if prior and prior.moves == r.moves and r.time - prior.time <= SEEN_TWICE:
            continue
        kept.append(r)
        latest[r.group_id] = r
    return kept


class Feed:
    """Steps a Watcher every `interval` seconds and publishes the page's state as JSON text.

    `connect` makes a new Broker: after the broker went away, a fresh AdminClient is used, as
    librdkafka's old one may never reach a group coordinator again. `history` reads the
    consumers' ownership events from their logs (None: no Docker socket); it is tried again
    every DOCKER_RETRY_S until it answers, so the history appears once the socket does.
    """

    def __init__(
        self,
        connect: Callable[[], Broker],
        groups: tuple[str, ...],
        history: Callable[[], Iterable[OwnershipEvent] | None],
        interval: float,
        where: str,
        ledger: Callable[[], list[Row]] = list,
        shares: Callable[[], tuple[ShareGroupView, ...]] = tuple,
    ) -> None:
        self.connect = connect
        self.ledger = ledger  # the latest chaos run's rows
        self.ledger_rows: list[Row] = []
        self.history = history
        self.interval = interval
        self.where = where
        self.watcher = Watcher(connect(), groups, [], shares)
        self.retired: deque[Broker] = deque(maxlen=3)  # kept alive while their requests end
        self.lags: Lags = {}
        self.snapshot: Snapshot | None = None
        self.started: datetime | None = None  # time of the first snapshot
        self.updated: datetime | None = None
        self.broker_error: str | None = None
        self.docker_error: str | None = None
        self.history_loaded = False
        self.next_history_try = 0.0
        self.version = 0
        self.text = json.dumps(page_state(None, {}, None, None, None))
        self.changed = threading.Condition()
        self.streams = 0  # pages holding /events open
        self.asked = -WATCHED_FOR_S  # when /state was last asked for (monotonic)
        self.wake = threading.Event()  # a page opened: step now, not at the unwatched pace
        self._stopped = threading.Event()

    def watched(self) -> bool:
        return self.streams > 0 or time.monotonic() - self.asked < WATCHED_FOR_S

    def run(self) -> None:
        """Step every `interval` while a page watches, every UNWATCHED_INTERVAL_S otherwise,
        until stop()."""
        while not self._stopped.is_set():
            started = time.monotonic()
            self.wake.clear()  # before the step: a page opening during it gets the next one
            self.tick()
            pause = self.interval if self.watched() else max(self.interval, UNWATCHED_INTERVAL_S)
            self.wake.wait(max(pause - (time.monotonic() - started), 0.05))

    def stop(self) -> None:
        """End run() now, not after its pause (up to UNWATCHED_INTERVAL_S)."""
        self._stopped.set()
        self.wake.set()

    def tick(self) -> None:
        try:
            snapshot = self.watcher.step()
        except (KafkaException, TimeoutError) as exc:
            why = str(exc) or f"no answer within {TIMEOUT_S} s"
            self.broker_error = f"Kafka broker unreachable at {self.where}: {why}"
            self.retired.append(self.watcher.broker)
            self.watcher.broker = self.connect()
        except Exception as exc:  # a bug of ours: on the page and in the log, and keep going
            log.exception("reading the groups failed")
            self.broker_error = f"reading the groups failed: {exc!r} (a bug: see the web log)"
        else:
            self.broker_error = None
            self.started = self.started or snapshot.time
            self.updated = snapshot.time
            remember_lags(self.lags, snapshot)
            self.snapshot = snapshot
            self._load_history(snapshot)
            self.ledger_rows = self._try_ledger()
        self.publish()

    def _try_ledger(self) -> list[Row]:
        try:
            return self.ledger()
        except (KafkaException, TimeoutError):  # the broker, said above; the rows stay
            return self.ledger_rows

    def _load_history(self, snapshot: Snapshot) -> None:
        # A consumer logs its assignment after the broker made it: wait a little, so that what
        # the first snapshots already showed is in the logs too.
        first = self.started or snapshot.time
        if (
            self.history_loaded
            or time.monotonic() < self.next_history_try
            or snapshot.time - first < HISTORY_DELAY
        ):
            return
        events = self.history()
        if events is None:
            self.docker_error = NO_DOCKER
            self.next_history_try = time.monotonic() + DOCKER_RETRY_S
            return
        partitions = [p.partition for p in snapshot.partitions]
        logged = timeline.from_events(events, partitions)
        self.watcher.history[:] = distinct([*logged, *self.watcher.history])
        self.history_loaded, self.docker_error = True, None

    def publish(self) -> None:
        state = page_state(
            self.snapshot,
            self.lags,
            self.broker_error,
            self.docker_error,
            self.updated,
            self.ledger_rows,
        )
        text = json.dumps(state, ensure_ascii=False)
        with self.changed:
            self.version += 1
            self.text = text
            self.changed.notify_all()

    def state(self, timeout_s: float) -> str:
        """The state for /state: a fresh one if no page was watching (the last may be up to
        UNWATCHED_INTERVAL_S old), else the latest."""
        with self.changed:
            fresh = not self.watched()
            self.asked = time.monotonic()
            seen = self.version
        if not fresh:
            return self.text
        self.wake.set()
        return self.wait(seen, timeout_s)[1] or self.text

    def open_stream(self) -> None:
        with self.changed:
            self.streams += 1
        self.wake.set()  # the page's first state is the latest; a fresh one follows at once

    def close_stream(self) -> None:
        with self.changed:
            self.streams -= 1

    def wait(self, seen: int, timeout_s: float) -> tuple[int, str | None]:
        """The state after version `seen`, once there is one (None after `timeout_s`)."""
        with self.changed:
            self.changed.wait_for(lambda: self.version > seen, timeout_s)
            return (self.version, self.text) if self.version > seen else (seen, None)

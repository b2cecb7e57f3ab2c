"""The fault drills, run while a fast stream of transactions flows, each checked with the ledger.

In order: kill -9 a consumer three times (restarting it each time), `docker pause` it past its
session timeout, restart the broker, stop and start every consumer gracefully; then stop the
stream and drain. After each fault the drills wait until every group has committed and logged
everything the topic held, then balance the ledger of each group:
- lost must be 0;
- new duplicates at most the batches in flight the fault could interrupt (0 for graceful stops).
Outside the ledger they check that no committed offset ever goes back (a fenced member's late
commit refused) and that the broker restart needed no container restart.

The "transactions" drill compares the processing guarantees: kill -9 one member of each group
three times (an exactly-once one while a transaction is open on the output topic), restart the
broker, drain; then read the output topic back read_committed and balance each group's outputs
against the stream: lost (an input with no output) must be 0; duplicates (an input with more
than one) must be 0 for an exactly-once group, and are counted for an at-least-once one. Any
other drill with a member running exactly-once (a cluster's broker faults) ends the same way.
A share group (the queue profile) has no offsets to commit and no partitions to lose: its drill
kills a member three times, restarts the broker and restarts every member gracefully. A record is
handled when a member accepts or rejects it (`record_acknowledged`); a record handled again
must be one whose acknowledgement the broker can have lost (its member was killed after handling
it: the lock expired; or said `acknowledgement_failed`: the restarting broker did not take it),
at most BATCH_SIZE per kill (the member's poll in hand, which librdkafka may make larger under a
backlog); a rejected record is never delivered again.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TypeVar

from confluent_kafka import KafkaException

from chaos import ledger
from chaos.ledger import Ledger
from chaos.playground import Member, Playground, PlaygroundError
from playground.groups import Group
from playground.host import Container, LogReader, TimedOut, healthy, wait_until
from playground.records import Position, positions, record

T = TypeVar("T")
KILLS = 3
FAULTS = ("consumers", "brokers", "transactions", "share")
CUT_OFF_S = 35  # longer than replica.lag.time.max.ms (30 s by default)
OUTAGE_S = 20  # two of three brokers down: well within the producer's message.timeout.ms (300 s)
# A delivery report logged this soon after a kill may be of a write acknowledged before it.
REPORT_LAG_S = 1.0
DEFAULT_SESSION_TIMEOUT_S = 45  # librdkafka's, and the broker's for the consumer protocol
SETTLE_S = 120  # on top of the session timeout, for the group to settle after a fault
POLL_S = 1.0


@dataclass(frozen=True)
class Check:
    """A group's ledger after one fault: what it added in duplicates, and what it may add."""

    fault: str
    group: str
    ledger: Ledger  # everything the stream sent up to this point
    new_duplicates: int
    allowed: int
    # Seconds from the fault (two brokers down: from their restart) to the group's first batch
    # holding a transaction the stream queued after the fault (broker faults only; "Recovery
    # time" in docs/cluster.md).
    recovery_s: float | None = None

    @property
    def ok(self) -> bool:
        return self.ledger.lost == 0 and self.new_duplicates <= self.allowed

    def row(self) -> dict[str, object]:
        """The ledger table's row, as `make chaos` publishes it for the web page."""
        return {
            "fault": self.fault,
            "group": self.group,
            "messages": self.ledger.sent,
            "lost": self.ledger.lost,
            "new_duplicates": self.new_duplicates,
            "allowed": self.allowed,
            "recovered_s": None if self.recovery_s is None else round(self.recovery_s, 1),
            "ok": self.ok,
        }


@dataclass(frozen=True)
class OutputCheck:
    """A group's outputs read back from the output topic at the end, against the stream."""

    group: str
    guarantee: str  # its members' PROCESSING_GUARANTEE
    ledger: Ledger  # read_committed: lost = inputs with no output, duplicates = extra outputs
    # At-least-once, the most duplicates the faults may cause: a batch in flight per fault that
    # could interrupt one (the sum of the group's checks' allowed); exactly-once, none.
    allowed: int
    aborted: int  # outputs only a read_uncommitted reader sees (in aborted transactions)

    @property
    def ok(self) -> bool:
        return self.ledger.lost == 0 and self.ledger.duplicates <= self.allowed


@dataclass(frozen=True)
class ReadBack:
    """The stream's delivery reports against the topic read back from Kafka at the end."""

    delivered: int  # transactions the producer reported delivered
    missing: int  # of those, not in the topic at the offset reported (or another id there)
    repeated: int  # transaction ids of the stream found at more than one offset
    # Reported failed (never re-sent): no promise either way, so only counted. One may be in
    # the topic all the same, if the leader had appended it before the producer gave up.
    failed: int = 0
    failed_in_topic: int = 0
    # Of `delivered`, reported without an offset (a retried batch the broker had written
    # already): checked by transaction id anywhere in the topic, not at an offset.
    unplaced: int = 0

    @property
    def ok(self) -> bool:
        return self.missing == 0 and self.repeated == 0

    def __str__(self) -> str:
        return (
            f"delivered={self.delivered} (without offset: {self.unplaced}) "
            f"missing={self.missing} repeated={self.repeated} "
            f"failed={self.failed} (in the topic anyway: {self.failed_in_topic})"
        )


@dataclass
class Report:
    checks: list[Check] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # promises broken outside the ledger
    read_back: ReadBack | None = None
    outputs: list[OutputCheck] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        read_back_ok = self.read_back is None or self.read_back.ok
        return (
            not self.problems
            and read_back_ok
            and all(c.ok for c in self.checks)
            and all(o.ok for o in self.outputs)
        )

    def final(self) -> dict[str, Ledger]:
        return {c.group: c.ledger for c in self.checks if c.fault == "drained"}


class Drills:
    def __init__(
        self,
        playground: Playground,
        say: Callable[[str], None] = print,
        on_check: Callable[[Check], None] = lambda check: None,
    ) -> None:
        self.pg = playground
        self.say = say
        self.on_check = on_check  # each ledger row as soon as it is balanced
        self.report = Report()
        self.started = datetime.now(UTC)
        self.members: list[Member] = []
        self.stream: Container = None
        self._high: dict[tuple[str, int], int] = {}  # highest committed offset seen
        # The ledger's two sides, read incrementally from the containers' logs.
        self._readers: dict[str, LogReader] = {}
        self._sent: set[Position] = set()
        self._sent_ids: dict[Position, str] = {}
        self._acked: list[tuple[datetime, Position]] = []  # when each delivery report was logged
        self._created: dict[Position, datetime] = {}  # when the stream queued each (CreateTime)
        self._failed: set[str] = set()  # transaction ids the stream reported failed
        self._unplaced: set[str] = set()  # ids reported delivered without an offset
        self._stream_events: list[tuple[datetime, str]] = []  # delivery_stalled, _resumed
        # (when, group, positions) of every batch processed, for recovery times.
        self._batches: list[tuple[datetime, str, list[Position]]] = []
        self._counts: dict[str, Counter[Position]] = {}
        self._events: dict[str, list[str]] = {}
        # Share groups: per record, each time a member handled it: (when, service, delivery
        # count, ack); per member, when its acknowledgements failed (and for which partition,
        # None: all) and when it was killed; the records already found wanting.
        self._handled: dict[Position, list[tuple[datetime, str, int, str]]] = {}
        self._ack_failed: dict[str, list[tuple[datetime, int | None]]] = {}
        self._kills: dict[str, list[datetime]] = {}
        self._flagged: set[Position] = set()
        self.share = False

    # ---- the drill sequence ----
    def run(self, count: int, interval_s: float, faults: str | None = None) -> Report:
        """Stream at least `count` transactions through `faults`: "consumers" (kill -9, pause,
        broker restart, graceful restarts), "brokers" (a cluster's: kill -9 a leader, then a
        coordinator, a rolling restart, a broker cut off, two brokers down), "transactions"
        (kill -9 each group's member mid-transaction, broker restart, then the output topic read
        back) or "share" (a share group's: kill -9 a member three times, broker restart, graceful
        restarts); by default "share" when the consumers are share group members, else "brokers"
        when the project runs more than one broker, else "transactions" when a consumer runs
        exactly-once, else "consumers"."""
        self.members = self.pg.members()
        if not self.members:
            raise PlaygroundError("no consumer is running: start the playground first (make up)")
        shared = {m.settings.group_type == "share" for m in self.members}
        if faults is None:
            if shared == {True}:
                faults = "share"
            elif len(self.pg.brokers()) > 1:
                faults = "brokers"
            elif any(m.settings.exactly_once for m in self.members):
                faults = "transactions"
            else:
                faults = "consumers"
        self.share = faults == "share"
        if shared != {self.share}:
            raise PlaygroundError(
                "the share drill needs only share group members running (make up PROFILE=queue), "
                "the others only consumer group members"
            )
        target = self._target()
        self.started = datetime.now(UTC)
        self.say(f"streaming transactions every {interval_s:g} s until {count} are acknowledged")
        self.stream = self.pg.start_stream(interval_s)
        try:
            self._wait(
                lambda: self._refresh() & self._counts[target.service].keys(),
                SETTLE_S,
                f"{target.service} to process the stream",
            )
            if faults == "brokers":
                self._broker_faults()
            elif faults == "transactions":
                self._transaction_faults()
            elif self.share:
                self._share_faults(target)
            else:
                self._consumer_faults(target)
            self._wait(
                lambda: len(self._refresh()) >= count,
                count * interval_s * 5 + SETTLE_S,
                f"{count} transactions to be acknowledged",
            )
            self.say("stopping the stream (SIGTERM: the producer flushes and exits)")
            self.stream.stop(timeout=60)
            self._expect_exit_0(self.stream, "the stream producer")
            self._checkpoint("drained", {})
            if faults == "brokers":
                self._read_back()
            # With a member running exactly-once, every drill (a cluster's broker faults too)
            # ends by balancing the outputs: exactly-once is a promise about them.
            if faults == "transactions" or any(m.settings.exactly_once for m in self.members):
                self._read_outputs()
        finally:
            self.stream.remove(force=True)
        return self.report

    def _consumer_faults(self, target: Member) -> None:
        for kill in range(1, KILLS + 1):
            self.say(f"kill -9 {target.service} ({kill}/{KILLS}), then start it again")
            target.container.kill()
            target.container.start()
            self._checkpoint(f"kill -9 #{kill}", {target.group: target.settings.repeat_bound})
        self._pause(target)
        self._checkpoint("pause", {target.group: target.settings.repeat_bound})
        self._restart_broker()
        self._checkpoint("broker restart", self._in_flight(self.members))
        self._graceful_restarts()
        self._checkpoint("graceful restarts", {})

    def _transaction_faults(self) -> None:
        """kill -9 one member of each group three times, then restart the broker. An
        exactly-once member is killed while a transaction is open on the output topic: its
        restart's init_transactions() must abort what the zombie left."""
        targets = self._targets()
        for kill in range(1, KILLS + 1):
            for t in targets:
                if t.settings.exactly_once:
                    wait_until(
                        lambda: self._try(self.pg.open_transactions),
                        SETTLE_S,
                        "a transaction open on the output topic",
                        every_s=0.01,
                    )
                self.say(f"kill -9 {t.service} ({t.settings.processing_guarantee}, {kill}/{KILLS})")
                t.container.kill()
                t.container.start()
            self._checkpoint(
                f"kill -9 #{kill}", {t.group: t.settings.repeat_bound for t in targets}
            )
        self._restart_broker()
        self._checkpoint("broker restart", self._in_flight(self.members))

    def _read_outputs(self) -> None:
        """Each group's outputs, read back read_committed, against what the stream sent."""
        self.say("reading the output topic back (read_committed, then read_uncommitted)")
        high: dict[int, int] = self._wait(
            lambda: self._try(self.pg.output_ends, False), SETTLE_S, "the output's end offsets"
        )

        def settled() -> dict[int, int] | None:
            # Outputs acknowledged but above a transaction still open are not readable yet.
            stable = self._try(self.pg.output_ends, True)
            return stable if stable and all(stable[p] >= e for p, e in high.items()) else None

        ends = self._wait(settled, SETTLE_S, "the transactions open on the output topic to end")
        committed = self.pg.read_outputs("read_committed", ends)
        everything = self.pg.read_outputs("read_uncommitted", ends)
        for group in self._groups():
            mine = Counter({pos: n for (g, pos), n in committed.items() if g == group})
            seen = sum(n for (g, _), n in everything.items() if g == group)
            guarantees = {m.settings.processing_guarantee for m in self.members if m.group == group}
            exactly_once = guarantees == {"exactly-once"}
            allowed = sum(c.allowed for c in self.report.checks if c.group == group)
            check = OutputCheck(
                group,
                "/".join(sorted(guarantees)),
                ledger.balance(self._sent, mine),
                0 if exactly_once else allowed,
                seen - sum(mine.values()),
            )
            self.report.outputs.append(check)
            self.say(
                f"  outputs of {group} ({check.guarantee}): {check.ledger} (allowed "
                f"{check.allowed}), aborted {check.aborted}" + ("" if check.ok else " ✗")
            )

    def _share_faults(self, target: Member) -> None:
        # A killed member repeats at most the poll in hand: processed, its acknowledgements not
        # yet committed (BATCH_SIZE asked for; more under a backlog). What it had acquired and
        # not processed comes back unprocessed.
        for kill in range(1, KILLS + 1):
            self.say(f"kill -9 {target.service} ({kill}/{KILLS}), then start it again")
            target.container.kill()
            # Taken once the kill returns: a record handled while the signal was on its way was
            # handled before this, and its repeat is explained by the kill.
            self._kills.setdefault(target.service, []).append(datetime.now(UTC))
            target.container.start()
            self._checkpoint(f"kill -9 #{kill}", {target.group: target.settings.batch_size})
        self._restart_broker()
        self._checkpoint("broker restart", self._in_flight(self.members))
        self._graceful_restarts()
        self._checkpoint("graceful restarts", {})

    def _broker_faults(self) -> None:
        # The members keep running through each: a batch each may be processed again if its
        # commit went to a coordinator that died, or its partition moved in a rebalance.
        in_flight = self._in_flight(self.members)
        leader = self._wait(lambda: self._leader(0), SETTLE_S, "partition 0 to have a leader")
        recovery = self._kill_broker(leader, "the leader of partition 0")
        self._checkpoint("kill -9 leader", in_flight, recovery)
        group = self._target().group
        coordinator = self._wait(
            lambda: self._try(self.pg.coordinator, group), SETTLE_S, f"{group}'s coordinator"
        )
        recovery = self._kill_broker(coordinator, f"the coordinator of {group}")
        self._checkpoint("kill -9 coordinator", in_flight, recovery)
        self._rolling_restart()
        self._checkpoint("rolling restart", in_flight)
        recovery = self._cut_off(max(self.pg.brokers()))
        self._checkpoint("cut off", in_flight, recovery)
        recovery = self._two_down()
        self._checkpoint("two brokers down", in_flight, recovery)

    def _kill_broker(self, broker_id: int, role: str) -> dict[str, float]:
        """kill -9 a broker; wait until every group processes a transaction queued after the
        fault; start the broker again and wait until every replica is back in sync. Returns
        each group's seconds to recover."""
        broker = self.pg.brokers()[broker_id]
        self.say(f"kill -9 broker {broker_id} ({broker.name}), {role}")
        broker.kill()
        fault = datetime.now(UTC)  # when `docker kill` returned: the broker is dead by then
        # No group request while it is down: librdkafka aborts the process when a connection
        # drops under an admin request to a group coordinator (librdkafka#4605).
        recovery = self._wait(
            lambda: self._recovered(fault), SETTLE_S, "every group to process new writes"
        )
        self.say(f"  recovered after {', '.join(f'{g}: {s:.1f} s' for g, s in recovery.items())}")
        self.say(f"start broker {broker_id} again, wait until every replica is in sync")
        broker.start()
        self._wait(lambda: healthy(broker), SETTLE_S, f"broker {broker_id} to be healthy")
        self._wait(self._in_sync, SETTLE_S, "every replica back in sync")
        self.pg.reconnect()
        return recovery

    def _cut_off(self, broker_id: int) -> dict[str, float]:
        """Disconnect a broker from the network for longer than replica.lag.time.max.ms: the
        controller fences it, its partitions get new leaders and the ISR shrinks without it.
        Reconnect it and wait until every replica is back in sync. Returns the recovery time
        of every group, as for a kill."""
        broker = self.pg.brokers()[broker_id]
        network, aliases = self.pg.network_of(broker)
        self.say(f"cut broker {broker_id} ({broker.name}) off the network for {CUT_OFF_S} s")
        network.disconnect(broker)
        fault = datetime.now(UTC)
        try:
            recovery = self._wait(
                lambda: self._recovered(fault), SETTLE_S, "every group to process new writes"
            )
            self._wait(
                lambda: self._out_of_sync(broker_id, fault),
                SETTLE_S,
                f"{CUT_OFF_S} s to pass and broker {broker_id} to drop out of every ISR",
            )
            self.say(f"  broker {broker_id} is out of every ISR")
        finally:
            network.connect(broker, aliases=aliases)
        self.say(f"reconnected broker {broker_id}, wait until every replica is in sync")
        self._wait(self._in_sync, SETTLE_S, "every replica back in sync")
        self.pg.reconnect()
        return recovery

    def _two_down(self) -> dict[str, float]:
        """kill -9 two of the three brokers for OUTAGE_S: every partition has one replica left,
        below min.insync.replicas, and the KRaft quorum (two of three) is gone, so nothing can
        be acknowledged. The stream must report no delivery meanwhile; its transactions wait in
        librdkafka's queue (retried until message.timeout.ms, 300 s). Then start both again:
        each group's recovery time counts from that start, to its first batch of a transaction
        queued during the outage."""
        brokers = self.pg.brokers()
        down = sorted(brokers)[-2:]
        self.say(f"kill -9 brokers {down[0]} and {down[1]}: the quorum and min ISR are lost")
        killing = datetime.now(UTC)
        for broker_id in down:
            brokers[broker_id].kill()
        # After both kills: on a busy machine `docker kill` takes seconds, and until the second
        # one lands a write can still be acknowledged.
        fault = datetime.now(UTC)
        # No admin request while they are down (librdkafka#4605): time passes, logs are read.
        self._wait(
            lambda: (datetime.now(UTC) - fault).total_seconds() > OUTAGE_S,
            OUTAGE_S + SETTLE_S,
            f"{OUTAGE_S} s with two brokers down",
        )
        back = datetime.now(UTC)
        self._refresh()
        quiet = (fault + timedelta(seconds=REPORT_LAG_S), back)
        acked = [p for when, p in self._acked if quiet[0] < when < quiet[1]]
        self.say(f"  acknowledged while two brokers were down: {len(acked)}")
        if acked:
            self.report.problems.append(
                f"two brokers down: {len(acked)} transactions reported delivered with one "
                "broker left (acks=all, min.insync.replicas=2 allows none)"
            )
        self.say(f"start brokers {down[0]} and {down[1]} again")
        for broker_id in down:
            brokers[broker_id].start()
        recovery = self._wait(
            lambda: self._recovered(fault, since=back),
            SETTLE_S * 2,
            "every group to process the transactions held during the outage",
        )
        self.say(f"  recovered after {', '.join(f'{g}: {s:.1f} s' for g, s in recovery.items())}")
        for broker_id in down:
            self._wait(
                partial(healthy, brokers[broker_id]), SETTLE_S, f"broker {broker_id} to be healthy"
            )
        self._wait(self._in_sync, SETTLE_S, "every replica back in sync")
        self.pg.reconnect()
        self._refresh()
        said = [e for when, e in self._stream_events if when > killing]
        if said[:2] != ["delivery_stalled", "delivery_resumed"]:
            self.report.problems.append(
                f"two brokers down: the stream said {said or 'nothing'}, not that deliveries "
                "stalled and then resumed"
            )
        return recovery

    def _out_of_sync(self, broker_id: int, since: datetime) -> bool:
        found = self._try(self.pg.partitions)
        return (
            (datetime.now(UTC) - since).total_seconds() > CUT_OFF_S
            and found is not None
            and all(broker_id not in r.in_sync for r in found.values())
        )

    def _rolling_restart(self) -> None:
        """Stop (SIGTERM: a controlled shutdown hands its leaderships over first) and start
        each broker in turn, each time waiting until every replica is back in sync."""
        for broker_id, broker in sorted(self.pg.brokers().items()):
            self.say(f"rolling restart: broker {broker_id} ({broker.name})")
            broker.stop(timeout=60)
            broker.start()
            self._wait(partial(healthy, broker), SETTLE_S, f"broker {broker_id} to be healthy")
            self._wait(self._in_sync, SETTLE_S, "every replica back in sync")
        self.pg.reconnect()

    def _leader(self, partition: int) -> int | None:
        found = self._try(self.pg.partitions)
        leader = found[partition].leader if found and partition in found else -1
        return leader if leader >= 0 else None

    def _in_sync(self) -> bool:
        found = self._try(self.pg.partitions)
        return bool(found) and all(
            set(r.in_sync) == set(r.replicas) for r in (found or {}).values()
        )

    def _recovered(self, fault: datetime, since: datetime | None = None) -> dict[str, float] | None:
        """Per group, seconds from `since` (by default the fault) to its first batch holding a
        transaction of the stream that the stream queued after the fault (the record's
        CreateTime); None until every group has one.

        Queued, not acknowledged, after the fault: a delivery report logged just after a kill
        may be of a write acknowledged just before it, and a batch holding it says nothing
        about recovery. Any partition: each has a replica on every broker, and acks=all waits
        for the dead one until the controller fences it, so all of them stall, not only those
        it led. (The playground's own producer writes to the topic too: only the stream's
        transactions count, by the positions its reports give.)"""
        self._refresh()
        late = {position for position, created in self._created.items() if created > fault}
        first: dict[str, datetime] = {}
        for when, group, done in self._batches:
            if when > fault and not late.isdisjoint(done):
                first[group] = min(first.get(group, when), when)
        if set(first) != set(self._groups()):
            return None
        start = since or fault
        return {g: (t - start).total_seconds() for g, t in sorted(first.items())}

    def _read_back(self) -> None:
        """Every transaction the stream was told is delivered must be in the topic, once."""
        ends: dict[int, int] = self._wait(self._ends, SETTLE_S, "the end offsets")
        self.say("reading the topic back from Kafka")
        found = self.pg.read_back(ends)
        missing = sum(1 for p, tid in self._sent_ids.items() if found.get(p) != tid)
        missing += len(self._unplaced - set(found.values()))
        ours = set(self._sent_ids.values()) | self._failed | self._unplaced
        times = Counter(tid for tid in found.values() if tid in ours)
        repeated = sum(1 for n in times.values() if n > 1)
        failed_in_topic = len(self._failed & set(found.values()))
        self.report.read_back = ReadBack(
            len(self._sent_ids) + len(self._unplaced),
            missing,
            repeated,
            len(self._failed),
            failed_in_topic,
            len(self._unplaced),
        )
        self.say(f"  read back: {self.report.read_back}")

    def _target(self) -> Member:
        """The consumer to hurt: bravo in a shared group if there is one."""
        sizes = Counter(m.group for m in self.members)
        return min(self.members, key=lambda m: (sizes[m.group] < 2, m.client != "bravo", m.service))

    def _targets(self) -> list[Member]:
        """One member of each group to hurt: bravo where there is one."""
        chosen: dict[str, Member] = {}
        for m in sorted(self.members, key=lambda m: (m.client != "bravo", m.service)):
            chosen.setdefault(m.group, m)
        return [chosen[g] for g in sorted(chosen)]

    def _pause(self, target: Member) -> None:
        timeout_s = self._session_timeout_s(target)
        self.say(f"docker pause {target.service} until its group evicts it (~{timeout_s:g} s)")
        target.container.pause()
        try:
            self._wait(
                lambda: not self._owns(target), timeout_s + SETTLE_S, "the group to evict it"
            )
        finally:
            self._refresh()
            woke = len(self._events[target.service])
            target.container.unpause()
        self._wait(lambda: self._owns(target), SETTLE_S, f"{target.service} to rejoin")
        self._refresh()
        if not set(self._events[target.service][woke:]) & {"partitions_lost", "commit_failed"}:
            self.report.problems.append(f"{target.service} never noticed it had been evicted")

    def _restart_broker(self) -> None:
        self.say("restarting the broker")
        watched = [self.stream, *(m.container for m in self.members)]
        before = {c.name: started_at(c) for c in watched}
        kafka = self.pg.container("kafka")
        kafka.restart(timeout=60)
        # No group request until the broker is back: librdkafka aborts the process when a
        # connection drops under an admin request to a group coordinator (librdkafka#4605).
        self._wait(lambda: healthy(kafka), SETTLE_S, "the broker to be healthy")
        self.pg.reconnect()
        self._wait(self._ends, SETTLE_S, "the broker to answer")
        for c in watched:
            if started_at(c) != before[c.name]:
                self.report.problems.append(f"{c.name} had to be restarted after the broker's")

    def _graceful_restarts(self) -> None:
        names = ", ".join(m.service for m in self.members)
        self.say(f"docker stop, then docker start: {names}")
        for m in self.members:
            m.container.stop(timeout=60)
            self._expect_exit_0(m.container, m.service)
        for m in self.members:
            m.container.start()

    # ---- checking ----
    def _checkpoint(
        self, fault: str, allowed: dict[str, int], recovery: dict[str, float] | None = None
    ) -> None:
        """Wait until every group committed and logged all the topic holds now; balance."""
        ends: dict[int, int] = self._wait(self._ends, SETTLE_S, "the end offsets")
        timeout_s = max(map(self._session_timeout_s, self.members)) + SETTLE_S

        def caught_up() -> bool:
            if not self.share:  # a share group commits no offsets
                groups = self._view()
                if len(groups) != len(self._groups()):
                    return False
                for group in groups.values():
                    if any(group.committed.get(p, 0) < end for p, end in ends.items()):
                        return False
            self._refresh()
            below = self._below(ends)
            return all(below <= counts.keys() for counts in self._processed_by_group().values())

        try:
            self._wait(lambda: self._try(caught_up), timeout_s, "every group to catch up")
        except TimedOut as exc:
            self.report.problems.append(f"{fault}: {exc}")  # the ledger below says what is missing
        self._refresh()
        below = self._below(ends)
        for group, counts in sorted(self._processed_by_group().items()):
            if missing := sorted(p for p in below if not counts[p]):
                shown = ", ".join(f"p{p}@{o}" for p, o in missing[:10])
                self.report.problems.append(f"{fault}: {group} never processed {shown} ...")
            before = next(
                (c.ledger for c in reversed(self.report.checks) if c.group == group), None
            )
            now = ledger.balance(below, counts)
            new = now.duplicates - (before.duplicates if before else 0)
            check = Check(
                fault, group, now, new, allowed.get(group, 0), (recovery or {}).get(group)
            )
            self.report.checks.append(check)
            if self.share:
                self._check_redeliveries(fault)
            self.on_check(check)
            self.say(
                f"  {fault}, {group}: {now} (new {new}, allowed {check.allowed})"
                + ("" if check.ok else " ✗")
            )

    def _check_redeliveries(self, fault: str) -> None:
        """A share group's records: each handled again only where the broker can have lost the
        acknowledgement of its previous handling (that member was killed after it, or logged
        `acknowledgement_failed` after it), and none delivered again once rejected."""
        for position, times in sorted(self._handled.items()):
            if position in self._flagged:
                continue
            times = sorted(times)
            p, o = position
            rejected = [n for _, _, n, ack in times if ack == "reject"]
            if rejected and max(n for _, _, n, _ in times) > min(rejected):
                self._flagged.add(position)
                self.report.problems.append(f"{fault}: p{p}@{o} delivered again after its reject")
            for (when, service, n, _), (again, other, m, _) in itertools.pairwise(times):
                if not self._ack_lost(service, p, when, again):
                    self._flagged.add(position)
                    self.report.problems.append(
                        f"{fault}: p{p}@{o} handled again (delivery {m}, {other}) with nothing "
                        f"to explain it: {service} handled delivery {n} at {when:%H:%M:%S.%f}"
                    )
                    break

    def _ack_lost(self, service: str, partition: int, start: datetime, end: datetime) -> bool:
        """Whether `service` can have lost the acknowledgement of a record of `partition` it
        handled at `start`, by `end`: it was killed, or said its acknowledgements failed."""
        killed = any(start <= k <= end for k in self._kills.get(service, []))
        failed = any(
            start <= t <= end and q in (None, partition)
            for t, q in self._ack_failed.get(service, [])
        )
        return killed or failed

    def _watch_commits(self, group: str, committed: dict[int, int]) -> None:
        """No committed offset may ever go back: that would be a late commit applied."""
        for partition, offset in committed.items():
            high = self._high.get((group, partition), -1)
            if offset < high:
                self.report.problems.append(
                    f"{group}: committed offset of partition {partition} went back "
                    f"from {high} to {offset}"
                )
            self._high[(group, partition)] = max(high, offset)

    def _expect_exit_0(self, container: Container, what: str) -> None:
        container.reload()
        code = container.attrs["State"]["ExitCode"]
        if code != 0:
            self.report.problems.append(f"{what} exited with code {code} when stopped")

    # ---- reading the ledger's two sides ----
    def _refresh(self) -> set[Position]:
        """Read what the stream and the consumers logged since the last look; return `sent`."""
        for c in (self.stream, *(m.container for m in self.members)):
            if c.id not in self._readers:
                self._readers[c.id] = LogReader(c, self.started)
        for when, line in self._readers[self.stream.id].read_stamped():
            sent = record(line)
            if sent is not None and sent.get("event") == "transaction_failed":
                self._failed.add(str(sent["transaction_id"]))
            if sent is not None and sent.get("event") in ("delivery_stalled", "delivery_resumed"):
                self._stream_events.append((when, str(sent["event"])))
            if sent is not None and sent.get("event") == "transaction_sent":
                if sent.get("offset") is None:
                    # Acknowledged without an offset: librdkafka's report when the broker
                    # answers a retried batch with DUPLICATE_SEQUENCE_NUMBER (written before).
                    # Its place is unknown, so only the read-back can check it, by id.
                    self._unplaced.add(str(sent["transaction_id"]))
                    continue
                position = (int(sent["partition"]), int(sent["offset"]))
                self._sent.add(position)
                self._sent_ids[position] = str(sent["transaction_id"])
                self._acked.append((when, position))
                created = sent.get("create_time_ms")
                self._created[position] = (
                    datetime.fromtimestamp(created / 1000, UTC) if created else when
                )
        for m in self.members:
            counts = self._counts.setdefault(m.service, Counter())
            events = self._events.setdefault(m.service, [])
            for when, line in self._readers[m.container.id].read_stamped():
                batch = record(line)
                if batch is None or (name := batch.get("event")) is None:
                    continue
                events.append(str(name))
                if name == "batch_processed":
                    done = positions(batch["offsets"])
                    counts.update(done)
                    self._batches.append((when, m.group, done))
                elif name == "record_acknowledged" and batch["ack"] != "release":
                    # Handled: accepted (processed) or rejected (dead-lettered).
                    position = (int(batch["partition"]), int(batch["offset"]))
                    counts[position] += 1
                    self._batches.append((when, m.group, [position]))
                    self._handled.setdefault(position, []).append(
                        (when, m.service, int(batch["delivery_count"]), str(batch["ack"]))
                    )
                elif name == "acknowledgement_failed":
                    partition = batch.get("partition")
                    self._ack_failed.setdefault(m.service, []).append(
                        (when, None if partition is None else int(partition))
                    )
        return self._sent

    # Both read what the last _refresh() gathered: one pass over the logs serves both sides.
    def _below(self, ends: dict[int, int]) -> set[Position]:
        return {(p, o) for p, o in self._sent if o < ends.get(p, 0)}

    def _processed_by_group(self) -> dict[str, Counter[Position]]:
        groups: dict[str, Counter[Position]] = {g: Counter() for g in self._groups()}
        for m in self.members:
            groups[m.group] += self._counts[m.service]
        return groups

    # ---- small helpers ----
    def _groups(self) -> tuple[str, ...]:
        return tuple(sorted({m.group for m in self.members}))

    def _in_flight(self, members: list[Member]) -> dict[str, int]:
        """Per group, the batches its members can have processed and not yet committed."""
        allowed: Counter[str] = Counter()
        for m in members:
            allowed[m.group] += m.settings.repeat_bound
        return dict(allowed)

    def _owns(self, member: Member) -> bool:
        view = self._view().get(member.group)
        return view is not None and any(
            m.client_id == member.client and m.partitions for m in view.members
        )

    def _ends(self) -> dict[int, int] | None:
        return self._try(self.pg.end_offsets)

    def _view(self) -> dict[str, Group]:
        """The groups now; every look also checks that no committed offset went back."""
        groups = self.pg.groups(self._groups())
        for group in groups.values():
            self._watch_commits(group.group_id, group.committed)
        return groups

    def _session_timeout_s(self, member: Member) -> float:
        ms = member.settings.session_timeout_ms
        return ms / 1000 if ms else DEFAULT_SESSION_TIMEOUT_S

    @staticmethod
    def _try(check: Callable[..., T], *args: object) -> T | None:
        """`check`, or None while the broker does not answer (it may be restarting)."""
        try:
            return check(*args)
        except (KafkaException, TimeoutError):
            return None

    def _wait(self, check: Callable[[], T | None], timeout_s: float, what: str) -> T:
        return wait_until(check, timeout_s, what, every_s=POLL_S)


def started_at(container: Container) -> str:
    container.reload()
    return str(container.attrs["State"]["StartedAt"])

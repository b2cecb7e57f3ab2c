"""Scripted stand-ins for confluent_kafka's Consumer and Producer, for the consumer's unit tests.

They do what a broker would, on cue: the test scripts assignments, revokes, losses, commit
results and delivery reports; the fakes record what the code under test asked for. Messages
are real `confluent_kafka.Message` objects (the client lets tests build them).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from confluent_kafka import (
    AcknowledgeType,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    ShareConsumer,
    TopicPartition,
)

from playground.shutdown import StopFlag
from playground.transaction import TransactionFactory

TOPIC = "transactions"
GOOD = TransactionFactory(seed=1)().to_json()  # a valid transaction's bytes


def message(
    partition: int,
    offset: int,
    value: bytes | None = GOOD,
    *,
    topic: str = TOPIC,
    key: bytes | None = None,
    headers: Sequence[tuple[str, str | bytes | None]] | None = None,
    error: KafkaError | None = None,
) -> Message:
    return Message(
        topic=topic,
        partition=partition,
        offset=offset,
        key=key,
        value=value,
        headers=None if headers is None else list(headers),
        error=error,
    )


def tps(*partitions: int, topic: str = TOPIC) -> list[TopicPartition]:
    return [TopicPartition(topic, p) for p in partitions]


@dataclass
class CommitResult:
    """What Consumer.commit() returns per partition (TopicPartition.error is read-only)."""

    topic: str
    partition: int
    offset: int
    error: KafkaError | None = None


# One scripted answer to a commit: None = success; a KafkaError = the whole request fails
# with it (raised as KafkaException); {partition: KafkaError} = those partitions fail.
# Any other exception is raised as it is. IN_FLIGHT (asynchronous commits only): no answer
# until the test calls answer_in_flight().
IN_FLIGHT = "in flight"
CommitAnswer = KafkaError | dict[int, KafkaError] | Exception | str | None


class FakeConsumer:
    """Serves `consume()` from per-partition logs, honouring pause/resume and the assignment.

    `script` holds one action per consume() call, run before it returns (the way librdkafka
    runs rebalance callbacks inside consume()); when the script runs out, `stop` is set.
    """

    def __init__(self, stop: StopFlag) -> None:
        self.stop = stop
        self.logs: dict[int, deque[Message]] = {}
        self.script: deque[Callable[[], object]] = deque()
        self.commit_answers: deque[CommitAnswer] = deque()
        self.commit_forever: CommitAnswer = None  # the answer once commit_answers runs out
        self.commits: list[dict[int, int]] = []  # every commit asked for
        self.async_commits: list[dict[int, int]] = []  # those asked for asynchronously
        # Asynchronous commits not answered yet: the next consume() answers them to on_commit
        # (the config's callback in librdkafka), except those IN_FLIGHT.
        self.unanswered: list[tuple[list[TopicPartition], CommitAnswer]] = []
        self.on_commit: Callable[[KafkaError | None, list[Any]], None] | None = None
        self.committed_offsets: dict[int, int] = {}  # what the broker holds
        self.coordinator_away = False  # committed() then times out
        self.committed_timeouts: list[float] = []
        self.committed_asked: list[list[int]] = []
        self.waited: Callable[[float], object] = lambda _: None  # told how long committed() hung
        self.assigned: set[int] = set()
        self.paused: set[int] = set()
        self.pause_calls: list[list[int]] = []
        self.consumed: list[tuple[int, int]] = []  # every message handed out
        self.late: list[Message] = []  # handed out by the next consume(), assigned or not
        # The most messages ever handed out and not committed: the cost of a crash then.
        self.most_uncommitted = 0
        self.committed_at_close: dict[int, int] | None = None
        self.closed = False
        self.callbacks: dict[str, Callable[[Consumer, list[TopicPartition]], None]] = {}
        # Exactly-once: every message handed out (seek() hands them out again) and every seek.
        self.handed: dict[int, list[Message]] = {}
        self.seeks: list[tuple[int, int]] = []

    def as_consumer(self) -> Consumer:
        return cast(Consumer, self)

    # --- what the test scripts ---

    def produce(self, partition: int, *offsets: int, value: bytes = GOOD) -> None:
        log = self.logs.setdefault(partition, deque())
        log.extend(message(partition, o, value) for o in offsets)

    def put(self, *messages: Message) -> None:
        for m in messages:
            self.logs.setdefault(m.partition() or 0, deque()).append(m)

    def then(self, action: Callable[[], object]) -> FakeConsumer:
        self.script.append(action)
        return self

    def idle(self, times: int = 1) -> FakeConsumer:
        for _ in range(times):
            self.script.append(lambda: None)
        return self

    def assign(self, *partitions: int) -> None:
        self.assigned |= set(partitions)
        self.callbacks["on_assign"](self.as_consumer(), tps(*partitions))

    def revoke(self, *partitions: int) -> None:
        self.callbacks["on_revoke"](self.as_consumer(), tps(*partitions))
        self.assigned -= set(partitions)

    def lose(self, *partitions: int) -> None:
        self.callbacks["on_lost"](self.as_consumer(), tps(*partitions))
        self.assigned -= set(partitions)

    # --- confluent_kafka.Consumer's interface, as the loop uses it ---

    def subscribe(self, topics: list[str], **callbacks: Any) -> None:
        assert topics == [TOPIC]
        self.callbacks = callbacks

    def consume(self, num_messages: int = 1, timeout: float = -1) -> list[Message]:
        self._answer(lambda answer: not isinstance(answer, str))  # IN_FLIGHT waits
        if self.script:
            self.script.popleft()()
        else:
            self.stop.set()
        out, self.late = self.late, []
        for partition in sorted(self.assigned - self.paused):
            log = self.logs.get(partition, deque())
            while log and len(out) < num_messages:
                out.append(log.popleft())
        self.consumed += [(m.partition() or 0, m.offset() or 0) for m in out]
        for m in out:
            self.handed.setdefault(m.partition() or 0, []).append(m)
        self.most_uncommitted = max(self.most_uncommitted, len(self.uncommitted()))
        return out

    def uncommitted(self) -> list[tuple[int, int]]:
        return [(p, o) for p, o in self.consumed if o >= self.committed_offsets.get(p, 0)]

    def commit(self, offsets: list[TopicPartition], asynchronous: bool = True) -> Any:
        """Synchronous: the answer is returned or raised. Asynchronous: the next consume()
        applies it and reports it to `on_commit`, unless it is IN_FLIGHT."""
        self.commits.append({tp.partition: tp.offset for tp in offsets})
        answer = self.commit_answers.popleft() if self.commit_answers else self.commit_forever
        if asynchronous:
            if isinstance(answer, KafkaException):  # refused at once, as librdkafka can
                raise answer
            self.async_commits.append(self.commits[-1])
            self.unanswered.append((offsets, answer))
            return None
        return self._apply(offsets, answer)

    def answer_in_flight(self, answer: CommitAnswer = None) -> None:
        """The broker answers the commits IN_FLIGHT: the next consume() reports `answer`."""
        self.unanswered = [(o, answer if isinstance(a, str) else a) for o, a in self.unanswered]

    def _answer(self, which: Callable[[CommitAnswer], bool]) -> None:
        due = [(o, a) for o, a in self.unanswered if which(a)]
        self.unanswered = [(o, a) for o, a in self.unanswered if not which(a)]
        for offsets, answer in due:
            assert self.on_commit is not None, "an asynchronous commit needs on_commit"
            if isinstance(answer, KafkaError):
                results = [CommitResult(tp.topic, tp.partition, tp.offset) for tp in offsets]
                self.on_commit(answer, results)
            else:
                self.on_commit(None, self._apply(offsets, answer))

    def _apply(self, offsets: list[TopicPartition], answer: CommitAnswer) -> Any:
        if isinstance(answer, KafkaError):
            raise KafkaException(answer)
        if isinstance(answer, Exception):
            raise answer
        failed = answer if isinstance(answer, dict) else {}
        results = []
        for tp in offsets:
            error = failed.get(tp.partition)
            if error is None:
                self.committed_offsets[tp.partition] = tp.offset
            results.append(CommitResult(tp.topic, tp.partition, tp.offset, error))
        return results

    def committed(self, partitions: list[TopicPartition], timeout: float = -1) -> Any:
        """What the broker holds; raises as librdkafka does when no coordinator answers."""
        self.committed_timeouts.append(timeout)
        self.committed_asked.append([tp.partition for tp in partitions])
        if self.coordinator_away:
            self.waited(timeout)
            raise KafkaException(KafkaError(KafkaError._TIMED_OUT))
        return [
            CommitResult(tp.topic, tp.partition, self.committed_offsets.get(tp.partition, -1001))
            for tp in partitions
        ]

    def seek(self, tp: TopicPartition) -> None:
        """Hand out again, from tp.offset (OFFSET_BEGINNING: from the first), what was handed
        out of the partition."""
        self.seeks.append((tp.partition, tp.offset))
        log = self.logs.setdefault(tp.partition, deque())
        waiting = {m.offset() for m in log}
        again = {
            m.offset(): m
            for m in self.handed.get(tp.partition, [])
            if (m.offset() or 0) >= max(tp.offset, 0) and m.offset() not in waiting
        }
        log.extendleft(m for _, m in sorted(again.items(), reverse=True))

    def consumer_group_metadata(self) -> object:
        return ("group metadata", sorted(self.assigned))

    def assignment(self) -> list[TopicPartition]:
        return tps(*sorted(self.assigned))

    def pause(self, partitions: Iterable[TopicPartition]) -> None:
        moved = sorted(tp.partition for tp in partitions)
        self.pause_calls.append(moved)
        self.paused |= set(moved)

    def resume(self, partitions: Iterable[TopicPartition]) -> None:
        self.paused -= {tp.partition for tp in partitions}

    def close(self) -> None:
        """Like librdkafka's: leaving the group revokes what the consumer still holds."""
        self.closed = True
        self.committed_at_close = dict(self.committed_offsets)
        if self.assigned and self.callbacks:
            self.revoke(*sorted(self.assigned))


@dataclass
class Produced:
    topic: str
    partition: int | None
    key: bytes | None
    value: bytes | None
    headers: dict[str, bytes]


class FakeProducer:
    """Takes dead letters; refuses one larger than `max_bytes` the way librdkafka's produce()
    does, and reports each delivery on flush() with `delivery_error(produced)`."""

    def __init__(self, max_bytes: int = 1_000_000) -> None:
        self.max_bytes = max_bytes
        self.partitions = 3  # how many the dead-letter topic has
        self.produced: list[Produced] = []  # accepted by produce()
        self.delivered: list[Produced] = []  # acknowledged on flush()
        # Raised by the next produce(): a KafkaError as librdkafka would, or any exception.
        self.produce_error: KafkaError | Exception | None = None
        self.delivery_error: Callable[[Produced], KafkaError | None] = lambda p: None
        self.unacknowledged = 0  # what flush() leaves in the queue
        self.flushes = 0
        self.flush_timeouts: list[float] = []
        self._queue: list[tuple[Produced, Callable[..., None]]] = []
        # Transactions (exactly-once): commit_transaction() makes what was produced since
        # begin_transaction() visible to read_committed readers and commits the offsets sent
        # to the transaction on `consumer`; abort_transaction() discards both.
        self.consumer: FakeConsumer | None = None
        self.calls: list[str] = []  # every transactional call, in order
        # Scripted answers of each call, one per call: None passes, an error is raised.
        self.call_errors: dict[str, deque[KafkaError | None]] = {}
        self.visible: list[Produced] = []  # what a read_committed reader sees
        self._begun_at = 0
        self._txn_offsets: dict[int, int] = {}

    def as_producer(self) -> Producer:
        return cast(Producer, self)

    def produce(
        self,
        topic: str,
        value: bytes | None = None,
        key: bytes | None = None,
        partition: int = -1,
        on_delivery: Callable[..., None] | None = None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> None:
        if self.produce_error is not None:
            error, self.produce_error = self.produce_error, None
            raise KafkaException(error) if isinstance(error, KafkaError) else error
        size = len(value or b"") + len(key or b"") + sum(len(k) + len(v) for k, v in headers or [])
        if size > self.max_bytes:
            raise KafkaException(KafkaError(KafkaError.MSG_SIZE_TOO_LARGE))
        if partition >= self.partitions:
            raise KafkaException(KafkaError(KafkaError._UNKNOWN_PARTITION))
        produced = Produced(
            topic, None if partition < 0 else partition, key, value, dict(headers or [])
        )
        self.produced.append(produced)
        assert on_delivery is not None
        self._queue.append((produced, on_delivery))

    def poll(self, timeout: float = -1) -> int:
        """Reports the deliveries, unless the broker is away (`unacknowledged`)."""
        if not self.unacknowledged:
            self._deliver()
        return 0

    def flush(self, timeout: float = -1) -> int:
        self.flushes += 1
        self.flush_timeouts.append(timeout)
        self._deliver()
        return self.unacknowledged

    def _deliver(self) -> None:
        queue, self._queue = self._queue, []
        for produced, on_delivery in queue:
            error = self.delivery_error(produced)
            if error is None:
                self.delivered.append(produced)
            on_delivery(
                error,
                message(
                    produced.partition if produced.partition is not None else 0,
                    len(self.delivered),
                    produced.value,
                    topic=produced.topic,
                    key=produced.key,
                    headers=list(produced.headers.items()),
                ),
            )

    # --- transactions ---

    def fail(self, call: str, *errors: KafkaError | None) -> None:
        """The next calls of `call` raise these errors, one each (None: that call passes)."""
        self.call_errors.setdefault(call, deque()).extend(errors)

    def _call(self, name: str) -> None:
        self.calls.append(name)
        errors = self.call_errors.get(name)
        error = errors.popleft() if errors else None
        if error is not None:
            raise KafkaException(error)

    def init_transactions(self, timeout: float = -1) -> None:
        self._call("init_transactions")

    def begin_transaction(self) -> None:
        self._call("begin_transaction")
        self._begun_at = len(self.produced)
        self._txn_offsets = {}

    def send_offsets_to_transaction(
        self, offsets: list[TopicPartition], metadata: object, timeout: float = -1
    ) -> None:
        self._call("send_offsets_to_transaction")
        assert metadata is not None
        self._txn_offsets.update({tp.partition: tp.offset for tp in offsets})

    def commit_transaction(self, timeout: float = -1) -> None:
        self._call("commit_transaction")
        self.visible.extend(self.produced[self._begun_at :])
        if self.consumer is not None:
            self.consumer.committed_offsets.update(self._txn_offsets)
        self._begun_at = len(self.produced)

    def abort_transaction(self, timeout: float = -1) -> None:
        self._call("abort_transaction")
        self._begun_at = len(self.produced)
        self._txn_offsets = {}


class FakeShareConsumer:
    """A share group's broker and one member, as far as that member sees them.

    Serves poll() from per-partition logs the way a share partition does: each record handed
    out is acquired, its delivery count one higher; an acknowledgement takes effect when it is
    committed: ACCEPT and REJECT end the record, RELEASE makes it available again, first in
    line, unless it has had `limit` deliveries: then the broker archives it (`archived`), the
    way a record is lost to the application. `script` holds one action per poll(), run before
    it hands records out; when the script runs out, `stop` is set.
    """

    def __init__(self, stop: StopFlag, limit: int = 5, max_records: int = 100) -> None:
        self.stop = stop
        self.limit = limit
        self.max_records = max_records
        self.available: deque[tuple[int, int, bytes | None]] = deque()
        self.values: dict[tuple[int, int], bytes | None] = {}
        self.deliveries: dict[tuple[int, int], int] = {}
        self.acquired: dict[tuple[int, int], Message] = {}  # handed out, not acknowledged
        self.pending: dict[tuple[int, int], AcknowledgeType] = {}  # acknowledged, not committed
        self.outcome: dict[tuple[int, int], AcknowledgeType] = {}  # committed acknowledgements
        self.archived: list[tuple[int, int]] = []  # past the delivery count limit, unseen
        self.handed: list[tuple[int, int, int]] = []  # (partition, offset, delivery count)
        self.script: deque[Callable[[], object]] = deque()
        self.commit_answers: deque[Exception | dict[int, KafkaError] | None] = deque()
        self.commits = 0
        self.events: list[str] = []  # the order of poll / commit / close
        self.errors: list[Message] = []  # handed out by the next poll, before any record
        self.closed = False

    def as_share_consumer(self) -> ShareConsumer:
        return cast(ShareConsumer, self)

    # --- what the test scripts ---

    def produce(self, partition: int, *offsets: int, value: bytes | None = GOOD) -> None:
        for o in offsets:
            self.values[(partition, o)] = value
            self.available.append((partition, o, value))

    def then(self, action: Callable[[], object]) -> FakeShareConsumer:
        self.script.append(action)
        return self

    def idle(self, times: int = 1) -> FakeShareConsumer:
        for _ in range(times):
            self.script.append(lambda: None)
        return self

    # --- the ShareConsumer API the loop uses ---

    def subscribe(self, topics: list[str]) -> None:
        self.topics = topics

    def poll(self, timeout: float = -1) -> list[Message]:
        if self.acquired.keys() - self.pending.keys():
            raise RuntimeError("IllegalStateException: records of the last poll not acknowledged")
        self._commit_pending()
        self.events.append("poll")
        if not self.script:
            self.stop.set()
            return []
        self.script.popleft()()
        out, self.errors = list(self.errors), []
        while self.available and len(out) < self.max_records:
            partition, offset, value = self.available.popleft()
            count = self.deliveries.get((partition, offset), 0) + 1
            self.deliveries[(partition, offset)] = count
            m = Message(
                topic=TOPIC, partition=partition, offset=offset, value=value, delivery_count=count
            )
            self.acquired[(partition, offset)] = m
            self.handed.append((partition, offset, count))
            out.append(m)
        return out

    def acknowledge(self, message: Message, ack_type: AcknowledgeType) -> None:
        key = (message.partition() or 0, message.offset() or 0)
        assert key in self.acquired, f"{key} acknowledged but not acquired"
        self.pending[key] = ack_type

    def commit_sync(self, timeout: float = 60) -> dict[TopicPartition, KafkaException | None]:
        self.events.append("commit")
        self.commits += 1
        answer = self.commit_answers.popleft() if self.commit_answers else None
        if isinstance(answer, Exception):
            self._expire(set(self.pending))
            raise answer
        failed = answer or {}
        tps = {p for p, _ in self.pending}
        self._expire({k for k in self.pending if k[0] in failed})
        self._commit_pending()
        return {
            TopicPartition(TOPIC, p): KafkaException(failed[p]) if p in failed else None
            for p in sorted(tps)
        }

    def close(self) -> None:
        self.events.append("close")
        self._commit_pending()
        # Leaving the group releases what the member still held.
        self._expire(set(self.acquired))
        self.closed = True

    # --- the broker's side ---

    def _commit_pending(self) -> None:
        for key, ack in sorted(self.pending.items()):
            del self.acquired[key]
            if ack == AcknowledgeType.RELEASE:
                self._make_available(key)
            else:
                self.outcome[key] = ack
        self.pending.clear()

    def _expire(self, keys: set[tuple[int, int]]) -> None:
        """Their acknowledgements are lost (or never made): their locks run out."""
        for key in sorted(keys):
            self.pending.pop(key, None)
            self.acquired.pop(key, None)
            self._make_available(key)

    def _make_available(self, key: tuple[int, int]) -> None:
        if self.deliveries[key] >= self.limit:
            self.archived.append(key)
            return
        self.available.appendleft((*key, self.values[key]))

"""Which offsets are processed and not yet committed, and committing them.

Kafka's committed offset is the *next* offset to read, so a processed message at offset N
is committed as N + 1. Each partition's result is checked, whether the commit is synchronous
(commit(): its answer is waited for) or asynchronous (commit_async(): librdkafka hands the
answer to on_commit() from a later consume()).

Offsets stay pending until the broker confirmed them. At most one asynchronous commit is in
flight: what is processed meanwhile is folded into the next one. `unconfirmed` counts the
messages processed since the last commit the broker confirmed: those are what a crash now
would process again. The loop bounds it with UNCONFIRMED_MAX (loop.py).

A failed commit is either retriable (broker or coordinator away, a rebalance under way, a
member id the group forgot: librdkafka rejoins and the partitions are then revoked or lost) and
its offsets stay pending, or it will not clear by retrying (authorization refused, a static
member fenced by another with its group.instance.id, an error librdkafka flags fatal): then
CommitFailed is raised and the consumer must stop, committing nothing more.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

log = logging.getLogger("consumer.checkpoint")

# Commit errors a retry does not clear (librdkafka also flags some errors fatal itself).
FATAL_CODES = frozenset(
    {
        KafkaError.TOPIC_AUTHORIZATION_FAILED,
        KafkaError.GROUP_AUTHORIZATION_FAILED,
        KafkaError.FENCED_INSTANCE_ID,
        KafkaError._FATAL,
    }
)


# Past this many messages processed and not confirmed, the loop commits synchronously: so a
# crash repeats fewer than UNCONFIRMED_MAX + BATCH_SIZE messages. A batch of at least this
# size is therefore always committed synchronously, as it was before asynchronous commits.
UNCONFIRMED_MAX = 100


class CommitFailed(Exception):
    """A commit error that retrying will not clear: stop, commit nothing more."""


def is_fatal(error: KafkaError) -> bool:
    return error.fatal() or error.code() in FATAL_CODES


class Checkpoint:
    def __init__(self, consumer: Consumer) -> None:
        self._consumer = consumer
        self._pending: dict[tuple[str, int], int] = {}
        # Counts of messages: processed ever, and of those, covered by a confirmed commit.
        self._processed = 0
        self._confirmed = 0
        # The asynchronous commit sent and not answered yet: `_processed` when it was sent.
        self._in_flight: int | None = None

    def processed(self, messages: Sequence[Message]) -> None:
        for message in messages:
            key = (message.topic() or "", message.partition() or 0)
            self._pending[key] = max(self._pending.get(key, 0), (message.offset() or 0) + 1)
        self._processed += len(messages)

    @property
    def unconfirmed(self) -> int:
        """Messages processed since the last commit the broker confirmed."""
        return self._processed - self._confirmed

    @property
    def in_flight(self) -> bool:
        """Whether an asynchronous commit is sent and not answered yet."""
        return self._in_flight is not None

    @property
    def pending(self) -> bool:
        """Whether something processed is not committed yet."""
        return bool(self._pending)

    def offsets(self) -> dict[int, int]:
        """{partition: offset} of what is processed and not committed yet."""
        return {p: o for (_, p), o in sorted(self._pending.items())}

    def forget(self, partitions: Iterable[TopicPartition]) -> None:
        """Drop pending offsets of partitions we no longer own (lost: never commit them)."""
        for tp in partitions:
            self._pending.pop((tp.topic, tp.partition), None)

    def commit(self) -> dict[int, int]:
        """Commit every pending offset; return {partition: offset} of what was committed.

        A retriable failure is logged and its offsets stay pending: the messages are
        redelivered (at-least-once) or committed with the next batch. Any other raises
        CommitFailed.
        """
        if not self._pending:
            self._confirmed = self._processed
            return {}
        try:
            results = self._consumer.commit(offsets=self._offsets(), asynchronous=False)
        except KafkaException as exc:
            error = exc.args[0]
            if not isinstance(error, KafkaError):
                raise
            self._failed(error, exc)
            return {}
        committed = self._settle(results or [])
        if not self._pending:
            self._confirmed = self._processed
        return committed

    def commit_async(self) -> None:
        """Send every pending offset without waiting, unless a commit is in flight: what is
        processed meanwhile goes with the next one. The answer comes to on_commit()."""
        if self._in_flight is not None or not self._pending:
            return
        try:
            self._consumer.commit(offsets=self._offsets(), asynchronous=True)
        except KafkaException as exc:
            error = exc.args[0]
            if not isinstance(error, KafkaError):
                raise
            self._failed(error, exc)
            return
        self._in_flight = self._processed

    def on_commit(self, error: KafkaError | None, partitions: list[TopicPartition]) -> None:
        """librdkafka's answer to an asynchronous commit (its `on_commit`, run by consume()).

        Treated as commit() treats its answer: retriable, the offsets stay pending and go with
        the next commit; fatal, CommitFailed, which consume() raises to the loop."""
        sent, self._in_flight = self._in_flight, None
        if error is not None:
            self._failed(error, None)
            return
        failed = any(tp.error is not None for tp in partitions)
        self._settle(partitions)
        if sent is not None and not failed:
            self._confirmed = max(self._confirmed, sent)

    def _offsets(self) -> list[TopicPartition]:
        return [TopicPartition(t, p, o) for (t, p), o in sorted(self._pending.items())]

    def _failed(self, error: KafkaError, exc: Exception | None) -> None:
        """A whole commit request failed: drop, raise or keep pending (see commit())."""
        if error.code() == KafkaError._NO_OFFSET:
            # The broker has nothing to take: left pending, these would stall us for ever.
            log.warning(
                "⚠️ Nothing to commit for offsets %s: dropped",
                describe(self.offsets()),
                extra={"event": "commit_no_offset", "offsets": self.offsets()},
            )
            self._pending.clear()
            return
        if is_fatal(error):
            raise CommitFailed(
                f"cannot commit offsets {describe(self.offsets())}: {error.str()}"
            ) from exc
        log.warning(
            "⚠️ Commit failed: %s", error, extra={"event": "commit_failed", "error": str(error)}
        )

    def _settle(self, results: list[TopicPartition]) -> dict[int, int]:
        """Each partition's answer: committed offsets leave `pending` (unless a later batch
        moved them on), failed ones stay; raise CommitFailed after the rest if one is fatal."""
        committed: dict[int, int] = {}
        fatal: list[str] = []
        for tp in results:
            if tp.error is not None:
                if is_fatal(tp.error):
                    fatal.append(f"p{tp.partition}: {tp.error.str()}")
                    continue
                log.warning(
                    "⚠️ Commit failed for partition %d: %s",
                    tp.partition,
                    tp.error,
                    extra={
                        "event": "commit_failed",
                        "partition": tp.partition,
                        "error": str(tp.error),
                    },
                )
                continue
            committed[tp.partition] = tp.offset
            if self._pending.get((tp.topic, tp.partition)) == tp.offset:
                del self._pending[(tp.topic, tp.partition)]
        if committed:
            log.info(
                "💾 Committed offsets %s",
                describe(committed),
                extra={"event": "offsets_committed", "offsets": committed},
            )
        if fatal:
            raise CommitFailed(f"cannot commit offsets: {'; '.join(fatal)}")
        return committed

    def commit_within(self, timeout_s: float) -> bool:
        """Commit every pending offset unless no group coordinator answers within `timeout_s`;
        True once none is pending.

        For the last commit before leaving: librdkafka's commit waits for a coordinator for as
        long as the broker is away, and close() then waits for that commit. So first ask the
        coordinator, with a deadline, what it holds; commit only if it answered.
        """
        if not self._pending:
            return True
        try:
            self._consumer.committed(
                [TopicPartition(t, p) for t, p in sorted(self._pending)], timeout=timeout_s
            )
        except KafkaException as exc:
            log.warning(
                "⚠️ Commit failed: %s",
                exc.args[0],
                extra={"event": "commit_failed", "error": str(exc.args[0])},
            )
            return False
        self.commit()
        return not self._pending


def describe(offsets: dict[int, int]) -> str:
    return " ".join(f"p{p}→{o}" for p, o in sorted(offsets.items()))

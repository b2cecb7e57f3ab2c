"""Which offsets are processed and not yet committed, and committing them.

Kafka's committed offset is the *next* offset to read, so a processed message at offset N
is committed as N + 1. Commits are synchronous and each partition's result is checked.

A failed commit is either retriable (broker or coordinator away, a rebalance under way, a
member id the group forgot: librdkafka rejoins and the partitions are then revoked or lost) and
its offsets stay pending, or it will not clear by retrying (authorization refused, a static
member fenced by another with its group.instance.id, an error librdkafka flags fatal): then
CommitFailed is raised and the consumer must stop, committing nothing more.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

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


class CommitFailed(Exception):
    """A commit error that retrying will not clear: stop, commit nothing more."""


def is_fatal(error: KafkaError) -> bool:
    return error.fatal() or error.code() in FATAL_CODES


class Checkpoint:
    def __init__(self, consumer: Consumer) -> None:
        self._consumer = consumer
        self._pending: dict[tuple[str, int], int] = {}

    def processed(self, messages: Iterable[Message]) -> None:
        for message in messages:
            key = (message.topic() or "", message.partition() or 0)
            self._pending[key] = max(self._pending.get(key, 0), (message.offset() or 0) + 1)

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
            return {}
        offsets = [TopicPartition(t, p, o) for (t, p), o in sorted(self._pending.items())]
        try:
            results = self._consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as exc:
            error = exc.args[0]
            if not isinstance(error, KafkaError):
                raise
            if error.code() == KafkaError._NO_OFFSET:
                # The broker has nothing to take: left pending, these would stall us for ever.
                log.warning(
                    "⚠️ Nothing to commit for offsets %s: dropped",
                    describe(self.offsets()),
                    extra={"event": "commit_no_offset", "offsets": self.offsets()},
                )
                self._pending.clear()
                return {}
            if is_fatal(error):
                raise CommitFailed(
                    f"cannot commit offsets {describe(self.offsets())}: {error.str()}"
                ) from exc
            log.warning(
                "⚠️ Commit failed: %s", error, extra={"event": "commit_failed", "error": str(error)}
            )
            return {}
        committed: dict[int, int] = {}
        fatal: list[str] = []
        for tp in results or []:
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

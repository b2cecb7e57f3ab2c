"""Which offsets are processed and not yet committed, and committing them.

Kafka's committed offset is the *next* offset to read, so a processed message at offset N
is committed as N + 1. Commits are synchronous and each partition's result is checked.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

log = logging.getLogger("consumer.checkpoint")


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

    def forget(self, partitions: Iterable[TopicPartition]) -> None:
        """Drop pending offsets of partitions we no longer own (lost: never commit them)."""
        for tp in partitions:
            self._pending.pop((tp.topic, tp.partition), None)

    def commit(self) -> dict[int, int]:
        """Commit every pending offset; return {partition: offset} of what was committed.

        A failed commit is logged and its offsets stay pending: the messages are redelivered
        (at-least-once) or committed with the next batch.
        """
        if not self._pending:
            return {}
        offsets = [TopicPartition(t, p, o) for (t, p), o in sorted(self._pending.items())]
        try:
            results = self._consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as exc:
            error = exc.args[0]
            if isinstance(error, KafkaError) and error.code() == KafkaError._NO_OFFSET:
                return {}  # nothing to commit: harmless
            log.warning(
                "⚠️ Commit failed: %s", error, extra={"event": "commit_failed", "error": str(error)}
            )
            return {}
        committed: dict[int, int] = {}
        for tp in results or []:
            if tp.error is not None:
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
        return committed


def describe(offsets: dict[int, int]) -> str:
    return " ".join(f"p{p}→{o}" for p, o in sorted(offsets.items()))

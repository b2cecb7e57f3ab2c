"""The share-group loop (KIP-932, GROUP_TYPE=share): poll, run the pipeline, acknowledge records.

Members of a share group may read the same partition at once; the broker hands each record to one
member at a time, under a lock (the group's share.record.lock.duration.ms). There are no offsets
to commit: each record is acknowledged on its own. Rules (docs/share-groups.md says which test
proves each):
- a batch is what one poll() returns: BATCH_SIZE is passed as max.poll.records, but librdkafka
  2.16 hands out whole fetches (thousands of records under a backlog); every record of it is
  acknowledged before the next poll, and the acknowledgements are committed at once (committing
  smaller slices of a big poll synchronously outlasted the record lock: its records went to
  other members while this one still worked on them);
- processed (came through the pipeline) → ACCEPT: done, never delivered again;
- a step raised for it (a failure that may pass later) → RELEASE: the broker delivers it again
  at once, perhaps to another member, with its delivery count one higher;
- poison (undecodable, too large, dropped by a step), or a step still raising at the last
  delivery attempt the group allows (SHARE_DELIVERY_COUNT_LIMIT) → written to the dead-letter
  topic with why, then REJECT: never delivered again. Nothing reaches the limit unseen;
- a dead letter not written: the batch's poison is RELEASEd (it comes back) and the others
  accepted, then the consumer stops: no record is rejected without its dead letter;
- the acknowledgements of a partition not committed (broker away): logged; the broker delivers
  those records again once their locks expire, so they may be processed twice;
- killed: every record this member had acquired and not acknowledged is delivered again once
  its lock expires; those it had processed (at most the poll in hand) are processed twice;
- stop (SIGTERM/SIGINT): finish and acknowledge the batch in hand, then close(), which commits
  the acknowledgements and leaves the share group.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from confluent_kafka import AcknowledgeType, KafkaException, Message, ShareConsumer

from consumer.deadletter import DeadLetterError, DeadLetters
from consumer.loop import decode
from consumer.pipeline import Pipeline
from consumer.settings import ConsumerSettings
from playground.shutdown import StopFlag

log = logging.getLogger("consumer")

POLL_S = 1.0  # the longest we block in poll(): how fast a stop request is noticed
COMMIT_WAIT_S = 10.0  # the longest we wait for the broker to take the acknowledgements

# How each acknowledgement is logged: its name in the log contract, and its mark.
ACKS = {
    AcknowledgeType.ACCEPT: ("accept", "✅ Accepted"),
    AcknowledgeType.RELEASE: ("release", "🔁 Released"),
    AcknowledgeType.REJECT: ("reject", "🚫 Rejected"),
}


class ShareLoop:
    """Runs one member of a share group until `stop` is set, then closes it (leaving the group)."""

    def __init__(
        self,
        settings: ConsumerSettings,
        consumer: ShareConsumer,
        dead_letters: DeadLetters,
        stop: StopFlag,
    ) -> None:
        self.settings = settings
        self.consumer = consumer
        self.dead_letters = dead_letters
        self.stop = stop
        self.pipeline = Pipeline(settings.pipeline)

    def run(self) -> None:
        s = self.settings
        log.info(
            "Starting share consumer loop (share group %s, delivery count limit %d, "
            "batch size %d, pipeline %s). Ctrl+C to stop",
            s.group_id,
            s.share_delivery_count_limit,
            s.batch_size,
            "→".join(s.pipeline),
            extra={"event": "consumer_started", "group_type": "share"},
        )
        try:
            self.consumer.subscribe([s.kafka.topic])
            while not self.stop.is_set():
                self._process(self.consumer.poll(POLL_S))
        finally:
            # close() commits what was acknowledged; what was not is released by leaving.
            self.consumer.close()
            log.info(
                "🛑 Consumer stopped; left share group %s",
                s.group_id,
                extra={"event": "consumer_stopped"},
            )

    def _process(self, polled: Iterable[Message]) -> None:
        messages = []
        for message in polled:
            error = message.error()
            if error is None:
                messages.append(message)
            elif error.fatal():
                raise KafkaException(error)
            else:
                log.warning("⚠️ %s", error, extra={"event": "consumer_error", "error": str(error)})
        if not messages:
            return
        records, undecodable = decode(messages, self.settings.max_message_bytes)
        kept, rejected = self.pipeline(records)
        acks: dict[int, tuple[Message, AcknowledgeType, str]] = {}  # by id(): one per message
        poison: list[tuple[Message, str, str]] = list(undecodable)
        for r in rejected:
            assert r.record.message is not None
            m = r.record.message
            if not r.failed:
                poison.append((m, f"rejected by {r.step}", r.reason))
            elif attempt(m) >= self.settings.share_delivery_count_limit:
                poison.append((m, f"failed in {r.step}", f"{r.reason} (delivery {attempt(m)})"))
            else:
                acks[id(m)] = (m, AcknowledgeType.RELEASE, f"failed in {r.step}: {r.reason}")
        for record in kept:
            assert record.message is not None
            acks[id(record.message)] = (record.message, AcknowledgeType.ACCEPT, "")
        try:
            for m, reason, why in poison:
                self.dead_letters.send(m, reason, why)
            # Rejected only once its dead letter is safe: a rejected record is gone for good.
            self.dead_letters.flush()
        except DeadLetterError:
            for m, reason, _ in poison:
                acks[id(m)] = (m, AcknowledgeType.RELEASE, f"{reason}: dead letter not written")
            self._acknowledge(messages, acks)
            raise
        for m, reason, _ in poison:
            acks[id(m)] = (m, AcknowledgeType.REJECT, reason)
        self._acknowledge(messages, acks)

    def _acknowledge(
        self, messages: list[Message], acks: dict[int, tuple[Message, AcknowledgeType, str]]
    ) -> None:
        """Acknowledge every message as decided, in the order polled; commit; log each."""
        for m in messages:
            _, ack, why = acks[id(m)]
            self.consumer.acknowledge(m, ack)
            name, text = ACKS[ack]
            log.info(
                "%s p%s@%s (delivery %d)%s",
                text,
                m.partition(),
                m.offset(),
                attempt(m),
                f": {why}" if why else "",
                extra={
                    "event": "record_acknowledged",
                    "ack": name,
                    "partition": m.partition(),
                    "offset": m.offset(),
                    "delivery_count": attempt(m),
                    **({"reason": why} if why else {}),
                },
            )
        self._commit()

    def _commit(self) -> None:
        try:
            results = self.consumer.commit_sync(COMMIT_WAIT_S)
        except KafkaException as exc:
            self._not_committed(None, str(exc.args[0]))
            return
        for tp, error in sorted(results.items(), key=lambda item: item[0].partition):
            if error is not None:
                self._not_committed(tp.partition, str(error))

    def _not_committed(self, partition: int | None, error: str) -> None:
        log.warning(
            "⚠️ Acknowledgements not committed%s: %s; their records come back when their "
            "locks expire",
            "" if partition is None else f" for partition {partition}",
            error,
            extra={
                "event": "acknowledgement_failed",
                "error": error,
                **({} if partition is None else {"partition": partition}),
            },
        )


def attempt(message: Message) -> int:
    """Which delivery of its record this message is (1 the first time)."""
    return message.delivery_count() or 1

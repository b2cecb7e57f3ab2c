"""The consumer loop: poll into a batch, run the pipeline, commit; follow the group's rebalances.

Rules (at-least-once, nothing committed before it was processed; docs/consumer.md says which
test proves each; exactly-once keeps this loop and replaces the commit: transactional.py):
- a batch is committed once processed, each partition at the offset after its last message;
- each result goes to the output topic, and the batch is committed only once every output of
  it and of the batches before it is acknowledged (a crash in between writes those outputs
  again: duplicates, never a loss); a broker away is waited for, except by a stop, which then
  commits nothing of the batches whose outputs are not acknowledged;
- the commit after a batch is asynchronous, at most one in flight: the batches processed
  meanwhile go with the next one. Once UNCONFIRMED_MAX (100) messages are processed and not
  in a commit the broker confirmed, it is synchronous (waiting for the outputs first). So a
  crash repeats at most UNCONFIRMED_MAX - 1 + BATCH_SIZE messages; a batch of 100 or more is
  always committed synchronously. A failed asynchronous commit is treated as a synchronous one:
  retriable, its offsets go with the next commit; fatal, CommitFailed;
- poison (undecodable, too large, dropped by a step, or making a step raise) goes to the
  dead-letter topic, and the batch is committed only once every dead letter is acknowledged;
- revoked: finish the batch in hand and commit it synchronously (with whatever an asynchronous
  commit still in flight holds), so the next owner starts where we stopped;
- lost (our membership expired): drop what we hold from those partitions, commit nothing;
- a synchronous commit fails and may clear (broker away, member fenced): fetch nothing new,
  from partitions assigned before or during the stall, until a retry succeeds or the partitions
  move, so the bound above holds through a stall;
- a commit fails and will not clear (authorization, fatal): stop at once, commit nothing more;
- stop (SIGTERM/SIGINT): finish the batch in hand, commit it synchronously within a bound
  (FINAL_COMMIT_TRIES tries of at most FINAL_COMMIT_WAIT_S each, then give up and log what
  stays uncommitted), then close(), which leaves the group.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict, deque
from collections.abc import Sequence

from confluent_kafka import Consumer, KafkaException, Message, TopicPartition

from consumer.batching import Batch
from consumer.checkpoint import UNCONFIRMED_MAX, Checkpoint, describe
from consumer.deadletter import DeadLetters
from consumer.output import Output
from consumer.pipeline import Pipeline, Record
from consumer.settings import ConsumerSettings
from playground.shutdown import StopFlag
from playground.transaction import InvalidTransaction, Transaction

log = logging.getLogger("consumer")

POLL_S = 1.0  # the longest we block in consume(): how fast a stop request is noticed
# On stop, a broker away delays the exit by FINAL_COMMIT_TRIES * FINAL_COMMIT_WAIT_S (6 s) at most.
FINAL_COMMIT_TRIES = 3
FINAL_COMMIT_WAIT_S = 2.0


class ConsumerLoop:
    """Runs one consumer until `stop` is set, then closes it (leaving the group)."""

    def __init__(
        self,
        settings: ConsumerSettings,
        consumer: Consumer,
        dead_letters: DeadLetters,
        stop: StopFlag,
        output: Output | None = None,
    ) -> None:
        self.settings = settings
        self.consumer = consumer
        self.dead_letters = dead_letters
        self.output = output
        self.checkpoint = Checkpoint(consumer)
        self.stop = stop
        self.pipeline = Pipeline(settings.pipeline)
        self.batch: Batch[Message] = Batch(settings.batch_size, settings.batch_max_wait_s)
        self.owned: set[int] = set()
        # Processed batches whose outputs are not all acknowledged yet: (output mark, batch).
        self.waiting: deque[tuple[int, list[Message]]] = deque()
        # Processed and unconfirmed messages past which the commit is synchronous.
        self.unconfirmed_max = UNCONFIRMED_MAX
        # A commit failed: these partitions are paused until a commit succeeds.
        self.paused: set[tuple[str, int]] = set()
        self.closing = False

    def run(self) -> None:
        s, consumer = self.settings, self.consumer
        log.info(
            "Starting consumer loop (group %s, %s, %s protocol%s%s, batch size %d, max wait %gs, "
            "pipeline %s%s). Ctrl+C to stop",
            s.group_id,
            s.processing_guarantee,
            s.group_protocol,
            f", {s.assignment_strategy}" if s.assignment_strategy else "",
            f", static member {s.group_instance_id}" if s.group_instance_id else "",
            s.batch_size,
            s.batch_max_wait_s,
            "→".join(s.pipeline),
            "" if s.write_output else ", no output topic",
            extra={"event": "consumer_started", "processing_guarantee": s.processing_guarantee},
        )
        try:
            consumer.subscribe(
                [s.kafka.topic],
                on_assign=self._on_assign,
                on_revoke=self._on_revoke,
                on_lost=self._on_lost,
            )
            while not self.stop.is_set():
                if self.stalled:
                    self._commit()  # retried once per poll, ~1 s apart
                self._poll()
                if self.batch.ready():
                    self._process(self.batch.take())
                elif (self.waiting or self.checkpoint.pending) and not self.stalled:
                    self._commit()  # what a commit in flight or outputs held back
            # Stopping: the batch in hand was received, so finish it rather than drop it.
            self._process(self.batch.take(), commit=False)
            self._final_commit()
        finally:
            # Also on an error (a dead letter not written, a commit that will not clear): then
            # nothing more is committed, not even by the revoke that close() runs.
            self.closing = True
            consumer.close()
            log.info(
                "🛑 Consumer stopped; left group %s",
                s.group_id,
                extra={"event": "consumer_stopped"},
            )

    def _final_commit(self) -> None:
        """Commit before close() leaves the group, within a bound: a synchronous commit would
        wait for as long as the broker is away."""
        self._outputs_acknowledged()
        for _ in range(FINAL_COMMIT_TRIES):
            started = time.monotonic()
            if self.checkpoint.commit_within(FINAL_COMMIT_WAIT_S):
                return
            time.sleep(max(0.0, started + FINAL_COMMIT_WAIT_S - time.monotonic()))
        left = self.checkpoint.offsets()
        log.warning(
            "⚠️ Gave up committing offsets %s after %d tries: the next owner processes them again",
            describe(left),
            FINAL_COMMIT_TRIES,
            extra={"event": "offsets_not_committed", "offsets": left},
        )

    def _poll(self) -> None:
        # consume() returns only once it has num_messages or its timeout has passed. An empty
        # batch therefore asks for one message: asking for a full batch would hold the first
        # arrival for up to POLL_S, past the batch's own max wait, which starts with it.
        wait = self.batch.time_left()
        if wait is None:
            wanted, timeout = 1, POLL_S
        else:
            wanted, timeout = self.batch.room(), min(wait, POLL_S)
        for message in self.consumer.consume(num_messages=wanted, timeout=timeout):
            error = message.error()
            if error is None:
                # A message from a partition revoked during this consume() call was committed
                # or will be read by its next owner: taking it would process it twice.
                if message.partition() in self.owned:
                    self.batch.add(message)
            elif error.fatal():
                raise KafkaException(error)
            else:
                log.warning("⚠️ %s", error, extra={"event": "consumer_error", "error": str(error)})

    def _process(self, messages: list[Message], commit: bool = True) -> None:
        if not messages:
            return
        dead_lettered = self._transform(messages)
        # Only once the dead letters are safe is the batch processed: if they are not, this
        # raises and the consumer stops without committing these offsets. Its outputs are
        # waited for by the commit.
        self.dead_letters.flush()
        self._log_batch(messages, dead_lettered)
        self.waiting.append((self.output.produced if self.output is not None else 0, messages))
        if commit:
            self._commit()

    def _settle(self) -> None:
        """The batches whose outputs are all acknowledged may be committed."""
        acknowledged = self.output.acknowledged() if self.output is not None else 0
        while self.waiting and self.waiting[0][0] <= acknowledged:
            self.checkpoint.processed(self.waiting.popleft()[1])

    def _outputs_acknowledged(self) -> None:
        """Wait for every output, so that every batch processed may be committed. A stop gives
        up on a broker away: the batches still waiting are then never committed."""
        if self.output is not None and not self.output.flush(self.stop.is_set):
            left: dict[int, int] = {}
            for _, messages in self.waiting:  # in offset order: a later batch's offset wins
                left |= {p: last + 1 for p, (_, last) in offset_ranges(messages).items()}
            self.waiting.clear()
            log.warning(
                "⚠️ Outputs not acknowledged: offsets %s not committed; the next owner "
                "processes them again",
                describe(left),
                extra={"event": "offsets_not_committed", "offsets": left},
            )
            return
        self._settle()  # every output is acknowledged now

    @property
    def unconfirmed(self) -> int:
        """Messages processed and not in a commit the broker confirmed: what a crash repeats."""
        return self.checkpoint.unconfirmed + sum(len(m) for _, m in self.waiting)

    def _transform(self, messages: list[Message]) -> int:
        """Decode, run the pipeline, send each result to the output topic and each poison to
        the dead-letter topic (neither waited for here); return how many were dead-lettered."""
        records, undecodable = decode(messages, self.settings.max_message_bytes)
        kept, rejected = self.pipeline(records)
        for message, reason, error in undecodable:
            self.dead_letters.send(message, reason, error)
        for r in rejected:
            assert r.record.message is not None
            how = "failed in" if r.failed else "rejected by"
            self.dead_letters.send(r.record.message, f"{how} {r.step}", r.reason)
        if self.output is not None:
            self.output.send(kept)
        return len(undecodable) + len(rejected)

    def _log_batch(self, messages: list[Message], dead_lettered: int) -> None:
        ranges = offset_ranges(messages)
        log.info(
            "Received batch of %d transaction%s (%s)",
            len(messages),
            "" if len(messages) == 1 else "s",
            " ".join(
                f"p{p}@{a}-{b}" if a != b else f"p{p}@{a}" for p, (a, b) in sorted(ranges.items())
            ),
            extra={
                "event": "batch_processed",
                "count": len(messages),
                "offsets": ranges,
                "dead_lettered": dead_lettered,
            },
        )

    def _commit(self) -> None:
        """Commit what was processed and whose outputs are acknowledged, asynchronously unless
        `unconfirmed_max` messages are unconfirmed or a commit failed: then synchronously."""
        self._settle()
        if self.stalled or self.unconfirmed >= self.unconfirmed_max:
            self._commit_now()
        else:
            self.checkpoint.commit_async()

    def _commit_now(self) -> None:
        """Commit everything processed, synchronously. While that fails, keep the assignment
        paused.

        Going on would pile up processed, uncommitted batches, and all of them would be
        processed again if the partitions are then lost. Pausing discards what was prefetched;
        resuming fetches again from the position after the last message we took.
        """
        self._outputs_acknowledged()
        self.checkpoint.commit()
        if self.checkpoint.pending:
            # Every time: partitions assigned during the stall must not fetch either.
            assignment = self.consumer.assignment()
            self.consumer.pause(assignment)
            if not self.paused:
                log.warning(
                    "⏸️ Fetching paused until the commit succeeds",
                    extra={"event": "fetch_paused"},
                )
            self.paused |= {(tp.topic, tp.partition) for tp in assignment}
        elif self.paused:
            # Everything we paused, assigned or not: librdkafka keeps a partition paused
            # through a rebalance, so one lost and assigned again would never fetch.
            self.consumer.resume([TopicPartition(t, p) for t, p in sorted(self.paused)])
            self.paused.clear()
            log.info("▶️ Fetching resumed", extra={"event": "fetch_resumed"})

    @property
    def stalled(self) -> bool:
        return bool(self.paused)

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self.owned |= {tp.partition for tp in partitions}
        if self.stalled:
            # Assigned while a commit fails (cooperative or consumer protocol): fetching from
            # them would process a second batch that is not committed.
            consumer.pause(partitions)
            self.paused |= {(tp.topic, tp.partition) for tp in partitions}
        self._log_rebalance("assigned", "📥", partitions)

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        if not self.closing:  # close() revokes too, once the final commit is done or given up
            self._process(self.batch.take(), commit=False)
            self._outputs_acknowledged()
            self.checkpoint.commit()
        # Whatever did not commit now must never be committed later, over the next owner's.
        self._drop_waiting(partitions)
        self.checkpoint.forget(partitions)
        self.owned -= {tp.partition for tp in partitions}
        self._log_rebalance("revoked", "📤", partitions)

    def _on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        lost = {tp.partition for tp in partitions}
        dropped = self.batch.drop(lambda m: m.partition() in lost)
        self._drop_waiting(partitions)
        self.checkpoint.forget(partitions)
        self.owned -= lost
        self._log_rebalance("lost", "💥", partitions, dropped=dropped)

    def _drop_waiting(self, partitions: list[TopicPartition]) -> None:
        """Forget the messages of these partitions in batches waiting for their outputs."""
        gone = {tp.partition for tp in partitions}
        self.waiting = deque(
            (mark, [m for m in messages if m.partition() not in gone])
            for mark, messages in self.waiting
        )

    def _log_rebalance(
        self, what: str, icon: str, partitions: list[TopicPartition], **fields: object
    ) -> None:
        moved = sorted(tp.partition for tp in partitions)
        log.info(
            "%s Partitions %s: %s (now owns %s)",
            icon,
            what,
            moved,
            sorted(self.owned),
            extra={
                "event": f"partitions_{what}",
                "partitions": moved,
                "owned": sorted(self.owned),
                **fields,
            },
        )


Undecodable = tuple[Message, str, str]  # the message, a reason code, what was wrong


def decode(messages: Sequence[Message], max_bytes: int) -> tuple[list[Record], list[Undecodable]]:
    """Transactions from the messages, and the messages that are not one (with why)."""
    records, undecodable = [], []
    for message in messages:
        value = message.value()
        if value is not None and len(value) > max_bytes:
            undecodable.append((message, "too_large", f"{len(value)} bytes > {max_bytes}"))
            continue
        try:
            transaction = Transaction.from_json(value)
        except InvalidTransaction as exc:
            undecodable.append((message, "undecodable", str(exc)))
            continue
        records.append(
            Record(message.partition() or 0, message.offset() or 0, transaction, message=message)
        )
    return records, undecodable


def offset_ranges(messages: Sequence[Message]) -> dict[int, list[int]]:
    """{partition: [first_offset, last_offset]} of the messages in a batch."""
    ranges: dict[int, list[int]] = defaultdict(list)
    for message in messages:
        offset = message.offset() or 0
        span = ranges[message.partition() or 0]
        if span:
            span[0], span[1] = min(span[0], offset), max(span[1], offset)
        else:
            span.extend([offset, offset])
    return dict(ranges)

"""Exactly-once (PROCESSING_GUARANTEE=exactly-once): each batch's outputs, its dead letters and
its input offsets in one Kafka transaction (KIP-98), fenced by the group's generation (KIP-447).

The loop is loop.py's (poll into a batch, the pipeline, the rebalance callbacks); only what
happens to a processed batch differs. Rules (docs/processing-guarantees.md says which test
proves each):
- one transaction per batch: begin, produce the outputs and dead letters, add the batch's input
  offsets with send_offsets_to_transaction() and the consumer's group metadata, commit. A
  read_committed reader sees all of a batch's outputs with its offsets committed, or none;
- a stable transactional.id per consumer instance, `<group>-<client id>` (replicas of a scaled
  service have client ids of their own): a restarted instance's init_transactions() fences its
  zombie and aborts the transaction the zombie left open;
- the input is read with isolation.level=read_committed, so a chain of such consumers never
  reads another's aborted outputs;
- revoked: finish the batch in hand and commit its transaction, so the next owner starts where
  we stopped (as at-least-once);
- lost: drop the batch in hand (no transaction is open between two batches, and the rebalance
  callbacks only run between batches, inside consume());
- fenced (send_offsets/commit refused because the group moved on: its generation is stale):
  abort, rewind every assigned partition to its committed offset and go on: the new owner, or
  we after rejoining, processes the batch again in a transaction of its own;
- any other abortable error (txn_requires_abort: a write failed, the coordinator aborted a
  transaction that outlived transaction.timeout.ms): abort, rewind, and so retry the batch
  after RETRY_S;
- a retriable error of a transactional call (a timeout, the coordinator away): retry the same
  call, every RETRY_S, until it succeeds or the error turns abortable or fatal; stopping,
  abort instead (the next reader starts from the committed offsets);
- a call that hangs past CALL_TIMEOUT_S + HUNG_S (librdkafka#5456, after a broker restart): a
  new producer with our transactional.id fences the stuck one; rewind and read the batch again;
- a fatal error (the producer fenced by a newer instance with our transactional.id, an
  authorization refused): exit at once with one clear line, committing nothing more;
- stop (SIGTERM/SIGINT): finish the batch in hand, commit its transaction, then close(), which
  leaves the group.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)

from consumer.checkpoint import describe
from consumer.deadletter import DeadLetters
from consumer.loop import ConsumerLoop
from consumer.output import Output
from consumer.settings import ConsumerSettings
from playground.kafka import ClientConfig, transactional_producer_config
from playground.settings import processed_topic
from playground.shutdown import StopFlag

log = logging.getLogger("consumer.transactional")

T = TypeVar("T")
RETRY_S = 1.0  # between two tries of a retriable call
CALL_TIMEOUT_S = 10.0  # of each transactional call: init, send_offsets, commit, abort
HUNG_S = 20.0  # past CALL_TIMEOUT_S, a call is taken for hung (see _bounded)
# The group moved on while we processed: the batch is no longer ours to commit.
FENCED_CODES = frozenset(
    {
        KafkaError.ILLEGAL_GENERATION,
        KafkaError.UNKNOWN_MEMBER_ID,
        KafkaError.REBALANCE_IN_PROGRESS,
        KafkaError.FENCED_INSTANCE_ID,
    }
)


class TransactionFatal(Exception):
    """An error no transaction can get past: stop, commit nothing more."""


class Aborted(Exception):
    """The batch's transaction was aborted; `fenced` if the group moved on meanwhile."""

    def __init__(self, error: KafkaError, fenced: bool, open: bool = True) -> None:
        super().__init__(error.str())
        self.error = error
        self.fenced = fenced
        self.open = open  # the transaction is still to be aborted (not by a new producer)


def transactional_id(group_id: str, client: str) -> str:
    """The same for every run of one consumer instance, different for any two instances."""
    return f"{group_id}-{client}"


def producer_config(settings: ConsumerSettings) -> ClientConfig:
    """The transactional producer of one consumer instance: outputs and dead letters."""
    return transactional_producer_config(
        settings.kafka,
        f"{settings.client}-tx",
        transactional_id(settings.group_id, settings.client),
    )


ISOLATION_LEVEL = "read_committed"  # of the input: never another transaction's aborted writes


def next_offsets(messages: list[Message]) -> list[TopicPartition]:
    """The offsets to commit for a batch: each partition's after its last message."""
    ends: dict[tuple[str, int], int] = {}
    for m in messages:
        key = (m.topic() or "", m.partition() or 0)
        ends[key] = max(ends.get(key, 0), (m.offset() or 0) + 1)
    return [TopicPartition(t, p, o) for (t, p), o in sorted(ends.items())]


class TransactionalLoop(ConsumerLoop):
    """The consumer loop with one transaction per batch instead of a commit."""

    def __init__(
        self,
        settings: ConsumerSettings,
        consumer: Consumer,
        make_producer: Callable[[], Producer],
        stop: StopFlag,
    ) -> None:
        self._make_producer = make_producer
        self.producer = make_producer()
        # One producer for outputs and dead letters: both in the batch's transaction.
        super().__init__(
            settings,
            consumer,
            DeadLetters(
                self.producer,
                settings.kafka.dead_letter_topic,
                settings.client,
                settings.group_id,
                settings.dlq_timeout_s,
            ),
            stop,
            output=Output(
                self.producer,
                processed_topic(settings.kafka.topic),
                settings.group_id,
                settings.dlq_timeout_s,
            ),
        )

    def run(self) -> None:
        self._init_transactions()
        super().run()

    def _init_transactions(self) -> None:
        # Fences an earlier instance with our transactional.id and aborts what it left open.
        self._call(lambda: self.producer.init_transactions(CALL_TIMEOUT_S), "init_transactions")

    def _process(self, messages: list[Message], commit: bool = True) -> None:
        """One transaction for the batch (`commit` is ignored: a transaction always ends).

        Aborted, the batch is read again from the committed offsets: retrying it in place
        would not do, as the rebalance that fenced it is only served by the next consume()."""
        if not messages:
            return
        try:
            self._transact(messages)
        except Aborted as exc:
            log.warning(
                "↩️ Transaction aborted%s: %s",
                " (fenced: the group moved on)" if exc.fenced else "",
                exc.error,
                extra={
                    "event": "transaction_aborted",
                    "error": str(exc.error),
                    "fenced": exc.fenced,
                },
            )
            self._rewind()
            if not exc.fenced and not self.stop.is_set():
                time.sleep(RETRY_S)  # whatever failed may need a moment: no hot loop

    def _transact(self, messages: list[Message]) -> None:
        offsets = next_offsets(messages)
        self._call(self.producer.begin_transaction, "begin_transaction")
        try:
            dead_lettered = self._transform(messages)
            self._log_batch(messages, dead_lettered)
            metadata = self.consumer.consumer_group_metadata()
            self._call(
                lambda: self.producer.send_offsets_to_transaction(
                    offsets, metadata, CALL_TIMEOUT_S
                ),
                "send_offsets_to_transaction",
            )
            self._call(
                lambda: self.producer.commit_transaction(CALL_TIMEOUT_S), "commit_transaction"
            )
        except Aborted as exc:
            if exc.open:
                self._abort()
            raise
        committed = {tp.partition: tp.offset for tp in offsets}
        log.info(
            "💾 Committed transaction with offsets %s",
            describe(committed),
            extra={"event": "transaction_committed", "offsets": committed},
        )

    def _call(self, call: Callable[[], T], what: str) -> T:
        """`call`, retried while its error is retriable; Aborted if the transaction must be
        aborted; TransactionFatal if nothing can go on."""
        while True:
            try:
                return self._bounded(call, what)
            except KafkaException as exc:
                error = exc.args[0]
                if not isinstance(error, KafkaError) or error.fatal():
                    raise TransactionFatal(f"{what}: {error}") from exc
                if error.txn_requires_abort():
                    raise Aborted(error, fenced=error.code() in FENCED_CODES) from exc
                if not error.retriable():
                    raise TransactionFatal(f"{what}: {error.str()}") from exc
                log.warning(
                    "⚠️ %s failed, retrying: %s",
                    what,
                    error,
                    extra={"event": "transaction_retry", "call": what, "error": str(error)},
                )
                if self.stop.is_set():  # not blocked on a broker away: abort, nothing lost
                    raise Aborted(error, fenced=False) from exc
                time.sleep(RETRY_S)

    def _bounded(self, call: Callable[[], T], what: str) -> T:
        """`call` in a thread of its own, given CALL_TIMEOUT_S + HUNG_S to return.

        librdkafka's send_offsets_to_transaction() can block for ever, whatever its timeout,
        once the group coordinator it cached is gone (librdkafka#5456, #5511: after a broker
        restart). Then a new producer with our transactional.id fences the stuck one and aborts
        its transaction, and the batch is read again (Aborted)."""
        done: list[T] = []
        failed: list[BaseException] = []

        def target() -> None:
            try:
                done.append(call())
            except BaseException as exc:  # handed to the caller's thread as it is
                failed.append(exc)

        worker = threading.Thread(target=target, name=what, daemon=True)
        worker.start()
        worker.join(CALL_TIMEOUT_S + HUNG_S)
        if failed:
            raise failed[0]
        if done:
            return done[0]
        log.warning(
            "⛔ %s still blocked after %g s: a new producer fences the stuck one",
            what,
            CALL_TIMEOUT_S + HUNG_S,
            extra={"event": "transaction_hung", "call": what},
        )
        self.producer = self._make_producer()
        self.dead_letters.use(self.producer)
        assert self.output is not None
        self.output.use(self.producer)
        if what != "init_transactions":
            self._init_transactions()
        else:
            return self._bounded(call, what)  # init again with the new producer
        raise Aborted(KafkaError(KafkaError._TIMED_OUT, f"{what} hung"), fenced=False, open=False)

    def _abort(self) -> None:
        self._call(lambda: self.producer.abort_transaction(CALL_TIMEOUT_S), "abort_transaction")

    def _rewind(self) -> None:
        """Every assigned partition back to its committed offset: what the aborted transaction
        consumed is read again, by us or by the partition's next owner. Retried until it
        succeeds: going on from further would commit past the aborted batch, a loss."""
        while True:
            try:
                assignment = self.consumer.assignment()
                for tp in self.consumer.committed(assignment, timeout=CALL_TIMEOUT_S):
                    if tp.offset < 0:  # nothing committed yet: auto.offset.reset's earliest
                        tp.offset = OFFSET_BEGINNING
                    self.consumer.seek(tp)
            except KafkaException as exc:
                log.warning(
                    "⚠️ Rewind failed, retrying: %s",
                    exc.args[0],
                    extra={"event": "rewind_failed", "error": str(exc.args[0])},
                )
                if self.stop.is_set():
                    return  # nothing more is committed: the next reader starts where we did
                time.sleep(RETRY_S)
                continue
            self.batch.take()  # fetched past what is rewound: read again
            rewound = {tp.partition for tp in assignment}
            log.info(
                "⏪ Rewound partitions %s to their committed offsets",
                sorted(rewound),
                extra={"event": "partitions_rewound", "partitions": sorted(rewound)},
            )
            return

    def _final_commit(self) -> None:
        """Nothing left: the batch in hand was committed in its own transaction."""

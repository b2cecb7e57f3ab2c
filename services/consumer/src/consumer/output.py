"""The output topic `<TOPIC>.processed`: each processed transaction, as the pipeline left it.

An output record goes to its input's partition number (provision gives the output topic as many
partitions as the topic), keyed like its input, with the headers `group` (the consumer group)
and `source` (`<partition>:<offset>` of the input). Those two headers are what the drills'
ledger counts: an input with no output was lost, one with two was processed twice.

At-least-once, a batch's offsets are committed only once every output of it and of the batches
before it is acknowledged: acknowledged() tells how many outputs, from the first, are (without
waiting), flush() waits for all of them; both raise OutputError if one is refused (the consumer
then stops without committing).
Exactly-once, the outputs are in the batch's transaction: commit_transaction() flushes them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial

import msgspec
from confluent_kafka import KafkaError, KafkaException, Message, Producer

from consumer.pipeline import Record

log = logging.getLogger("consumer.output")

FLUSH_SLICE_S = 1.0  # how often a wait for acknowledgements looks whether the consumer stops


class OutputError(Exception):
    """The output topic could not take a result: stop, commit nothing more."""


# msgspec writes a Decimal as its str() in quotes, and compact JSON, as json.dumps did here at a
# third of its cost (it writes non-ASCII as UTF-8 rather than \u escapes: the same JSON).
_ENCODER = msgspec.json.Encoder()


def value(record: Record) -> bytes:
    """The transaction and what the steps noted about it (amount in euros, risk)."""
    return _ENCODER.encode({**vars(record.transaction), **record.notes})


class Output:
    def __init__(self, producer: Producer, topic: str, group_id: str, timeout_s: float) -> None:
        self._producer = producer
        self.topic = topic
        self._group = group_id.encode()
        self._timeout_s = timeout_s
        self._failures: list[str] = []
        self._unflushed = False
        self.produced = 0  # outputs sent so far: a batch's mark, once its outputs are sent
        self._unacknowledged: set[int] = set()  # their numbers, from 0

    def send(self, records: list[Record]) -> None:
        for record in records:
            message = record.message
            try:
                self._producer.produce(
                    self.topic,
                    key=message.key() if message is not None else None,
                    value=value(record),
                    headers=[
                        ("group", self._group),
                        ("source", f"{record.partition}:{record.offset}".encode()),
                    ],
                    partition=record.partition,
                    on_delivery=partial(self._on_delivery, self.produced),
                )
            except (KafkaException, BufferError) as exc:
                error = exc.args[0] if exc.args else exc
                problem = error.str() if isinstance(error, KafkaError) else str(error)
                raise OutputError(f"cannot write to output topic {self.topic}: {problem}") from exc
            self._unacknowledged.add(self.produced)
            self.produced += 1
            self._unflushed = True

    def acknowledged(self) -> int:
        """How many outputs, from the first, are all acknowledged, by the delivery reports
        arrived so far (none waited for); raise OutputError if one was refused."""
        if self._unacknowledged:
            self._producer.poll(0)
        self._raise_failures()
        return min(self._unacknowledged, default=self.produced)

    def flush(self, stopping: Callable[[], bool] = lambda: False) -> bool:
        """Wait until every output is acknowledged or refused; raise OutputError if one was
        refused. A broker away is waited for (librdkafka gives up on a record after its
        message.timeout.ms, 5 min, and reports it refused): results go with every batch, so a
        broker restart must not stop the consumer. Once `stopping()`, give up instead: False
        means some are unacknowledged, and the batch must not be committed."""
        if not self._unflushed:
            return True
        waited = 0.0
        while (left := self._producer.flush(FLUSH_SLICE_S)) and not self._failures:
            if stopping():
                return False
            waited += FLUSH_SLICE_S
            if waited >= self._timeout_s:
                waited = 0.0
                log.warning(
                    "⏳ %d outputs not acknowledged after %g s: still waiting",
                    left,
                    self._timeout_s,
                    extra={"event": "output_waiting", "unacknowledged": left},
                )
        self._unflushed = False
        self._raise_failures()
        return True

    def _raise_failures(self) -> None:
        failures, self._failures = self._failures, []
        if failures:
            raise OutputError(
                f"cannot write to output topic {self.topic}: {'; '.join(failures[:3])}"
            )

    def use(self, producer: Producer) -> None:
        """Write with another producer from now on (exactly-once: one that replaced a hung one)."""
        self._producer = producer

    def _on_delivery(self, number: int, error: KafkaError | None, message: Message) -> None:
        self._unacknowledged.discard(number)
        if error is not None:
            self._failures.append(error.str())

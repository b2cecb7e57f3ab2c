"""Send transactions and report each one only once Kafka has acknowledged it.

At play rates every delivery is logged (`✅ Sent transaction`, event `transaction_sent`): the
drills and the tests build their ledger of what was produced from those lines. A producer set to
send faster than LOG_EACH_MAX_RATE (PRODUCER_INTERVAL_S below 1 ms, or 0) logs one summary per
SUMMARY_S instead (`transactions_sent`: how many, and each partition's offsets): formatting a
JSON record per delivery cost as much as making the transaction, and Docker's log handling
more. The choice follows the rate asked for, never the rate measured, so a burst of deliveries
after a broker outage is still logged line by line where the ledger needs it. Failures are
always logged one by one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from confluent_kafka import KafkaError, Message, Producer

from playground.kafka import ClientConfig
from playground.transaction import InvalidTransaction, Transaction

log = logging.getLogger("producer")

LOG_EACH_MAX_RATE = 1000  # transactions/s asked for, up to which each delivery is logged
SUMMARY_S = 1.0


def logs_each(interval_s: float) -> bool:
    """Whether a producer sending every `interval_s` (0: as fast as it can) logs each delivery."""
    return interval_s * LOG_EACH_MAX_RATE >= 1


class Publisher:
    """A thin wrapper around confluent_kafka.Producer that counts what was delivered.

    Creating it does no I/O; use it as a context manager, which flushes on the way out.
    """

    def __init__(self, config: ClientConfig, topic: str, *, log_each: bool = True) -> None:
        self._config = config
        self._topic = topic
        self._producer: Producer | None = None
        self._log_each = log_each
        self.sent = 0
        self.failed = 0
        # Deliveries since the last summary: how many, and {partition: [first, last offset]}.
        self._window_sent = 0
        self._window_offsets: dict[int, list[int]] = {}
        self._window_started = time.monotonic()

    def __enter__(self) -> Publisher:
        self._producer = Producer(self._config)
        return self

    def __exit__(self, *exc: object) -> None:
        self.flush()

    @property
    def producer(self) -> Producer:
        if self._producer is None:
            raise RuntimeError("use Publisher as a context manager")
        return self._producer

    def send(self, transaction: Transaction) -> None:
        """Queue one transaction; block (serving delivery reports) while the queue is full."""
        while True:
            try:
                self.producer.produce(
                    self._topic,
                    key=transaction.key,
                    value=transaction.to_json(),
                    on_delivery=self._on_delivery(transaction.transaction_id)
                    if self._log_each
                    else self._counted,
                )
                break
            except BufferError:
                self.producer.poll(0.1)
        self.producer.poll(0)

    def serve(self, seconds: float, stop: Callable[[], bool]) -> None:
        """Serve delivery reports for `seconds` (so each is logged as it arrives, not when the
        next transaction is sent), returning early once `stop()` is true."""
        deadline = time.monotonic() + seconds
        while not stop() and (left := deadline - time.monotonic()) > 0:
            self.producer.poll(min(left, 0.2))

    def flush(self, timeout_s: float = 30.0) -> int:
        """Wait for outstanding deliveries; return how many are still undelivered."""
        left = self.producer.flush(timeout_s)
        self._summarize()
        if left:
            log.error(
                "%d transactions not delivered after %.0f s",
                left,
                timeout_s,
                extra={"event": "flush_incomplete", "undelivered": left},
            )
        return left

    def _on_delivery(self, transaction_id: str) -> Callable[[KafkaError | None, Message], None]:
        def report(error: KafkaError | None, message: Message) -> None:
            if error is not None:
                self.failed += 1
                log.error(
                    "❌ Failed to send transaction %s: %s",
                    transaction_id,
                    error,
                    extra={
                        "event": "transaction_failed",
                        "transaction_id": transaction_id,
                        "error": str(error),
                    },
                )
                return
            self.sent += 1
            log.info(
                "✅ Sent transaction %s (partition %s, offset %s)",
                transaction_id,
                message.partition(),
                message.offset(),
                extra={
                    "event": "transaction_sent",
                    "transaction_id": transaction_id,
                    "partition": message.partition(),
                    "offset": message.offset(),
                },
            )

        return report

    def _counted(self, error: KafkaError | None, message: Message) -> None:
        """The delivery report above LOG_EACH_MAX_RATE: counted into the next summary."""
        if error is not None:
            value = message.value()
            try:
                transaction_id = Transaction.from_json(value).transaction_id
            except InvalidTransaction:
                transaction_id = "?"
            self._on_delivery(transaction_id)(error, message)
            return
        self.sent += 1
        self._window_sent += 1
        offset = message.offset() or 0
        span = self._window_offsets.get(message.partition() or 0)
        if span is None:
            self._window_offsets[message.partition() or 0] = [offset, offset]
        else:
            span[0], span[1] = min(span[0], offset), max(span[1], offset)
        if time.monotonic() - self._window_started >= SUMMARY_S:
            self._summarize()

    def _summarize(self) -> None:
        if self._window_sent:
            offsets = dict(sorted(self._window_offsets.items()))
            log.info(
                "✅ Sent %d transactions in %.1f s (%s)",
                self._window_sent,
                time.monotonic() - self._window_started,
                " ".join(
                    f"p{p}@{a}-{b}" if a != b else f"p{p}@{a}" for p, (a, b) in offsets.items()
                ),
                extra={
                    "event": "transactions_sent",
                    "count": self._window_sent,
                    "offsets": offsets,
                    "sent": self.sent,
                },
            )
        self._window_sent = 0
        self._window_offsets = {}
        self._window_started = time.monotonic()

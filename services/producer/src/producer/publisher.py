"""Send transactions and report each one only once Kafka has acknowledged it.

At play rates every delivery is logged (`✅ Sent transaction`, event `transaction_sent`): the
drills and the tests build their ledger of what was produced from those lines. A producer set to
send faster than LOG_EACH_MAX_RATE (PRODUCER_INTERVAL_S below 1 ms, or 0) logs one summary per
SUMMARY_S instead (`transactions_sent`: how many, and each partition's offsets): formatting a
JSON record per delivery cost as much as making the transaction, and Docker's log handling
more. The choice follows the rate asked for, never the rate measured, so a burst of deliveries
after a broker outage is still logged line by line where the ledger needs it. Failures are
always logged one by one. That fast producer also serves delivery reports every SERVE_EVERY
sends (or when the queue is full) instead of after each, and only counts in each report: the
rest (a stall's end, the next summary, the stall check) is done once per serving.

A transaction Kafka does not acknowledge is retried by librdkafka until `message.timeout.ms`
(300 s by default) and then reported failed; it is never re-sent by us, because a write that
timed out on our side may still have reached the topic. While nothing is acknowledged for
STALL_S, the producer says so once (`delivery_stalled`), and once more when deliveries resume.
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
SERVE_EVERY = 100


def logs_each(interval_s: float) -> bool:
    """Whether a producer sending every `interval_s` (0: as fast as it can) logs each delivery."""
    return interval_s * LOG_EACH_MAX_RATE >= 1


STALL_S = 5.0  # no delivery report for this long while transactions wait: say so


class Publisher:
    """A thin wrapper around confluent_kafka.Producer that counts what was delivered.

    Creating it does no I/O; use it as a context manager, which flushes on the way out.
    """

    def __init__(self, config: ClientConfig, topic: str, *, log_each: bool = True) -> None:
        self._config = config
        self._topic = topic
        self._producer: Producer | None = None
        self._log_each = log_each
        self._serve_every = 1 if log_each else SERVE_EVERY
        self._unserved = 0
        self.sent = 0
        self.failed = 0
        # Deliveries since the last summary: how many, and {partition: [first, last offset]}.
        self._window_sent = 0
        self._window_offsets: dict[int, list[int]] = {}
        self._window_started = time.monotonic()
        self._last_report = time.monotonic()  # a delivery report, or a send into an empty queue
        self._stalled = False

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
        producer = self.producer
        if not len(producer):  # nothing waited: the stall clock starts now
            self._last_report = time.monotonic()
        report = self._on_delivery(transaction.transaction_id) if self._log_each else self._counted
        while True:
            try:
                producer.produce(
                    self._topic,
                    key=transaction.key,
                    value=transaction.to_json(),
                    on_delivery=report,
                )
                break
            except BufferError:
                self._poll(0.1)
        self._unserved += 1
        if self._unserved >= self._serve_every:
            self._poll(0)

    def serve(self, seconds: float, stop: Callable[[], bool]) -> None:
        """Serve delivery reports for `seconds` (so each is logged as it arrives, not when the
        next transaction is sent), returning early once `stop()` is true."""
        deadline = time.monotonic() + seconds
        self._poll(0)  # what arrived while sending, even with no time left
        while not stop() and (left := deadline - time.monotonic()) > 0:
            self._poll(min(left, 0.2))

    def _poll(self, timeout_s: float) -> None:
        """Serve the delivery reports that arrived (up to `timeout_s` for one), then what their
        arrival decides: the end of a stall, the next summary."""
        self._unserved = 0
        if self.producer.poll(timeout_s):
            self._reported()
            if time.monotonic() - self._window_started >= SUMMARY_S:
                self._summarize()
        self._check_stall()

    def _check_stall(self) -> None:
        """Say once when transactions have waited STALL_S without any delivery report: the
        brokers that must acknowledge them (acks=all) are away. They are not lost: librdkafka
        retries them until message.timeout.ms."""
        waited = time.monotonic() - self._last_report
        if self._stalled or waited < STALL_S or not len(self.producer):
            return
        self._stalled = True
        waiting = len(self.producer)
        log.warning(
            "⏳ No acknowledgement from Kafka for %.0f s: %d transactions wait, retried until "
            "delivered or message.timeout.ms runs out",
            waited,
            waiting,
            extra={"event": "delivery_stalled", "waited_s": round(waited, 1), "waiting": waiting},
        )

    def _reported(self) -> None:
        if self._stalled:
            stalled_s = time.monotonic() - self._last_report
            log.info(
                "▶️ Kafka acknowledges again after %.0f s",
                stalled_s,
                extra={"event": "delivery_resumed", "stalled_s": round(stalled_s, 1)},
            )
            self._stalled = False
        self._last_report = time.monotonic()

    def flush(self, timeout_s: float = 30.0) -> int:
        """Wait for outstanding deliveries; return how many are still undelivered."""
        served = self.sent + self.failed
        left = self.producer.flush(timeout_s)
        if self.sent + self.failed > served:
            self._reported()
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
            self._reported()
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
                    # When send() queued it (the record's CreateTime, epoch ms): tells a write
                    # queued after a fault from one acknowledged just before it.
                    "create_time_ms": message.timestamp()[1],
                },
            )

        return report

    def _counted(self, error: KafkaError | None, message: Message) -> None:
        """The delivery report above LOG_EACH_MAX_RATE: counted into the next summary. Only
        counting: _poll does the rest once for all the reports it served."""
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
        partition, offset = message.partition() or 0, message.offset() or 0
        span = self._window_offsets.get(partition)
        if span is None:
            self._window_offsets[partition] = [offset, offset]
        elif offset > span[1]:
            span[1] = offset
        elif offset < span[0]:
            span[0] = offset

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

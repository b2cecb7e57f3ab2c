"""Send transactions and report each one only once Kafka has acknowledged it."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from confluent_kafka import KafkaError, Message, Producer

from playground.kafka import ClientConfig
from playground.transaction import Transaction

log = logging.getLogger("producer")


class Publisher:
    """A thin wrapper around confluent_kafka.Producer that counts what was delivered.

    Creating it does no I/O; use it as a context manager, which flushes on the way out.
    """

    def __init__(self, config: ClientConfig, topic: str) -> None:
        self._config = config
        self._topic = topic
        self._producer: Producer | None = None
        self.sent = 0
        self.failed = 0

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
                    on_delivery=self._on_delivery(transaction.transaction_id),
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

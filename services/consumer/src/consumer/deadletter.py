"""The dead-letter topic: messages the consumer cannot process, kept with the reason why.

A dead letter carries the original key, value and headers, plus `dlq.*` headers that say why,
where from (topic, partition, offset) and which client and group. The batch's offsets are
committed only once every dead letter is acknowledged; if the topic cannot be written, the
consumer stops without committing rather than lose the message.
"""

from __future__ import annotations

import logging

from confluent_kafka import KafkaError, Message, Producer

log = logging.getLogger("consumer.deadletter")


class DeadLetterError(Exception):
    """The dead-letter topic could not take a message: stop, commit nothing more."""


class DeadLetters:
    def __init__(
        self, producer: Producer, topic: str, client: str, group_id: str, timeout_s: float
    ) -> None:
        self._producer = producer
        self.topic = topic
        self._client = client
        self._group_id = group_id
        self._timeout_s = timeout_s
        self._failures: list[str] = []
        self._unflushed = 0

    def send(self, message: Message, reason: str, error: str) -> None:
        headers = [
            *(message.headers() or []),
            ("dlq.reason", reason.encode()),
            ("dlq.error", error[:1000].encode()),
            ("dlq.topic", (message.topic() or "").encode()),
            ("dlq.partition", str(message.partition()).encode()),
            ("dlq.offset", str(message.offset()).encode()),
            ("dlq.client", self._client.encode()),
            ("dlq.group", self._group_id.encode()),
        ]
        self._producer.produce(
            self.topic,
            key=message.key(),
            value=message.value(),
            headers=headers,
            on_delivery=self._on_delivery,
        )
        self._unflushed += 1
        log.warning(
            "☠️ Dead-lettered partition %s offset %s (%s): %s",
            message.partition(),
            message.offset(),
            reason,
            error,
            extra={
                "event": "dead_lettered",
                "partition": message.partition(),
                "offset": message.offset(),
                "reason": reason,
                "error": error,
            },
        )

    def flush(self) -> None:
        """Wait until every dead letter is acknowledged; raise DeadLetterError otherwise."""
        if not self._unflushed:
            return  # the common case: a batch without poison costs nothing here
        self._unflushed = 0
        left = self._producer.flush(self._timeout_s)
        failures, self._failures = self._failures, []
        if left or failures:
            problem = f"{left} unacknowledged" if left else "; ".join(failures)
            raise DeadLetterError(f"cannot write to dead-letter topic {self.topic}: {problem}")

    def _on_delivery(self, error: KafkaError | None, message: Message) -> None:
        if error is not None:
            self._failures.append(str(error))

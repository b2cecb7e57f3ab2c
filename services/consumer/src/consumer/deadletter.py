"""The dead-letter topic: messages the consumer cannot process, kept with the reason why.

A dead letter carries the original key, value and headers, plus `dlq.*` headers that say why,
where from (topic, partition, offset) and which client and group. It goes to the same partition
number as its poison (provision gives the dead-letter topic as many partitions as the topic;
should it have fewer, the partitioner chooses). The batch's offsets are committed only once
every dead letter is acknowledged; if the topic cannot be written, the consumer stops without
committing rather than lose the message.

A dead letter too large to send (refused by produce() or by the broker) is replaced by a bounded
one: the first PREVIEW_BYTES of the value, its size and SHA-256, and the headers. A poison
message is never fatal for its size.
"""

from __future__ import annotations

import hashlib
import logging

from confluent_kafka import KafkaError, KafkaException, Message, Producer

log = logging.getLogger("consumer.deadletter")

PREVIEW_BYTES = 1024  # of a value too large to dead-letter whole
HEADERS_BUDGET = 16_384  # bytes of original headers a bounded dead letter keeps
MAX_ERROR_CHARS = 1000
UNASSIGNED = -1  # confluent_kafka's "let the partitioner choose"

Headers = list[tuple[str, str | bytes | None]]


def header_list(headers: Headers | dict[str, str | bytes | None] | None) -> Headers:
    """A message's headers as a list (confluent_kafka accepts and hands out both forms)."""
    if headers is None:
        return []
    return list(headers.items()) if isinstance(headers, dict) else list(headers)


def text(value: str | bytes | None) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


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
        self._oversized: list[Message] = []  # refused by the broker as too large
        self._unflushed = False  # a dead letter was produced since the last flush

    def send(self, message: Message, reason: str, error: str) -> None:
        headers: Headers = [
            *header_list(message.headers()),
            ("dlq.reason", reason.encode()),
            ("dlq.error", error[:MAX_ERROR_CHARS].encode()),
            ("dlq.topic", (message.topic() or "").encode()),
            ("dlq.partition", str(message.partition()).encode()),
            ("dlq.offset", str(message.offset()).encode()),
            ("dlq.client", self._client.encode()),
            ("dlq.group", self._group_id.encode()),
        ]
        partition = message.partition()
        self._produce(
            UNASSIGNED if partition is None else partition, message.key(), message.value(), headers
        )
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

    def _produce(
        self, partition: int, key: bytes | None, value: bytes | None, headers: Headers
    ) -> None:
        try:
            self._producer.produce(
                self.topic,
                key=key,
                value=value,
                headers=headers,
                partition=partition,
                on_delivery=self._on_delivery,
            )
        except KafkaException as exc:
            error = exc.args[0]
            code = error.code() if isinstance(error, KafkaError) else None
            if code == KafkaError.MSG_SIZE_TOO_LARGE and not truncated(headers):
                self._produce(partition, *bounded(key, value, headers))
                return
            if code == KafkaError._UNKNOWN_PARTITION and partition != UNASSIGNED:
                log.warning(
                    "⚠️ Dead-letter topic %s has no partition %d: the partitioner chooses",
                    self.topic,
                    partition,
                    extra={"event": "dead_letter_repartitioned", "partition": partition},
                )
                self._produce(UNASSIGNED, key, value, headers)
                return
            problem = error.str() if isinstance(error, KafkaError) else str(error)
            raise DeadLetterError(
                f"cannot write to dead-letter topic {self.topic}: {problem}"
            ) from exc
        except BufferError as exc:  # the producer's queue is full: the topic is not keeping up
            raise DeadLetterError(f"cannot write to dead-letter topic {self.topic}: {exc}") from exc
        self._unflushed = True

    def flush(self) -> None:
        """Wait until every dead letter is acknowledged; raise DeadLetterError otherwise."""
        if not self._unflushed:
            return  # the common case: a batch without poison costs nothing here
        self._unflushed = False
        left = self._producer.flush(self._timeout_s)
        # The broker refused some as too large: send their bounded stand-ins, and wait again.
        oversized, self._oversized = self._oversized, []
        for message in oversized:
            partition = message.partition()
            self._produce(
                UNASSIGNED if partition is None else partition,
                *bounded(message.key(), message.value(), header_list(message.headers())),
            )
        if oversized:
            self._unflushed = False
            left = self._producer.flush(self._timeout_s)
        failures, self._failures = self._failures, []
        if left or failures:
            problem = f"{left} unacknowledged" if left else "; ".join(failures)
            raise DeadLetterError(f"cannot write to dead-letter topic {self.topic}: {problem}")

    def use(self, producer: Producer) -> None:
        """Write with another producer from now on (exactly-once: one that replaced a hung one)."""
        self._producer = producer

    def _on_delivery(self, error: KafkaError | None, message: Message) -> None:
        if error is None:
            return
        too_large = error.code() == KafkaError.MSG_SIZE_TOO_LARGE
        if too_large and not truncated(header_list(message.headers())):
            self._oversized.append(message)
        else:
            self._failures.append(error.str())


def truncated(headers: Headers) -> bool:
    return any(k == "dlq.truncated" for k, _ in headers)


def bounded(
    key: bytes | None, value: bytes | None, headers: Headers
) -> tuple[bytes | None, bytes, Headers]:
    """A stand-in for a dead letter too large to send: a bounded key, value and headers."""
    value = value or b""
    where = {k: text(v) for k, v in headers if k.startswith("dlq.")}
    kept: Headers = []
    budget = HEADERS_BUDGET
    for name, header in headers:
        size = len(name) + len(header or b"")
        if name.startswith("dlq."):
            kept.append((name, header))
        elif size <= budget:  # the poison's own headers, up to the budget
            kept.append((name, header))
            budget -= size
    log.warning(
        "✂️ Dead letter of partition %s offset %s too large to send (%d bytes): "
        "sending its first %d bytes, size and SHA-256",
        where["dlq.partition"],
        where["dlq.offset"],
        len(value),
        PREVIEW_BYTES,
        extra={
            "event": "dead_letter_truncated",
            "partition": int(where["dlq.partition"]),
            "offset": int(where["dlq.offset"]),
            "size": len(value),
        },
    )
    return (
        key[:PREVIEW_BYTES] if key else key,
        value[:PREVIEW_BYTES],
        [
            *kept,
            ("dlq.original_size", str(len(value)).encode()),
            ("dlq.sha256", hashlib.sha256(value).hexdigest().encode()),
            ("dlq.truncated", b"true"),
        ],
    )

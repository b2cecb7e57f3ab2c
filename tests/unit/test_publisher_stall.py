"""The producer says when Kafka stops acknowledging (two of three brokers down), and when it
acknowledges again; and logs each delivery with the record's CreateTime."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
from confluent_kafka import TIMESTAMP_CREATE_TIME, Message

import producer.publisher
from playground.transaction import TransactionFactory
from producer.publisher import STALL_S, Publisher

TOPIC = "transactions"


class Held:
    """confluent_kafka.Producer while no broker acknowledges: messages wait until release(),
    and their reports until the next poll(), as librdkafka serves them."""

    def __init__(self, config: object) -> None:
        self.waiting: list[Callable[..., None]] = []
        self.acknowledged: list[Callable[..., None]] = []

    def produce(self, topic: str, *, on_delivery: Callable[..., None], **message: Any) -> None:
        self.waiting.append(on_delivery)

    def poll(self, timeout: float) -> int:
        served, self.acknowledged = self.acknowledged, []
        for offset, report in enumerate(served):
            report(
                None,
                Message(
                    topic=TOPIC, partition=0, offset=offset, timestamp=(TIMESTAMP_CREATE_TIME, 1234)
                ),
            )
        return len(served)

    def flush(self, timeout: float) -> int:
        self.poll(timeout)
        return len(self.waiting)

    def __len__(self) -> int:
        return len(self.waiting) + len(self.acknowledged)

    def release(self) -> None:
        self.acknowledged += self.waiting
        self.waiting.clear()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def events(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [getattr(r, "event", "") for r in caplog.records]


def test_a_stall_is_said_once_and_its_end_too(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    monkeypatch.setattr("producer.publisher.time.monotonic", clock)
    monkeypatch.setattr(producer.publisher, "Producer", Held)
    make = TransactionFactory(1)
    caplog.set_level(logging.INFO, logger="producer")
    with Publisher({}, TOPIC) as out:
        held: Held = out.producer  # type: ignore[assignment]
        out.send(make())
        clock.now += STALL_S - 0.1
        out.send(make())
        assert "delivery_stalled" not in events(caplog)
        clock.now += 0.2
        out.send(make())
        out.send(make())
        assert events(caplog).count("delivery_stalled") == 1
        stalled = next(r for r in caplog.records if getattr(r, "event", "") == "delivery_stalled")
        assert stalled.waiting == 3  # type: ignore[attr-defined]  # the 4th is queued after
        held.release()
        out.serve(0, lambda: False)
        assert events(caplog).count("delivery_resumed") == 1
        assert out.sent == 4
        sent = [r for r in caplog.records if getattr(r, "event", "") == "transaction_sent"]
        assert [r.create_time_ms for r in sent] == [1234] * 4  # type: ignore[attr-defined]
        # After a quiet spell with nothing waiting, a new send starts the clock afresh.
        clock.now += 60
        out.send(make())
        assert events(caplog).count("delivery_stalled") == 1
        held.release()


def test_above_the_log_rate_a_stall_ends_with_the_first_counted_delivery(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    monkeypatch.setattr("producer.publisher.time.monotonic", clock)
    monkeypatch.setattr(producer.publisher, "Producer", Held)
    monkeypatch.setattr(producer.publisher, "SERVE_EVERY", 1)  # served (and checked) each send
    make = TransactionFactory(1)
    caplog.set_level(logging.INFO, logger="producer")
    with Publisher({}, TOPIC, log_each=False) as out:
        held: Held = out.producer  # type: ignore[assignment]
        out.send(make())
        clock.now += STALL_S + 0.1
        out.send(make())
        assert events(caplog).count("delivery_stalled") == 1
        held.release()
        out.serve(0, lambda: False)
        assert events(caplog).count("delivery_resumed") == 1
        assert out.sent == 2

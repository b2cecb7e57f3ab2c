"""The producer's delivery log: each delivery at play rates (the drills' ledger is built from
those lines), one summary a second above LOG_EACH_MAX_RATE, every failure on its own line."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
from confluent_kafka import KafkaError, Message

import producer.publisher
from playground.transaction import TransactionFactory
from producer.publisher import Publisher, logs_each

TOPIC = "transactions"
BROKER_DOWN = KafkaError(KafkaError._MSG_TIMED_OUT, "timed out")


class Acknowledging:
    """confluent_kafka.Producer as far as delivery reports go: each `produce` is acknowledged
    at once, at the next offset of partitions 0, 1, 2 in turn, or fails if `fail` says so; as
    librdkafka does, the reports are served by poll() and flush() only."""

    fail: Callable[[int], bool] = staticmethod(lambda n: False)

    def __init__(self, config: object) -> None:
        self.produced = 0
        self.reports: list[Callable[[], None]] = []

    def produce(
        self, topic: str, *, on_delivery: Callable[..., None], value: bytes, **_: Any
    ) -> None:
        n, self.produced = self.produced, self.produced + 1
        message = Message(topic=topic, partition=n % 3, offset=n // 3, value=value)
        error = BROKER_DOWN if self.fail(n) else None
        self.reports.append(lambda: on_delivery(error, message))

    def __len__(self) -> int:
        return len(self.reports)

    def poll(self, timeout: float) -> int:
        served, self.reports = self.reports, []
        for report in served:
            report()
        return len(served)

    def flush(self, timeout: float) -> int:
        self.poll(timeout)
        return 0


@pytest.fixture(autouse=True)
def acknowledging(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(producer.publisher, "Producer", Acknowledging)


def send(count: int, caplog: pytest.LogCaptureFixture, *, log_each: bool) -> list[Any]:
    make = TransactionFactory(seed=1)
    with caplog.at_level(logging.INFO, "producer"), Publisher({}, TOPIC, log_each=log_each) as out:
        for _ in range(count):
            out.send(make())
    assert out.sent + out.failed == count
    return [r for r in caplog.records if hasattr(r, "event")]


def test_at_play_rates_each_delivery_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    events = send(7, caplog, log_each=True)
    assert [e.event for e in events] == ["transaction_sent"] * 7
    assert [(e.partition, e.offset) for e in events][:4] == [(0, 0), (1, 0), (2, 0), (0, 1)]


def test_above_the_rate_one_summary_says_how_many_and_where(
    caplog: pytest.LogCaptureFixture,
) -> None:
    events = send(10, caplog, log_each=False)
    assert [e.event for e in events] == ["transactions_sent"]
    assert events[0].count == 10
    assert events[0].sent == 10
    assert events[0].offsets == {0: [0, 3], 1: [0, 2], 2: [0, 2]}


@pytest.mark.parametrize(
    ("serve_every", "summaries"), [(1, [(1, 1), (1, 2), (1, 3), (1, 4)]), (2, [(2, 2), (2, 4)])]
)
def test_a_summary_every_interval_once_the_reports_are_served(
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    serve_every: int,
    summaries: list[tuple[int, int]],
) -> None:
    monkeypatch.setattr(producer.publisher, "SUMMARY_S", 0.0)  # every serving closes a window
    monkeypatch.setattr(producer.publisher, "SERVE_EVERY", serve_every)
    events = send(4, caplog, log_each=False)
    assert [(e.count, e.sent) for e in events] == summaries


def test_above_the_rate_each_failure_is_still_logged_with_its_transaction(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Acknowledging, "fail", staticmethod(lambda n: n == 2))
    make = TransactionFactory(seed=1)
    failing = [make() for _ in range(3)][2].transaction_id
    events = send(5, caplog, log_each=False)
    assert [e.event for e in events] == ["transaction_failed", "transactions_sent"]
    assert events[0].transaction_id == failing
    assert events[1].count == 4


@pytest.mark.parametrize(
    ("interval_s", "each"), [(2, True), (0.003, True), (0.001, True), (0.0009, False), (0, False)]
)
def test_the_rate_asked_for_decides(interval_s: float, each: bool) -> None:
    assert logs_each(interval_s) is each

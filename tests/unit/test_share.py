"""The share-group loop's rules (share.py's docstring, docs/consumer.md), against a scripted
share partition (tests/unit/fakes.py's FakeShareConsumer)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

import pytest
from confluent_kafka import AcknowledgeType, KafkaError, KafkaException, Message

from consumer.deadletter import DeadLetterError, DeadLetters
from consumer.settings import ConsumerSettings
from consumer.share import ShareLoop
from playground.settings import KafkaSettings, LogSettings
from playground.shutdown import StopFlag
from playground.transaction import TransactionFactory
from tests.unit.fakes import TOPIC, FakeProducer, FakeShareConsumer

DLQ = f"{TOPIC}.dlq"
GOOD = asdict(TransactionFactory(seed=3)())
RAISES = json.dumps(GOOD | {"amount": "lots"}).encode()  # enrich raises (if validate lets it by)
INVALID = json.dumps(GOOD | {"currency": "XXX"}).encode()  # validate drops it
ACCEPT, RELEASE, REJECT = AcknowledgeType.ACCEPT, AcknowledgeType.RELEASE, AcknowledgeType.REJECT


class Harness:
    def __init__(
        self,
        limit: int = 5,
        max_records: int = 100,
        pipeline: tuple[str, ...] = ("validate", "enrich", "score"),
    ) -> None:
        self.stop = StopFlag()
        self.consumer = FakeShareConsumer(self.stop, limit=limit, max_records=max_records)
        self.producer = FakeProducer()
        self.settings = ConsumerSettings(
            kafka=KafkaSettings("kafka:9092", TOPIC, DLQ, {}),
            log=LogSettings("text", "INFO"),
            client="bravo",
            group_id="q",
            batch_size=max_records,
            batch_max_wait_s=5,
            pipeline=pipeline,
            group_type="share",
            share_delivery_count_limit=limit,
        )
        self.dead_letters = DeadLetters(self.producer.as_producer(), DLQ, "bravo", "q", 5.0)
        self.loop = ShareLoop(
            self.settings, self.consumer.as_share_consumer(), self.dead_letters, self.stop
        )

    def run(self) -> None:
        self.loop.run()

    def letters(self) -> list[tuple[int, int, str]]:
        return [
            (
                int(d.headers["dlq.partition"]),
                int(d.headers["dlq.offset"]),
                d.headers["dlq.reason"].decode(),
            )
            for d in self.producer.delivered
        ]


@pytest.fixture
def make() -> Callable[..., Harness]:
    return Harness


def acknowledged(caplog: pytest.LogCaptureFixture) -> list[tuple[str, int, int, int]]:
    return [
        (r.ack, r.partition, r.offset, r.delivery_count)  # type: ignore[attr-defined]
        for r in caplog.records
        if getattr(r, "event", None) == "record_acknowledged"
    ]


def test_processed_records_are_accepted_and_committed_before_the_next_poll(
    make: Callable[..., Harness], caplog: pytest.LogCaptureFixture
) -> None:
    h = make(max_records=3)
    h.consumer.produce(0, 0, 1)
    h.consumer.produce(2, 7, 8)
    h.consumer.idle(3)
    caplog.set_level(logging.INFO)
    h.run()
    assert h.consumer.outcome == dict.fromkeys([(0, 0), (0, 1), (2, 7), (2, 8)], ACCEPT)
    assert h.consumer.events[:5] == ["poll", "commit", "poll", "commit", "poll"]
    assert acknowledged(caplog) == [
        ("accept", 0, 0, 1),
        ("accept", 0, 1, 1),
        ("accept", 2, 7, 1),
        ("accept", 2, 8, 1),
    ]
    assert "✅ Accepted p0@0 (delivery 1)" in [r.getMessage() for r in caplog.records]
    assert h.consumer.closed


def test_a_record_a_step_raises_for_is_released_then_dead_lettered_at_the_last_delivery(
    make: Callable[..., Harness], caplog: pytest.LogCaptureFixture
) -> None:
    h = make(limit=3, pipeline=("enrich", "score"))
    h.consumer.produce(1, 4, value=RAISES)
    h.consumer.produce(1, 5)
    h.consumer.idle(5)
    caplog.set_level(logging.INFO)
    h.run()
    assert acknowledged(caplog) == [
        ("release", 1, 4, 1),
        ("accept", 1, 5, 1),
        ("release", 1, 4, 2),
        ("reject", 1, 4, 3),
    ]
    assert h.letters() == [(1, 4, "failed in enrich")]
    assert h.consumer.outcome[(1, 4)] == REJECT
    assert h.consumer.archived == [], "nothing reaches the limit unseen"
    assert h.consumer.handed.count((1, 4, 3)) == 1, "never delivered again once rejected"


def test_poison_is_dead_lettered_before_it_is_rejected(
    make: Callable[..., Harness], caplog: pytest.LogCaptureFixture
) -> None:
    h = make()
    h.consumer.produce(0, 0, value=b"\xff not json")
    h.consumer.produce(0, 1, value=INVALID)
    h.consumer.produce(0, 2, value=json.dumps(GOOD | {"merchant": "x" * 70_000}).encode())
    h.consumer.produce(0, 3)
    flushed_at: list[int] = []
    flush = h.producer.flush

    def spy(timeout: float) -> int:
        flushed_at.append(h.consumer.commits)
        return flush(timeout)

    h.producer.flush = spy  # type: ignore[method-assign,assignment]
    h.consumer.idle(2)
    caplog.set_level(logging.INFO)
    h.run()
    assert sorted(h.letters()) == [
        (0, 0, "undecodable"),
        (0, 1, "rejected by validate"),
        (0, 2, "too_large"),
    ]
    assert flushed_at == [0], "the dead letters were safe before the rejects were committed"
    assert h.consumer.outcome == {(0, 0): REJECT, (0, 1): REJECT, (0, 2): REJECT, (0, 3): ACCEPT}
    assert [d for _, _, _, d in acknowledged(caplog)] == [1, 1, 1, 1]


def test_an_unwritable_dead_letter_topic_releases_the_poison_and_stops(
    make: Callable[..., Harness], caplog: pytest.LogCaptureFixture
) -> None:
    h = make()
    h.consumer.produce(0, 0, value=INVALID)
    h.consumer.produce(0, 1)
    h.producer.unacknowledged = 1
    h.consumer.idle(3)
    with pytest.raises(DeadLetterError):
        h.run()
    assert h.consumer.outcome == {(0, 1): ACCEPT}
    assert (0, 0) not in h.consumer.outcome, "not rejected without its dead letter"
    assert (0, 0, INVALID) in h.consumer.available, "released: it comes back"
    assert h.consumer.closed


def test_acknowledgements_the_broker_did_not_take_are_logged_and_the_loop_goes_on(
    make: Callable[..., Harness], caplog: pytest.LogCaptureFixture
) -> None:
    h = make(max_records=1)
    h.consumer.produce(0, 0)
    h.consumer.produce(1, 0)
    h.consumer.commit_answers.extend(
        [
            KafkaException(KafkaError(KafkaError._TRANSPORT)),
            None,
            {1: KafkaError(KafkaError._TRANSPORT)},
        ]
    )
    h.consumer.idle(6)
    caplog.set_level(logging.INFO)
    h.run()
    failed = [r for r in caplog.records if getattr(r, "event", None) == "acknowledgement_failed"]
    assert [getattr(r, "partition", None) for r in failed] == [None, 1]
    # Their locks ran out: each came back, was processed again, and accepted this time.
    assert h.consumer.handed == [(0, 0, 1), (0, 0, 2), (1, 0, 1), (1, 0, 2)]
    assert h.consumer.outcome == {(0, 0): ACCEPT, (1, 0): ACCEPT}


def test_a_stop_acknowledges_the_batch_in_hand_then_closes(
    make: Callable[..., Harness],
) -> None:
    h = make()
    h.consumer.produce(2, 0, 1, 2)
    h.consumer.then(h.stop.set)
    h.run()
    assert h.consumer.outcome == {(2, 0): ACCEPT, (2, 1): ACCEPT, (2, 2): ACCEPT}
    assert h.consumer.events == ["poll", "commit", "close"]


def test_a_fatal_error_stops_the_loop_and_closes(make: Callable[..., Harness]) -> None:
    h = make()
    fatal = KafkaError(KafkaError._FATAL, "fenced", fatal=True)
    h.consumer.errors.append(Message(topic=TOPIC, error=fatal))
    h.consumer.idle()
    with pytest.raises(KafkaException):
        h.run()
    assert h.consumer.closed


def test_the_start_line_names_the_share_group(
    make: Callable[..., Harness], caplog: pytest.LogCaptureFixture
) -> None:
    h = make()
    caplog.set_level(logging.INFO)
    h.run()
    started: Any = next(r for r in caplog.records if getattr(r, "event", "") == "consumer_started")
    assert started.group_type == "share"
    assert "share group q, delivery count limit 5" in started.getMessage()

"""One reader of the services' log lines: JSON records, and the text lines the host tools need.

The lines are printed by the services' own code (the producer's delivery report, the consumer
loop through a scripted consumer), once with LOG_FORMAT=text and once with LOG_FORMAT=json: both
must read as the same facts. Change a text message without its pattern and this fails.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import asdict
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException, Message, TopicPartition

import producer.publisher
from consumer import settings as consumer_settings
from consumer.deadletter import DeadLetters
from consumer.loop import ConsumerLoop
from consumer.share import ShareLoop
from playground import logs
from playground.records import TEXT_LINES, Record, positions, record, records
from playground.settings import LogFormat, LogSettings, load
from playground.shutdown import StopFlag
from playground.transaction import Transaction, TransactionFactory
from producer.publisher import Publisher
from tests.unit.fakes import FakeProducer, FakeShareConsumer

TOPIC = "transactions"
TRANSACTION = TransactionFactory(seed=1)()
TRANSPORT = KafkaError(KafkaError._TRANSPORT, "broker down", retriable=True)


class Delivered:
    """confluent_kafka.Producer, as far as a delivery report goes: acknowledged at once."""

    def __init__(self, config: object) -> None:
        pass

    def produce(self, topic: str, *, on_delivery: Callable[..., None], **message: Any) -> None:
        on_delivery(None, Message(topic=topic, partition=2, offset=41))

    def poll(self, timeout: float) -> int:
        return 0

    def flush(self, timeout: float) -> int:
        return 0

    def __len__(self) -> int:
        return 0  # nothing waits: each is acknowledged at once


class Failed:
    """A commit result that failed for one partition."""

    topic, partition, offset, error = TOPIC, 1, 4, TRANSPORT


class ScriptedConsumer:
    """confluent_kafka.Consumer, scripted like a broker would: each consume() runs one step."""

    def __init__(self, stop: StopFlag, steps: list[Callable[[ScriptedConsumer], list[Message]]]):
        self.stop, self.steps = stop, steps
        self.commits = 0

    def subscribe(self, topics: list[str], **callbacks: Callable[..., None]) -> None:
        self.on = callbacks

    def consume(self, num_messages: int, timeout: float) -> list[Message]:
        if not self.steps:
            self.stop.set()
            return []
        return self.steps.pop(0)(self)

    def commit(self, offsets: list[TopicPartition], asynchronous: bool) -> object:
        """The first commit fails, the second fails for one partition, then all succeed."""
        self.commits += 1
        if self.commits == 1:
            raise KafkaException(TRANSPORT)
        return [Failed()] if self.commits == 2 else offsets

    def assignment(self) -> list[TopicPartition]:
        return [TopicPartition(TOPIC, 0), TopicPartition(TOPIC, 1)]

    def pause(self, partitions: list[TopicPartition]) -> None:
        pass

    resume = pause

    def close(self) -> None:
        pass


def partitions(*numbers: int) -> list[TopicPartition]:
    return [TopicPartition(TOPIC, p) for p in numbers]


def message(partition: int, offset: int) -> Message:
    return Message(topic=TOPIC, partition=partition, offset=offset, value=TRANSACTION.to_json())


def assigned_then_a_batch(c: ScriptedConsumer) -> list[Message]:
    c.on["on_assign"](c, partitions(0, 1))
    return [message(0, 7), message(0, 8), message(0, 9), message(1, 3)]


def lost(c: ScriptedConsumer) -> list[Message]:
    c.on["on_lost"](c, partitions(1))
    return []


def revoked(c: ScriptedConsumer) -> list[Message]:
    c.on["on_revoke"](c, partitions(0))
    return []


@pytest.fixture
def root_logging() -> Iterator[None]:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    yield
    root.handlers[:], root.level = saved[0], saved[1]


def printed(
    log_format: LogFormat, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> list[str]:
    """What the producer and a consumer print in `log_format` for a short scripted run."""
    capsys.readouterr()
    log = LogSettings(log_format, "INFO")
    logs.configure(log, static={"service": "producer", "client": "producer"})
    monkeypatch.setattr(producer.publisher, "Producer", Delivered)
    with Publisher({}, TOPIC) as out:
        out.send(TRANSACTION)

    config = load(
        consumer_settings.read, {"CLIENT": "bravo", "BATCH_SIZE": 4, "PIPELINE": "validate"}
    )
    static = {"service": "consumer", "client": "bravo", "group_id": config.group_id}
    logs.configure(log, tag=logs.tag("bravo"), static=static)
    stop = StopFlag()
    consumer = ScriptedConsumer(stop, [assigned_then_a_batch, lost, revoked])
    dead_letters = DeadLetters(None, f"{TOPIC}.dlq", "bravo", config.group_id, 1.0)  # type: ignore[arg-type]
    loop = ConsumerLoop(config, consumer, dead_letters, stop)  # type: ignore[arg-type]
    loop.unconfirmed_max = 1  # a failed commit pauses fetching at once: every commit synchronous
    loop.run()

    # A member of a share group: one record accepted, one released, one rejected.
    config = load(
        consumer_settings.read,
        {"CLIENT": "zulu", "GROUP_TYPE": "share", "PIPELINE": "validate,enrich"},
    )
    logs.configure(log, tag=logs.tag("zulu"), static=static | {"client": "zulu"})
    stop = StopFlag()
    share = FakeShareConsumer(stop)
    share.produce(0, 5)
    invalid = asdict(TRANSACTION) | {"currency": "XXX"}
    share.produce(1, 6, value=Transaction(**invalid).to_json())
    share.produce(2, 7, value=b"\xff")
    share.idle()
    share.commit_answers.append({0: TRANSPORT})
    dead_letters = DeadLetters(FakeProducer().as_producer(), f"{TOPIC}.dlq", "zulu", "q", 1.0)
    ShareLoop(config, share.as_share_consumer(), dead_letters, stop).run()
    return capsys.readouterr().out.splitlines()


TEXT_EVENTS = {
    "transaction_sent",
    "batch_processed",
    "partitions_assigned",
    "partitions_lost",
    "partitions_revoked",
    "commit_failed",
    "fetch_paused",
    "record_acknowledged",
    "acknowledgement_failed",
}


@pytest.mark.usefixtures("root_logging")
def test_text_lines_read_as_the_same_facts_as_json_records(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    text_lines = printed("text", capsys, monkeypatch)
    as_text = list(records(text_lines))
    as_json = [
        r for r in records(printed("json", capsys, monkeypatch)) if r["event"] in TEXT_EVENTS
    ]

    assert [r["event"] for r in as_text] == [r["event"] for r in as_json]
    assert {r["event"] for r in as_text} == TEXT_EVENTS
    for pattern, _ in TEXT_LINES:  # no pattern is left that nothing prints
        assert any(pattern.search(line) for line in text_lines), pattern
    for text, json in zip(as_text, as_json, strict=True):
        assert text.items() <= json.items(), (text, json)

    def first(event: str) -> Record:
        return next(r for r in as_text if r["event"] == event)

    assert first("transaction_sent") == {
        "event": "transaction_sent",
        "transaction_id": TRANSACTION.transaction_id,
        "partition": 2,
        "offset": 41,
    }
    batch = first("batch_processed")
    assert positions(batch["offsets"]) == [(0, 7), (0, 8), (0, 9), (1, 3)]
    assert batch["count"] == 4
    assert [(r["partitions"], r["owned"]) for r in as_text if "owned" in r] == [
        ([0, 1], [0, 1]),  # assigned
        ([1], [0]),  # lost
        ([0], []),  # revoked
    ]
    assert {r.get("partition") for r in as_text if r["event"] == "commit_failed"} == {None, 1}
    assert [
        (r["ack"], r["partition"], r["offset"], r["delivery_count"])
        for r in as_text
        if r["event"] == "record_acknowledged"
    ] == [("accept", 0, 5, 1), ("reject", 1, 6, 1), ("reject", 2, 7, 1)]


def test_lines_that_are_no_record() -> None:
    for line in (
        "12:00:01 [client 🟣 BRAVO] 💾 Committed offsets p0→10",
        "not a log line at all {",
        "{broken json",
        "[1, 2]",
    ):
        assert record(line) is None, line
    assert record('{"event": "offsets_committed", "offsets": {"0": 10}}') == {
        "event": "offsets_committed",
        "offsets": {"0": 10},
    }


def test_positions_expand_each_partition_s_first_and_last_offset() -> None:
    assert positions({"0": [7, 9], "2": [3, 3]}) == [(0, 7), (0, 8), (0, 9), (2, 3)]
    assert positions({}) == []

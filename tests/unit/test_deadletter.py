"""The dead-letter topic's writer: what a dead letter carries, and when it is safe."""

from __future__ import annotations

import hashlib
import logging

import pytest
from confluent_kafka import KafkaError, KafkaException

from consumer.deadletter import DeadLetterError, DeadLetters
from tests.unit.fakes import FakeProducer, Produced, message

DLQ = "transactions.dlq"


def lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records]


def writer(producer: FakeProducer) -> DeadLetters:
    return DeadLetters(producer.as_producer(), DLQ, "zulu", "group-z", 5.0)


def dlq_headers(letter: Produced) -> dict[str, bytes]:
    return {k: v for k, v in letter.headers.items() if k.startswith("dlq.")}


def test_a_dead_letter_carries_the_original_and_says_why_and_where_from(
    caplog: pytest.LogCaptureFixture,
) -> None:
    producer = FakeProducer()
    letters = writer(producer)
    poison = message(1, 42, b"garbage", key=b"k-1", headers=[("trace", b"abc")])
    letters.send(poison, "undecodable", "not JSON")
    letters.flush()
    [letter] = producer.delivered
    assert (letter.topic, letter.key, letter.value) == (DLQ, b"k-1", b"garbage")
    assert letter.headers["trace"] == b"abc"
    assert dlq_headers(letter) == {
        "dlq.reason": b"undecodable",
        "dlq.error": b"not JSON",
        "dlq.topic": b"transactions",
        "dlq.partition": b"1",
        "dlq.offset": b"42",
        "dlq.client": b"zulu",
        "dlq.group": b"group-z",
    }
    [record] = [r for r in caplog.records if getattr(r, "event", None) == "dead_lettered"]
    assert record.levelname == "WARNING"
    assert (record.partition, record.offset, record.reason, record.error) == (  # type: ignore[attr-defined]
        1,
        42,
        "undecodable",
        "not JSON",
    )
    assert "☠️ Dead-lettered partition 1 offset 42 (undecodable): not JSON" in lines(caplog)


def test_a_dead_letter_goes_to_the_partition_number_of_its_poison() -> None:
    producer = FakeProducer()
    writer(producer).send(message(2, 0, b"x"), "undecodable", "e")
    assert [p.partition for p in producer.produced] == [2]


def test_a_partition_the_dead_letter_topic_lacks_is_left_to_the_partitioner(
    caplog: pytest.LogCaptureFixture,
) -> None:
    producer = FakeProducer()
    producer.partitions = 2
    writer(producer).send(message(2, 0, b"x", key=b"k"), "undecodable", "e")
    [letter] = producer.produced
    assert (letter.topic, letter.partition, letter.key, letter.value) == (DLQ, None, b"k", b"x")
    assert letter.headers["dlq.partition"] == b"2", "where it came from is still said"
    [record] = [
        r for r in caplog.records if getattr(r, "event", None) == "dead_letter_repartitioned"
    ]
    assert record.partition == 2  # type: ignore[attr-defined]
    assert f"⚠️ Dead-letter topic {DLQ} has no partition 2: the partitioner chooses" in lines(caplog)


def test_a_long_error_is_cut_to_1000_characters() -> None:
    producer = FakeProducer()
    writer(producer).send(message(0, 0, b"x"), "undecodable", "e" * 5000)
    assert producer.produced[0].headers["dlq.error"] == b"e" * 1000


def test_a_flush_without_dead_letters_costs_nothing() -> None:
    producer = FakeProducer()
    writer(producer).flush()
    assert producer.flushes == 0


def test_a_flush_waits_for_every_dead_letter_to_be_acknowledged() -> None:
    producer = FakeProducer()
    letters = writer(producer)
    letters.send(message(0, 0, b"a"), "undecodable", "e")
    letters.send(message(0, 1, b"b"), "undecodable", "e")
    letters.flush()
    assert [d.value for d in producer.delivered] == [b"a", b"b"]
    letters.flush()
    assert producer.flush_timeouts == [5.0], "once, for DLQ_TIMEOUT_S; then nothing to wait for"


def test_an_unacknowledged_dead_letter_is_an_error() -> None:
    producer = FakeProducer()
    producer.unacknowledged = 1
    letters = writer(producer)
    letters.send(message(0, 0, b"a"), "undecodable", "e")
    with pytest.raises(DeadLetterError, match=f"cannot write to dead-letter topic {DLQ}: 1 unack"):
        letters.flush()


def test_a_failed_delivery_is_an_error_reported_once() -> None:
    producer = FakeProducer()
    letters = writer(producer)
    producer.delivery_error = lambda _: KafkaError(KafkaError._MSG_TIMED_OUT)
    letters.send(message(0, 0, b"a"), "undecodable", "e")
    letters.send(message(0, 1, b"b"), "undecodable", "e")
    both = "dlq: Local: Message timed out; Local: Message timed out$"
    with pytest.raises(DeadLetterError, match=both):
        letters.flush()
    producer.delivery_error = lambda _: None
    letters.send(message(0, 2, b"c"), "undecodable", "e")
    letters.flush()  # the earlier failures were reported and are not raised again


@pytest.mark.parametrize(
    ("error", "says"),
    [
        (KafkaError(KafkaError._UNKNOWN_TOPIC), "Local: Unknown topic$"),
        (KafkaException("no KafkaError inside"), "no KafkaError inside$"),
        (BufferError("Local: Queue full"), "Local: Queue full$"),
    ],
    ids=["kafka-error", "bare-exception", "queue-full"],
)
def test_any_other_produce_error_is_a_dead_letter_error(error: Exception, says: str) -> None:
    producer = FakeProducer()
    producer.produce_error = error
    with pytest.raises(DeadLetterError, match=f"cannot write to dead-letter topic {DLQ}: {says}"):
        writer(producer).send(message(0, 0, b"a"), "undecodable", "e")
    assert producer.produced == []


def test_a_dead_letter_too_large_to_produce_is_replaced_by_a_bounded_one(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from consumer.deadletter import PREVIEW_BYTES

    producer = FakeProducer(max_bytes=10_000)
    letters = writer(producer)
    value = bytes(range(256)) * 60  # 15,360 bytes
    caplog.set_level(logging.INFO)
    key = b"k" * (PREVIEW_BYTES + 1)
    letters.send(message(1, 7, value, key=key, headers=[("trace", b"abc")]), "too_large", "big")
    letters.flush()
    [letter] = producer.delivered
    assert letter.value == value[:PREVIEW_BYTES]
    assert letter.key == key[:PREVIEW_BYTES]
    assert letter.partition == 1
    assert letter.headers["trace"] == b"abc"
    assert dlq_headers(letter) == {
        "dlq.reason": b"too_large",
        "dlq.error": b"big",
        "dlq.topic": b"transactions",
        "dlq.partition": b"1",
        "dlq.offset": b"7",
        "dlq.client": b"zulu",
        "dlq.group": b"group-z",
        "dlq.original_size": b"15360",
        "dlq.sha256": hashlib.sha256(value).hexdigest().encode(),
        "dlq.truncated": b"true",
    }
    [record] = [r for r in caplog.records if getattr(r, "event", None) == "dead_letter_truncated"]
    assert (record.partition, record.offset, record.size) == (1, 7, 15360)  # type: ignore[attr-defined]
    assert (
        "✂️ Dead letter of partition 1 offset 7 too large to send (15360 bytes): "
        f"sending its first {PREVIEW_BYTES} bytes, size and SHA-256"
    ) in lines(caplog)


def test_a_bounded_dead_letter_keeps_the_poison_headers_up_to_a_budget() -> None:
    from consumer.deadletter import HEADERS_BUDGET

    producer = FakeProducer(max_bytes=HEADERS_BUDGET * 4)
    fits = [("a", b"1" * (HEADERS_BUDGET - 1 - 10)), ("b", b"2" * 9)]  # exactly the budget
    over = [("c", b"3"), ("d", b"4" * HEADERS_BUDGET)]
    value = b"v" * (HEADERS_BUDGET * 4)
    writer(producer).send(message(0, 0, value, headers=fits + over), "too_large", "big")
    writer(producer).flush()
    [letter] = producer.produced
    assert [k for k in letter.headers if not k.startswith("dlq.")] == ["a", "b"]
    assert len(dlq_headers(letter)) == 10, "every dlq.* header, whatever the budget"


def test_a_dead_letter_the_broker_refuses_as_too_large_is_replaced_by_a_bounded_one() -> None:
    from consumer.deadletter import PREVIEW_BYTES

    producer = FakeProducer()
    letters = writer(producer)
    too_large = KafkaError(KafkaError.MSG_SIZE_TOO_LARGE)
    producer.delivery_error = lambda p: too_large if len(p.value or b"") > PREVIEW_BYTES else None
    value = b"y" * (PREVIEW_BYTES * 3)
    letters.send(message(2, 3, value, key=b"k"), "too_large", "big")
    letters.send(message(2, 4, b"small"), "undecodable", "e")
    letters.flush()
    assert [(d.value, d.headers.get("dlq.original_size")) for d in producer.delivered] == [
        (b"small", None),
        (value[:PREVIEW_BYTES], str(len(value)).encode()),
    ]
    bounded = producer.delivered[1]
    assert (bounded.partition, bounded.key) == (2, b"k")
    assert (bounded.headers["dlq.partition"], bounded.headers["dlq.offset"]) == (b"2", b"3")
    assert producer.flush_timeouts == [5.0, 5.0]
    letters.flush()
    assert producer.flushes == 2, "nothing left to wait for"


def test_headers_are_read_in_either_form_confluent_kafka_uses() -> None:
    from consumer.deadletter import header_list, text

    assert header_list({"a": b"1"}) == [("a", b"1")]
    assert header_list([("a", b"1")]) == [("a", b"1")]
    assert header_list(None) == []
    assert [text(b"ok\xff"), text("s"), text(None)] == ["ok\ufffd", "s", "None"]


def test_a_bounded_dead_letter_that_still_fails_is_an_error() -> None:
    producer = FakeProducer()
    letters = writer(producer)
    producer.delivery_error = lambda p: KafkaError(KafkaError.MSG_SIZE_TOO_LARGE)
    letters.send(message(0, 3, b"z" * 5000), "too_large", "big")
    with pytest.raises(DeadLetterError, match="too large"):
        letters.flush()

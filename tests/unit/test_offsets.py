"""What a batch reports as processed: first and last offset per partition."""

from __future__ import annotations

from confluent_kafka import Message

from consumer.loop import decode, offset_ranges
from playground.transaction import TransactionFactory


def message(partition: int, offset: int, value: bytes = b"{}") -> Message:
    return Message(topic="t", partition=partition, offset=offset, value=value)


def test_offset_ranges_per_partition() -> None:
    batch = [message(0, 10), message(2, 4), message(0, 11), message(0, 12), message(2, 5)]
    assert offset_ranges(batch) == {0: [10, 12], 2: [4, 5]}


def test_a_single_message_is_a_range_of_one() -> None:
    assert offset_ranges([message(1, 7)]) == {1: [7, 7]}


def test_decode_sets_aside_what_is_not_a_transaction_and_says_why() -> None:
    good = TransactionFactory(seed=3)().to_json()
    batch = [
        message(0, 1, good),
        message(0, 2, b"garbage"),
        message(0, 3, b'{"transaction_id": "x"}'),
        message(1, 9, good),
        message(1, 10, good + b" " * 100),
    ]
    records, undecodable = decode(batch, max_bytes=len(good) + 10)
    assert [(r.partition, r.offset) for r in records] == [(0, 1), (1, 9)]
    assert [(m.offset(), reason) for m, reason, _ in undecodable] == [
        (2, "undecodable"),
        (3, "undecodable"),
        (10, "too_large"),
    ]
    assert "not JSON" in undecodable[0][2]
    assert "missing fields" in undecodable[1][2]

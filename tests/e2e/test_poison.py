"""Poison messages: each kind goes to the dead-letter topic, and nothing is lost."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from typing import Any

import pytest
from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)

from playground.host import wait_until
from playground.transaction import TransactionFactory
from tests.e2e.stack import Stack

GOOD = asdict(TransactionFactory(seed=11)())
MAX_BYTES = 2048
SIZE_LIMIT = 999_964  # the largest value a default librdkafka client may produce
POISON = {
    "not-json": b"\xff\xfe not json at all",
    "missing-fields": json.dumps({"transaction_id": "t-1", "amount": "1.00"}).encode(),
    "wrong-types": json.dumps(GOOD | {"amount": 12.5}).encode(),
    "too-large": json.dumps(GOOD | {"merchant": "x" * MAX_BYTES}).encode(),
    "invalid-value": json.dumps(GOOD | {"currency": "XXX"}).encode(),
}
REASONS = {
    "not-json": "undecodable",
    "missing-fields": "undecodable",
    "wrong-types": "undecodable",
    "too-large": "too_large",
    "invalid-value": "rejected by validate",
}


def inject(stack: Stack, poison: dict[str, bytes]) -> dict[str, tuple[int, int]]:
    """Produce each poison value; return kind -> (partition, offset), failing on any error."""
    producer = Producer({"bootstrap.servers": f"localhost:{stack.host_port}"})
    where: dict[str, tuple[int, int]] = {}
    errors: list[str] = []
    for kind, value in poison.items():

        def delivered(error: Any, message: Message, kind: str = kind) -> None:
            if error is not None:
                errors.append(f"{kind}: {error}")
            where[kind] = (message.partition() or 0, message.offset() or 0)

        producer.produce(stack.env["TOPIC"], value=value, on_delivery=delivered)
    assert producer.flush(30) == 0
    assert errors == []
    assert len(where) == len(poison)
    return where


def header_map(message: Message) -> dict[str, str]:
    found: dict[str, str] = {}
    for key, value in list(message.headers() or []):
        found[str(key)] = value.decode() if isinstance(value, bytes) else str(value)
    return found


def dead_letters(stack: Stack) -> list[dict[str, Any]]:
    """Every message in the dead-letter topic, read up to its end offsets."""
    topic = f"{stack.env['TOPIC']}.dlq"
    end = stack.end_offsets(topic)
    reader = Consumer(
        {
            "bootstrap.servers": f"localhost:{stack.host_port}",
            "group.id": "e2e-dlq-reader",
            "enable.auto.commit": False,
        }
    )
    reader.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in end])
    found: list[dict[str, Any]] = []
    position = dict.fromkeys(end, 0)

    def read() -> bool:
        for message in reader.consume(100, timeout=1):
            assert message.error() is None, message.error()
            position[message.partition() or 0] = (message.offset() or 0) + 1
            found.append(
                {"value": message.value(), "in": message.partition(), **header_map(message)}
            )
        return all(position[p] >= o for p, o in end.items())

    try:
        wait_until(read, 60, f"every dead letter in {topic}")
    finally:
        reader.close()
    return found


def accounted_for(
    letters: list[dict[str, Any]], where: dict[str, tuple[int, int]], clients: set[str]
) -> dict[tuple[str, str], dict[str, Any]]:
    """(client, kind) -> its dead letter. Fails on a letter that is no injected poison (a good
    transaction dead-lettered) and on a poison without exactly one letter from each client."""
    kind_at = {(str(p), str(o)): kind for kind, (p, o) in where.items()}
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for letter in letters:
        kind = kind_at.get((letter["dlq.partition"], letter["dlq.offset"]))
        assert kind is not None, f"no poison: {letter['dlq.partition']}@{letter['dlq.offset']}"
        assert (letter["dlq.client"], kind) not in found, f"{kind} dead-lettered twice"
        found[(letter["dlq.client"], kind)] = letter
    assert set(found) == {(c, k) for c in clients for k in where}
    return found


def test_each_kind_of_poison_is_dead_lettered_and_the_rest_flows(stack: Stack) -> None:
    stack.up("fanout", PRODUCER_INTERVAL_S="0.1", MAX_MESSAGE_BYTES=str(MAX_BYTES))
    wait_until(lambda: len(stack.processed("consumer-zulu")) >= 5, 60, "zulu to process 5")
    where = inject(stack, POISON)

    # Both groups committed past the poison and went on with the transactions after it.
    for service, group in (
        ("consumer-bravo", "BRAVO_GROUP_ID"),
        ("consumer-zulu", "ZULU_GROUP_ID"),
    ):
        went_on_past(stack, service, stack.env[group], where)

    letters = accounted_for(dead_letters(stack), where, {"bravo", "zulu"})
    for (_, kind), letter in letters.items():
        assert letter["value"] == POISON[kind], "the original bytes"
        assert letter["dlq.reason"] == REASONS[kind]
        assert letter["in"] == int(letter["dlq.partition"]), "in its poison's partition"
        assert letter["dlq.topic"] == stack.env["TOPIC"]
        assert letter["dlq.error"]


def test_a_raising_step_and_a_value_at_the_size_limit_are_dead_lettered_and_the_rest_flows(
    stack: Stack,
) -> None:
    """A step raising for one record, and a value too large to dead-letter whole: each costs
    a dead letter, never the consumer."""
    stack.up("fanout", PRODUCER_INTERVAL_S="0.1", PIPELINE="enrich,score")
    wait_until(lambda: len(stack.processed("consumer-zulu")) >= 5, 60, "zulu to process 5")
    # The largest value a client may produce: librdkafka's message.max.bytes (1,000,000,
    # below the broker's 1,048,588) less 36 bytes of record overhead; one byte more is
    # refused. With the dlq.* headers added it is too large to dead-letter whole.
    huge = (bytes(range(256)) * 3907)[:SIZE_LIMIT]
    with pytest.raises(KafkaException, match="MSG_SIZE_TOO_LARGE"):
        Producer({"bootstrap.servers": "localhost:1"}).produce("any", value=huge + b"x")
    poison = {"lots": json.dumps(GOOD | {"amount": "lots"}).encode(), "huge": huge}
    where = inject(stack, poison)

    for service, group in (
        ("consumer-bravo", "BRAVO_GROUP_ID"),
        ("consumer-zulu", "ZULU_GROUP_ID"),
    ):
        went_on_past(stack, service, stack.env[group], where)
        container = stack.container(service)
        assert container.status == "running"

    letters = accounted_for(dead_letters(stack), where, {"bravo", "zulu"})
    for client in ("bravo", "zulu"):
        lots = letters[(client, "lots")]
        assert (lots["value"], lots["dlq.reason"]) == (poison["lots"], "failed in enrich")
        assert lots["dlq.error"].startswith("InvalidOperation")
        big = letters[(client, "huge")]
        assert big["dlq.reason"] == "too_large"
        assert big["value"] == huge[:1024]
        assert big["dlq.original_size"] == str(SIZE_LIMIT)
        assert big["dlq.sha256"] == hashlib.sha256(huge).hexdigest()
        assert big["dlq.truncated"] == "true"


def went_on_past(stack: Stack, service: str, group: str, where: dict[str, tuple[int, int]]) -> None:
    def committed_past() -> bool:
        committed = stack.committed(group)
        return all(committed.get(p, 0) > o for p, o in where.values())

    wait_until(committed_past, 60, f"{group} to commit past the poison")
    last = max(o for _, o in where.values())
    wait_until(
        lambda: any(o > last for _, o in stack.processed(service)),
        60,
        f"{service} to go on after the poison",
    )


def test_an_unwritable_dead_letter_topic_stops_the_consumer_without_committing(
    stack: Stack,
) -> None:
    group = stack.env["BRAVO_GROUP_ID"]
    stack.compose(
        "--profile",
        "fanout",
        "up",
        "-d",
        "--no-build",
        "consumer-bravo",
        env={"DLQ_TIMEOUT_S": "5"},
    )
    wait_until(lambda: stack.owned("consumer-bravo") == [0, 1, 2], 60, "bravo to own everything")
    dlq = f"{stack.env['TOPIC']}.dlq"
    stack.admin.delete_topics([dlq])[dlq].result(timeout=30)
    wait_until(lambda: dlq not in stack.admin.list_topics(timeout=10).topics, 30, "the DLQ gone")

    [(partition, offset)] = inject(stack, {"not-json": POISON["not-json"]}).values()
    container = stack.container("consumer-bravo")
    wait_until(lambda: container.reload() or container.status == "exited", 60, "bravo to stop")
    assert container.attrs["State"]["ExitCode"] == 1
    assert stack.events("consumer-bravo", "dead_letter_failed")
    assert stack.committed(group).get(partition, 0) <= offset, "the poison was not committed"

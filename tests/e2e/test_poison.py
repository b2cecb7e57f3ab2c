"""Poison messages: each kind goes to the dead-letter topic, and nothing is lost."""

from __future__ import annotations

import json
from dataclasses import asdict

from confluent_kafka import OFFSET_BEGINNING, Consumer, Message, Producer, TopicPartition

from playground.host import wait_until
from playground.transaction import TransactionFactory
from tests.e2e.stack import Stack

GOOD = asdict(TransactionFactory(seed=11)())
MAX_BYTES = 2048
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


def inject(stack: Stack) -> dict[str, tuple[int, int]]:
    """Produce one message of each poison kind; return kind -> (partition, offset)."""
    producer = Producer({"bootstrap.servers": f"localhost:{stack.host_port}"})
    where: dict[str, tuple[int, int]] = {}
    for kind, value in POISON.items():

        def delivered(error: object, message: Message, kind: str = kind) -> None:
            where[kind] = (message.partition() or 0, message.offset() or 0)

        producer.produce(
            stack.env["TOPIC"],
            key=kind.encode(),
            value=value,
            headers=[("test-kind", kind)],
            on_delivery=delivered,
        )
    assert producer.flush(30) == 0
    assert len(where) == len(POISON)
    return where


def header_map(message: Message) -> dict[str, str]:
    found: dict[str, str] = {}
    for key, value in list(message.headers() or []):
        found[str(key)] = value.decode() if isinstance(value, bytes) else str(value)
    return found


def dead_letters(stack: Stack, expected: int) -> list[dict[str, object]]:
    topic = f"{stack.env['TOPIC']}.dlq"
    reader = Consumer(
        {
            "bootstrap.servers": f"localhost:{stack.host_port}",
            "group.id": "e2e-dlq-reader",
            "enable.auto.commit": False,
        }
    )
    reader.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(3)])
    found: list[dict[str, object]] = []

    def read() -> bool:
        for message in reader.consume(100, timeout=1):
            if message.error() is None:
                found.append({"value": message.value(), **header_map(message)})
        return len(found) >= expected

    try:
        wait_until(read, 60, f"{expected} dead letters in {topic}")
    finally:
        reader.close()
    return found


def test_each_kind_of_poison_is_dead_lettered_and_the_rest_flows(stack: Stack) -> None:
    stack.up("fanout", PRODUCER_INTERVAL_S="0.1", MAX_MESSAGE_BYTES=str(MAX_BYTES))
    wait_until(lambda: len(stack.processed("consumer-zulu")) >= 5, 60, "zulu to process 5")
    where = inject(stack)

    letters = dead_letters(stack, expected=2 * len(POISON))  # one per fan-out group
    for kind, (partition, offset) in where.items():
        mine = [d for d in letters if d.get("test-kind") == kind]
        assert {d["dlq.client"] for d in mine} == {"bravo", "zulu"}, kind
        for letter in mine:
            assert letter["value"] == POISON[kind], "the original bytes"
            assert letter["dlq.reason"] == REASONS[kind]
            assert (letter["dlq.partition"], letter["dlq.offset"]) == (str(partition), str(offset))
            assert letter["dlq.topic"] == stack.env["TOPIC"]
            assert letter["dlq.error"]

    # Both groups committed past the poison and went on with the transactions after it.
    for service, group in (
        ("consumer-bravo", "BRAVO_GROUP_ID"),
        ("consumer-zulu", "ZULU_GROUP_ID"),
    ):
        went_on_past(stack, service, stack.env[group], where)


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

    [(partition, offset)] = inject_one(stack, POISON["not-json"])
    container = stack.container("consumer-bravo")
    wait_until(lambda: container.reload() or container.status == "exited", 60, "bravo to stop")
    assert container.attrs["State"]["ExitCode"] == 1
    assert stack.events("consumer-bravo", "dead_letter_failed")
    assert stack.committed(group).get(partition, 0) <= offset, "the poison was not committed"


def inject_one(stack: Stack, value: bytes) -> list[tuple[int, int]]:
    producer = Producer({"bootstrap.servers": f"localhost:{stack.host_port}"})
    where: list[tuple[int, int]] = []
    producer.produce(
        stack.env["TOPIC"],
        value=value,
        on_delivery=lambda err, msg: where.append((msg.partition() or 0, msg.offset() or 0)),
    )
    assert producer.flush(30) == 0
    return where

"""The exactly-once loop's rules (transactional.py's docstring), against scripted fakes; and the
output topic at-least-once (loop.py)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from confluent_kafka import OFFSET_BEGINNING, KafkaError, Producer

from consumer import transactional
from consumer.checkpoint import UNCONFIRMED_MAX
from consumer.deadletter import DeadLetters
from consumer.loop import ConsumerLoop
from consumer.output import Output, OutputError
from consumer.settings import ConsumerSettings
from consumer.transactional import TransactionalLoop, TransactionFatal
from playground.settings import KafkaSettings, LogSettings
from playground.shutdown import StopFlag
from tests.unit.fakes import TOPIC, FakeConsumer, FakeProducer, Produced

DLQ = f"{TOPIC}.dlq"
OUT = f"{TOPIC}.processed"


def settings(**changes: Any) -> ConsumerSettings:
    base: dict[str, Any] = {
        "kafka": KafkaSettings("kafka:9092", TOPIC, DLQ, {}),
        "log": LogSettings("text", "INFO"),
        "client": "bravo",
        "group_id": "g",
        "batch_size": 3,
        "batch_max_wait_s": 3600,
        "pipeline": ("validate",),
        "processing_guarantee": "exactly-once",
    }
    return ConsumerSettings(**(base | changes))


class Harness:
    """One transactional producer for outputs and dead letters, as the consumer runs it."""

    def __init__(self, batch_size: int) -> None:
        self.stop = StopFlag()
        self.consumer = FakeConsumer(self.stop)
        self.producers: list[FakeProducer] = []
        self.loop = TransactionalLoop(
            settings(batch_size=batch_size),
            self.consumer.as_consumer(),
            self.new_producer,
            self.stop,
        )

    def new_producer(self) -> Producer:
        producer = FakeProducer()
        producer.consumer = self.consumer
        self.producers.append(producer)
        return producer.as_producer()

    @property
    def producer(self) -> FakeProducer:
        """The first producer (the only one unless a call hung)."""
        return self.producers[0]

    def run(self) -> None:
        self.loop.run()

    def outputs(self) -> list[tuple[int, int]]:
        """(partition, offset) of the input of each output a read_committed reader sees."""
        return [source(p) for f in self.producers for p in f.visible if p.topic == OUT]


def source(p: Produced) -> tuple[int, int]:
    partition, offset = p.headers["source"].decode().split(":")
    return int(partition), int(offset)


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    slept: list[float] = []
    monkeypatch.setattr(time, "sleep", slept.append)
    return slept


def events(caplog: pytest.LogCaptureFixture, name: str) -> list[dict[str, Any]]:
    return [
        r.__dict__ | {"message": r.getMessage()}
        for r in caplog.records
        if getattr(r, "event", None) == name
    ]


ABORTABLE = KafkaError(KafkaError._TIMED_OUT, "write failed", txn_requires_abort=True)
FENCED = KafkaError(KafkaError.ILLEGAL_GENERATION, "stale generation", txn_requires_abort=True)
RETRIABLE = KafkaError(KafkaError.COORDINATOR_NOT_AVAILABLE, "coordinator away", retriable=True)
FATAL = KafkaError(KafkaError._FENCED, "fenced by a newer instance", fatal=True)


# --- one transaction per batch ---


def test_a_batch_commits_its_outputs_and_offsets_in_one_transaction(
    caplog: pytest.LogCaptureFixture,
) -> None:
    h = Harness(batch_size=3)
    h.consumer.produce(0, 10, 11, 12)
    h.consumer.then(lambda: h.consumer.assign(0)).idle(2)
    caplog.set_level(logging.INFO)
    h.run()
    assert h.producer.calls == [
        "init_transactions",
        "begin_transaction",
        "send_offsets_to_transaction",
        "commit_transaction",
    ]
    assert h.outputs() == [(0, 10), (0, 11), (0, 12)]
    assert {p.partition for p in h.producer.visible} == {0}, "each on its input's partition"
    assert {p.headers["group"] for p in h.producer.visible} == {b"g"}
    assert h.consumer.committed_offsets == {0: 13}
    assert h.consumer.commits == [], "offsets go through the transaction, never commit()"
    [committed] = events(caplog, "transaction_committed")
    assert committed["message"] == "💾 Committed transaction with offsets p0→13"


def test_dead_letters_are_in_the_batch_transaction() -> None:
    h = Harness(batch_size=2)
    h.consumer.produce(0, 0)
    h.consumer.produce(0, 1, value=b"not json")
    h.consumer.then(lambda: h.consumer.assign(0)).idle(2)
    h.run()
    assert [p.topic for p in h.producer.visible] == [DLQ, OUT]
    assert h.outputs() == [(0, 0)]
    assert h.producer.calls.count("commit_transaction") == 1


# --- stable transactional.id, read_committed input ---


def test_the_transactional_id_is_stable_per_instance_and_distinct_between_instances() -> None:
    first = transactional.producer_config(settings())["transactional.id"]
    assert transactional.producer_config(settings())["transactional.id"] == first == "g-bravo"
    ids = {
        transactional.producer_config(settings(client=c, group_id=g))["transactional.id"]
        for c in ("bravo", "zulu", "zulu-2")  # zulu-2: replica 2 of a scaled service
        for g in ("g", "shared")
    }
    assert len(ids) == 6


def test_exactly_once_reads_its_input_read_committed() -> None:
    assert transactional.ISOLATION_LEVEL == "read_committed"
    from playground.kafka import consumer_config

    config = consumer_config(settings().kafka, "bravo", "g", isolation_level="read_committed")
    assert config["isolation.level"] == "read_committed"


# --- rebalances ---


def test_revoked_the_batch_in_hand_is_committed_in_a_transaction_first(
    caplog: pytest.LogCaptureFixture,
) -> None:
    h = Harness(batch_size=10)
    h.consumer.produce(0, 0, 1)
    order: list[str] = []
    h.consumer.then(lambda: h.consumer.assign(0)).idle().then(lambda: h.consumer.revoke(0))
    caplog.set_level(logging.INFO)
    h.run()
    order = [
        str(r.event)  # type: ignore[attr-defined]
        for r in caplog.records
        if getattr(r, "event", "") in {"transaction_committed", "partitions_revoked"}
    ]
    assert order == ["transaction_committed", "partitions_revoked"]
    assert h.outputs() == [(0, 0), (0, 1)]
    assert h.consumer.committed_offsets == {0: 2}


def test_lost_drops_the_batch_in_hand_and_begins_no_transaction_for_it() -> None:
    h = Harness(batch_size=10)
    h.consumer.produce(0, 0, 1)
    h.consumer.then(lambda: h.consumer.assign(0)).idle().then(lambda: h.consumer.lose(0))
    h.run()
    assert "begin_transaction" not in h.producer.calls
    assert h.outputs() == []
    assert h.consumer.committed_offsets == {}


def test_fenced_aborts_rewinds_to_the_committed_offsets_and_goes_on(
    caplog: pytest.LogCaptureFixture, no_sleep: list[float]
) -> None:
    h = Harness(batch_size=2)
    h.consumer.produce(0, 0, 1, 2, 3)
    h.consumer.committed_offsets = {0: 0}
    h.producer.fail("send_offsets_to_transaction", None, FENCED)  # the second batch's
    h.consumer.then(lambda: h.consumer.assign(0)).idle(4)
    caplog.set_level(logging.INFO)
    h.run()
    assert h.producer.calls.count("abort_transaction") == 1
    assert h.consumer.seeks == [(0, 2)], "back to what the first transaction committed"
    assert h.outputs() == [(0, 0), (0, 1), (0, 2), (0, 3)], "each exactly once"
    assert h.consumer.committed_offsets == {0: 4}
    [aborted] = events(caplog, "transaction_aborted")
    assert aborted["fenced"] is True
    assert no_sleep == [], "fenced: the rebalance is served by the next consume(), no wait"


def test_rewinding_a_partition_with_nothing_committed_goes_to_its_beginning() -> None:
    h = Harness(batch_size=2)
    h.consumer.produce(0, 0, 1)
    h.producer.fail("commit_transaction", FENCED)
    h.consumer.then(lambda: h.consumer.assign(0)).idle(3)
    h.run()
    assert h.consumer.seeks == [(0, OFFSET_BEGINNING)]
    assert h.outputs() == [(0, 0), (0, 1)]


# --- errors ---


def test_an_abortable_error_aborts_and_retries_the_batch_after_a_pause(
    no_sleep: list[float],
) -> None:
    h = Harness(batch_size=2)
    h.consumer.produce(0, 0, 1)
    h.producer.fail("commit_transaction", ABORTABLE)
    h.consumer.then(lambda: h.consumer.assign(0)).idle(3)
    h.run()
    assert h.producer.calls[1:] == [
        "begin_transaction",
        "send_offsets_to_transaction",
        "commit_transaction",
        "abort_transaction",
        "begin_transaction",
        "send_offsets_to_transaction",
        "commit_transaction",
    ]
    assert h.outputs() == [(0, 0), (0, 1)], "the aborted outputs are never visible"
    assert h.consumer.committed_offsets == {0: 2}
    assert no_sleep == [transactional.RETRY_S]


def test_a_retriable_error_retries_the_same_call() -> None:
    h = Harness(batch_size=2)
    h.consumer.produce(0, 0, 1)
    h.producer.fail("commit_transaction", RETRIABLE, RETRIABLE)
    h.consumer.then(lambda: h.consumer.assign(0)).idle(2)
    h.run()
    assert h.producer.calls.count("commit_transaction") == 3
    assert "abort_transaction" not in h.producer.calls
    assert h.outputs() == [(0, 0), (0, 1)]


def test_a_fatal_error_stops_at_once_committing_nothing() -> None:
    h = Harness(batch_size=2)
    h.consumer.produce(0, 0, 1, 2, 3)
    h.producer.fail("commit_transaction", FATAL)
    h.consumer.then(lambda: h.consumer.assign(0)).idle(4)
    with pytest.raises(TransactionFatal, match="commit_transaction"):
        h.run()
    assert h.outputs() == []
    assert h.consumer.committed_offsets == {}
    assert h.producer.calls.count("begin_transaction") == 1, "no second batch"
    assert h.consumer.closed


def test_a_fenced_producer_at_start_stops_before_reading_anything() -> None:
    h = Harness(batch_size=2)
    h.consumer.produce(0, 0, 1)
    h.producer.fail("init_transactions", FATAL)
    h.consumer.then(lambda: h.consumer.assign(0))
    with pytest.raises(TransactionFatal):
        h.run()
    assert h.consumer.consumed == []


def test_a_call_that_hangs_gets_a_new_producer_that_fences_the_stuck_one(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """librdkafka#5456: send_offsets_to_transaction() can block whatever its timeout."""
    monkeypatch.setattr(transactional, "CALL_TIMEOUT_S", 0.01)
    monkeypatch.setattr(transactional, "HUNG_S", 0.01)
    released = threading.Event()
    h = Harness(batch_size=2)
    h.consumer.produce(0, 0, 1)
    h.consumer.committed_offsets = {0: 0}
    h.consumer.then(lambda: h.consumer.assign(0)).idle(3)
    stuck = h.producer
    stuck.send_offsets_to_transaction = lambda *a, **k: released.wait(5)  # type: ignore[method-assign, assignment]
    caplog.set_level(logging.INFO)
    try:
        h.run()
    finally:
        released.set()
    assert len(h.producers) == 2
    assert h.producers[1].calls[0] == "init_transactions", "the new one fences the stuck one"
    assert "abort_transaction" not in stuck.calls, "the stuck one is left alone"
    assert h.consumer.seeks == [(0, 0)]
    assert h.outputs() == [(0, 0), (0, 1)], "the batch read again, committed by the new one"
    assert h.consumer.committed_offsets == {0: 2}
    [hung] = events(caplog, "transaction_hung")
    assert hung["call"] == "send_offsets_to_transaction"


# --- stop ---


def test_a_stop_commits_the_batch_in_hand_in_a_transaction_then_closes() -> None:
    h = Harness(batch_size=10)
    h.consumer.produce(0, 0, 1, 2)
    h.consumer.then(lambda: h.consumer.assign(0)).idle(2)
    h.run()
    assert h.outputs() == [(0, 0), (0, 1), (0, 2)]
    assert h.consumer.committed_at_close == {0: 3}
    assert h.consumer.closed


# --- at-least-once: the output topic, flushed before the commit ---


def at_least_once(
    batch_size: int = 2,
) -> tuple[ConsumerLoop, FakeConsumer, FakeProducer, Callable[[], list[int]]]:
    stop = StopFlag()
    consumer = FakeConsumer(stop)
    out = FakeProducer()
    committed_when_flushed: list[int] = []
    flush = out.flush

    def spy(timeout: float = -1) -> int:
        committed_when_flushed.append(len(consumer.commits))
        return flush(timeout)

    out.flush = spy  # type: ignore[method-assign]
    loop = ConsumerLoop(
        settings(batch_size=batch_size, processing_guarantee="at-least-once"),
        consumer.as_consumer(),
        DeadLetters(FakeProducer().as_producer(), DLQ, "bravo", "g", 5.0),
        stop,
        output=Output(out.as_producer(), OUT, "g", 5.0),
    )
    loop.unconfirmed_max = 1  # every commit synchronous: tests/unit/test_loop.py has the others
    consumer.on_commit = loop.checkpoint.on_commit
    return loop, consumer, out, lambda: committed_when_flushed


def test_at_least_once_outputs_are_acknowledged_before_the_batch_is_committed() -> None:
    loop, consumer, out, flushed_at = at_least_once()
    consumer.produce(1, 4, 5)
    consumer.then(lambda: consumer.assign(1)).idle(2)
    loop.run()
    assert [source(p) for p in out.delivered] == [(1, 4), (1, 5)]
    assert {(p.partition, p.headers["group"]) for p in out.delivered} == {(1, b"g")}
    assert flushed_at() == [0], "flushed before the first commit"
    assert consumer.commits == [{1: 6}]


def test_at_least_once_an_unacknowledged_output_stops_without_committing() -> None:
    loop, consumer, out, _ = at_least_once()
    consumer.produce(0, 0, 1)
    out.delivery_error = lambda p: KafkaError(KafkaError.MSG_SIZE_TOO_LARGE)
    consumer.then(lambda: consumer.assign(0)).idle(2)
    with pytest.raises(OutputError, match=r"transactions\.processed"):
        loop.run()
    assert consumer.commits == []


def test_at_least_once_a_broker_away_is_waited_for_then_the_batch_committed() -> None:
    loop, consumer, out, flushed_at = at_least_once()
    consumer.produce(0, 0, 1)
    out.unacknowledged = 2  # the broker away for the first flush()
    flush = out.flush

    def back(timeout: float = -1) -> int:
        left = flush(timeout)
        out.unacknowledged = 0
        return left

    out.flush = back  # type: ignore[method-assign]
    consumer.then(lambda: consumer.assign(0)).idle(2)
    loop.run()
    assert len(flushed_at()) == 2, "flushed again until acknowledged"
    assert consumer.commits == [{0: 2}]


def test_at_least_once_a_stop_with_outputs_unacknowledged_commits_nothing_of_that_batch(
    caplog: pytest.LogCaptureFixture,
) -> None:
    loop, consumer, out, _ = at_least_once(batch_size=10)
    consumer.produce(0, 0, 1)
    out.unacknowledged = 2  # the broker away: never acknowledged
    consumer.then(lambda: consumer.assign(0)).idle(2)
    caplog.set_level(logging.INFO)
    loop.run()  # the stop's batch in hand: flushed once, then given up
    assert consumer.commits == []
    [left] = events(caplog, "offsets_not_committed")
    assert left["offsets"] == {0: 2}
    assert left["message"] == (
        "⚠️ Outputs not acknowledged: offsets p0→2 not committed; the next owner processes "
        "them again"
    )
    assert consumer.closed


def test_at_least_once_an_asynchronous_commit_waits_for_the_outputs_of_its_batches() -> None:
    loop, consumer, out, _ = at_least_once(batch_size=1)
    loop.unconfirmed_max = UNCONFIRMED_MAX
    delivered_at_commit: list[int] = []
    commit = consumer.commit

    def spy(offsets: list[Any], asynchronous: bool = True) -> Any:
        delivered_at_commit.append(len(out.delivered))
        return commit(offsets, asynchronous)

    consumer.commit = spy  # type: ignore[method-assign]
    consumer.produce(0, 0, 1)
    out.unacknowledged = 2  # no delivery report yet
    consumer.then(lambda: consumer.assign(0)).idle(1)
    consumer.then(lambda: setattr(out, "unacknowledged", 0)).idle(2)
    loop.run()
    assert consumer.commits == [{0: 2}], "nothing committed before both outputs were"
    assert consumer.async_commits == [{0: 2}]
    assert delivered_at_commit == [2]


def test_at_least_once_a_lost_partition_waiting_for_its_outputs_is_never_committed() -> None:
    loop, consumer, out, _ = at_least_once(batch_size=1)
    loop.unconfirmed_max = UNCONFIRMED_MAX
    consumer.produce(0, 0)
    consumer.produce(1, 0)
    out.unacknowledged = 2
    consumer.then(lambda: consumer.assign(0, 1)).idle(1).then(lambda: consumer.lose(1))
    consumer.then(lambda: setattr(out, "unacknowledged", 0)).idle(2)
    loop.run()
    assert consumer.commits == [{0: 1}]


def test_at_least_once_a_stop_leaves_every_batch_whose_outputs_are_unacknowledged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    loop, consumer, out, _ = at_least_once(batch_size=1)
    loop.unconfirmed_max = UNCONFIRMED_MAX
    consumer.produce(0, 0)
    consumer.produce(1, 0)
    out.unacknowledged = 2  # the broker away: never acknowledged
    consumer.then(lambda: consumer.assign(0, 1)).idle(1)
    loop.run()
    assert consumer.commits == []
    [left] = events(caplog, "offsets_not_committed")
    assert left["offsets"] == {0: 1, 1: 1}

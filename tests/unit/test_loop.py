"""The consumer loop's rules (loop.py's docstring, docs/consumer.md), against scripted fakes."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, replace
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException

from consumer.checkpoint import UNCONFIRMED_MAX
from consumer.deadletter import DeadLetterError, DeadLetters
from consumer.loop import ConsumerLoop
from consumer.settings import ConsumerSettings
from playground.settings import KafkaSettings, LogSettings
from playground.shutdown import StopFlag
from playground.transaction import Transaction, TransactionFactory
from tests.unit.fakes import GOOD, IN_FLIGHT, TOPIC, FakeConsumer, FakeProducer, message

DLQ = f"{TOPIC}.dlq"
RETRIABLE = KafkaError(KafkaError._TRANSPORT, "broker away", retriable=True)


class Harness:
    """A loop on the fakes. By default every commit is synchronous (`unconfirmed_max` 1), the
    rules' base case; asynchronous commits are tested with the loop's own bound."""

    def __init__(
        self,
        batch_size: int,
        pipeline: tuple[str, ...],
        unconfirmed_max: int = 1,
        **settings: Any,
    ) -> None:
        self.stop = StopFlag()
        self.consumer = FakeConsumer(self.stop)
        self.producer = FakeProducer()
        self.settings = ConsumerSettings(
            kafka=KafkaSettings("kafka:9092", TOPIC, DLQ, {}),
            log=LogSettings("text", "INFO"),
            client="bravo",
            group_id="g",
            batch_size=batch_size,
            batch_max_wait_s=3600,  # only the size trigger, or a stop, hands a batch on
            pipeline=pipeline,
            **settings,
        )
        self.dead_letters = DeadLetters(self.producer.as_producer(), DLQ, "bravo", "g", 5.0)
        self.loop = ConsumerLoop(
            self.settings, self.consumer.as_consumer(), self.dead_letters, self.stop
        )
        self.loop.unconfirmed_max = unconfirmed_max
        self.consumer.on_commit = self.loop.checkpoint.on_commit

    def run(self) -> None:
        self.loop.run()

    def letters(self) -> list[tuple[int, int, str]]:
        """(partition, offset, dlq.reason) of every acknowledged dead letter."""
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
    def build(
        batch_size: int = 3,
        pipeline: tuple[str, ...] = ("validate",),
        unconfirmed_max: int = 1,
        **settings: Any,
    ) -> Harness:
        return Harness(batch_size, pipeline, unconfirmed_max, **settings)

    return build


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The loop's waits between commit retries, recorded instead of slept."""
    slept: list[float] = []
    monkeypatch.setattr(time, "sleep", slept.append)
    return slept


def lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records]


def events(caplog: pytest.LogCaptureFixture, name: str) -> list[dict[str, Any]]:
    return [
        r.__dict__ | {"message": r.getMessage()}
        for r in caplog.records
        if getattr(r, "event", None) == name
    ]


# --- batches ---


def test_a_batch_is_committed_as_the_offset_after_its_last_message(
    make: Callable[..., Harness], caplog: pytest.LogCaptureFixture
) -> None:
    h = make(batch_size=3)
    h.consumer.produce(0, 10, 11, 12)
    h.consumer.produce(1, 5, 6, 7)
    h.consumer.then(lambda: h.consumer.assign(0, 1)).idle(6)
    caplog.set_level(logging.INFO)
    h.run()
    assert h.consumer.committed_offsets == {0: 13, 1: 8}
    assert h.consumer.commits == [{0: 13}, {1: 8}], "one commit per batch, nothing twice"
    [first, second] = events(caplog, "batch_processed")
    assert (first["count"], first["offsets"], first["dead_lettered"]) == (3, {0: [10, 12]}, 0)
    assert second["offsets"] == {1: [5, 7]}
    assert "Received batch of 3 transactions (p0@10-12)" in lines(caplog)


def test_an_empty_batch_asks_for_one_message_then_for_the_room_left(
    make: Callable[..., Harness],
) -> None:
    h = make(batch_size=3)
    asked: list[tuple[int, float]] = []
    consume = h.consumer.consume

    def spy(num_messages: int = 1, timeout: float = -1) -> list[Any]:
        asked.append((num_messages, timeout))
        return consume(num_messages, timeout)

    h.consumer.consume = spy  # type: ignore[method-assign]
    h.consumer.produce(0, 0, 1, 2)
    h.consumer.then(lambda: h.consumer.assign(0)).idle(2)
    h.run()
    assert asked[:3] == [(1, 1.0), (2, 1.0), (1, 1.0)]


def test_messages_of_a_partition_no_longer_owned_are_not_taken(
    make: Callable[..., Harness],
) -> None:
    h = make(batch_size=1)

    def revoke_with_one_in_flight() -> None:
        h.consumer.revoke(1)
        h.consumer.late.append(message(1, 7))  # fetched before the revoke, handed out after

    h.consumer.produce(0, 0)
    h.consumer.then(lambda: h.consumer.assign(0, 1)).then(revoke_with_one_in_flight).idle()
    h.run()
    assert h.consumer.committed_offsets == {0: 1}, "p1@7 belongs to its next owner"


def test_a_single_message_batch_is_logged_in_the_singular(
    make: Callable[..., Harness], caplog: pytest.LogCaptureFixture
) -> None:
    h = make(batch_size=1)
    h.consumer.produce(2, 4)
    h.consumer.then(lambda: h.consumer.assign(2)).idle()
    caplog.set_level(logging.INFO)
    h.run()
    assert "Received batch of 1 transaction (p2@4)" in lines(caplog)


def test_a_fatal_consumer_error_stops_the_loop_and_a_transient_one_is_logged(
    make: Callable[..., Harness], caplog: pytest.LogCaptureFixture
) -> None:
    h = make(batch_size=1)
    h.consumer.produce(0, 0)
    transient = KafkaError(KafkaError._TRANSPORT, "connection refused")
    fatal = KafkaError(KafkaError._FATAL, "fenced", fatal=True)
    h.consumer.then(lambda: h.consumer.assign(0))
    h.consumer.then(lambda: h.consumer.late.append(message(0, -1, error=transient)))
    h.consumer.then(lambda: h.consumer.late.append(message(0, -1, error=fatal)))
    with pytest.raises(KafkaException, match="fenced"):
        h.run()
    [warning] = events(caplog, "consumer_error")
    assert warning["error"] == str(transient)
    assert warning["message"] == f"⚠️ {transient}"
    assert h.consumer.committed_offsets == {0: 1}
    assert h.consumer.closed


# --- dead letters ---


def test_poison_is_dead_lettered_and_the_batch_committed_past_it(
    make: Callable[..., Harness], caplog: pytest.LogCaptureFixture
) -> None:
    h = make(batch_size=3, max_message_bytes=len(GOOD) + 100)
    bad_currency = json.dumps(asdict(TransactionFactory(seed=2)()) | {"currency": "XXX"})
    h.consumer.put(
        message(0, 0, b"garbage", key=b"k", headers=[("trace", b"1")]),
        message(0, 1, GOOD + b" " * 101),
        message(0, 2, bad_currency.encode()),
    )
    h.consumer.then(lambda: h.consumer.assign(0)).idle(3)
    caplog.set_level(logging.INFO)
    h.run()
    assert h.letters() == [
        (0, 0, "undecodable"),
        (0, 1, "too_large"),
        (0, 2, "rejected by validate"),
    ]
    first = h.producer.delivered[0]
    assert (first.topic, first.key, first.value) == (DLQ, b"k", b"garbage")
    assert first.headers["trace"] == b"1", "the original headers travel with it"
    assert h.consumer.committed_offsets == {0: 3}
    [batch] = events(caplog, "batch_processed")
    assert batch["dead_lettered"] == 3


def test_nothing_is_committed_while_a_dead_letter_is_not_acknowledged(
    make: Callable[..., Harness],
) -> None:
    h = make(batch_size=2)
    h.producer.delivery_error = lambda _: KafkaError(KafkaError._MSG_TIMED_OUT)
    h.consumer.put(message(0, 0, GOOD), message(0, 1, b"garbage"))
    h.consumer.then(lambda: h.consumer.assign(0)).idle(3)
    with pytest.raises(DeadLetterError, match="Local: Message timed out"):
        h.run()
    assert h.consumer.commits == [], "the batch, good message included, is not committed"
    assert h.consumer.closed


# --- commits that fail ---


def test_a_failed_commit_pauses_fetching_until_a_retry_succeeds(
    make: Callable[..., Harness], caplog: pytest.LogCaptureFixture
) -> None:
    h = make(batch_size=2)
    h.consumer.produce(0, 0, 1, 2, 3, 4, 5)
    h.consumer.commit_answers.extend([RETRIABLE, RETRIABLE, {0: RETRIABLE}])
    h.consumer.then(lambda: h.consumer.assign(0)).idle(12)
    caplog.set_level(logging.INFO)
    h.run()
    assert h.consumer.commits == [{0: 2}] * 4 + [{0: 4}, {0: 6}]
    assert h.consumer.most_uncommitted == 2, "at most one batch processed and not committed"
    assert h.consumer.committed_offsets == {0: 6}
    assert h.consumer.paused == set(), "resumed once a commit went through"
    assert len(events(caplog, "fetch_paused")) == 1
    assert len(events(caplog, "fetch_resumed")) == 1
    assert "⏸️ Fetching paused until the commit succeeds" in lines(caplog)
    assert "▶️ Fetching resumed" in lines(caplog)
    assert len(events(caplog, "commit_failed")) == 3


def test_partitions_assigned_during_a_stall_do_not_fetch_either(
    make: Callable[..., Harness],
) -> None:
    """Finding 4: a partition assigned while a commit fails must be paused like the rest."""
    h = make(batch_size=1)
    h.consumer.produce(0, 0, 1)
    h.consumer.produce(1, 0, 1)
    h.consumer.commit_answers.extend([RETRIABLE] * 3)
    h.consumer.then(lambda: h.consumer.assign(0)).idle(1)
    h.consumer.then(lambda: h.consumer.assign(1)).idle(8)
    h.run()
    assert h.consumer.most_uncommitted == 1, "a second batch was processed during the stall"
    assert h.consumer.committed_offsets == {0: 2, 1: 2}


def test_a_partition_lost_while_paused_is_resumed_when_the_stall_ends(
    make: Callable[..., Harness],
) -> None:
    h = make(batch_size=1)
    h.consumer.produce(0, 0, 1)
    # Fails: the batch's commit, the retry before the loss, and one after it.
    h.consumer.commit_answers.extend([RETRIABLE] * 4)
    h.consumer.then(lambda: h.consumer.assign(0, 1)).idle(1)
    h.consumer.then(lambda: h.consumer.lose(1)).idle(6)
    h.run()
    assert h.consumer.paused == set(), "librdkafka would keep p1 paused into its next assignment"
    assert h.consumer.committed_offsets == {0: 2}


def fatal_answers() -> list[KafkaError | dict[int, KafkaError]]:
    return [
        KafkaError(KafkaError.GROUP_AUTHORIZATION_FAILED),
        {0: KafkaError(KafkaError.TOPIC_AUTHORIZATION_FAILED)},
        KafkaError(KafkaError._FATAL, "fatal", fatal=True),
        KafkaError(KafkaError.FENCED_INSTANCE_ID),
    ]


@pytest.mark.parametrize("answer", fatal_answers(), ids=lambda a: str(a)[:40])
def test_a_fatal_commit_error_stops_the_consumer_committing_nothing_more(
    make: Callable[..., Harness],
    caplog: pytest.LogCaptureFixture,
    answer: KafkaError | dict[int, KafkaError],
) -> None:
    """Finding 5: a commit error that will not clear must not stall the consumer forever."""
    from consumer.checkpoint import CommitFailed

    h = make(batch_size=1)
    h.consumer.produce(0, 0, 1, 2)
    h.consumer.commit_answers.append(answer)
    h.consumer.then(lambda: h.consumer.assign(0)).idle(5)
    with pytest.raises(CommitFailed):
        h.run()
    assert h.consumer.commits == [{0: 1}], "no retry, no final commit"
    assert h.consumer.consumed == [(0, 0)]
    assert h.consumer.closed


def test_a_stop_while_the_broker_is_away_gives_up_within_a_bound(
    make: Callable[..., Harness], caplog: pytest.LogCaptureFixture, no_sleep: list[float]
) -> None:
    """Finding 5: the final commit neither blocks nor retries for ever, then the consumer
    closes and says what it could not commit."""
    from consumer.loop import FINAL_COMMIT_TRIES, FINAL_COMMIT_WAIT_S

    h = make(batch_size=100)
    h.consumer.produce(0, 0, 1, 2)
    before_stop: list[int] = []

    def broker_away_then_stop() -> None:
        h.consumer.coordinator_away = True
        before_stop.append(len(h.consumer.commits))
        h.stop.set()

    h.consumer.then(lambda: h.consumer.assign(0)).idle(2).then(broker_away_then_stop)
    caplog.set_level(logging.INFO)
    h.run()
    assert before_stop == [0], "the batch in hand was not committed before the stop"
    assert h.consumer.commits == [], "no commit queued to wait for the broker, none on close"
    assert h.consumer.committed_timeouts == [FINAL_COMMIT_WAIT_S] * FINAL_COMMIT_TRIES
    assert len(no_sleep) == FINAL_COMMIT_TRIES
    assert all(FINAL_COMMIT_WAIT_S - 0.5 < s <= FINAL_COMMIT_WAIT_S for s in no_sleep), (
        "a try that failed at once waits out the rest of its FINAL_COMMIT_WAIT_S"
    )
    assert h.consumer.closed
    [gave_up] = events(caplog, "offsets_not_committed")
    assert gave_up["offsets"] == {0: 3}
    assert gave_up["message"] == (
        "⚠️ Gave up committing offsets p0→3 after 3 tries: the next owner processes them again"
    )


def test_a_final_commit_try_that_timed_out_is_not_followed_by_a_wait(
    make: Callable[..., Harness], monkeypatch: pytest.MonkeyPatch, no_sleep: list[float]
) -> None:
    from consumer.loop import FINAL_COMMIT_TRIES

    clock = [0.0]

    def hang(seconds: float) -> None:
        clock[0] += seconds

    monkeypatch.setattr(time, "monotonic", lambda: clock[0])
    h = make(batch_size=100)
    h.consumer.produce(0, 0)
    h.consumer.coordinator_away = True
    h.consumer.waited = hang
    h.consumer.then(lambda: h.consumer.assign(0)).idle(1)
    h.run()
    assert no_sleep == [0.0] * FINAL_COMMIT_TRIES
    assert clock[0] == 6.0, "the stop's whole delay"


def test_a_stop_retries_the_final_commit_until_it_goes_through(
    make: Callable[..., Harness],
) -> None:
    h = make(batch_size=5)
    h.consumer.produce(0, 0, 1)
    h.consumer.commit_answers.extend([RETRIABLE, RETRIABLE])
    h.consumer.then(lambda: h.consumer.assign(0)).idle(2)
    h.run()
    assert h.consumer.commits == [{0: 2}] * 3
    assert h.consumer.committed_at_close == {0: 2}


# --- rebalances and stop ---


def test_a_revoke_finishes_the_batch_in_hand_and_commits_it_first(
    make: Callable[..., Harness], caplog: pytest.LogCaptureFixture
) -> None:
    h = make(batch_size=10)
    at_revoke: list[dict[int, int]] = []

    def revoke() -> None:
        h.consumer.revoke(0)
        at_revoke.append(dict(h.consumer.committed_offsets))

    h.consumer.produce(0, 0, 1)
    h.consumer.produce(1, 0)
    h.consumer.then(lambda: h.consumer.assign(0, 1)).idle(2).then(revoke).idle()
    caplog.set_level(logging.INFO)
    h.run()
    assert at_revoke == [{0: 2, 1: 1}], "committed before the partition went to its next owner"
    assert "📤 Partitions revoked: [0] (now owns [1])" in lines(caplog)
    [revoked, on_close] = events(caplog, "partitions_revoked")
    assert (revoked["partitions"], revoked["owned"]) == ([0], [1])
    assert (on_close["partitions"], on_close["owned"]) == ([1], [])


def test_a_revoke_commits_what_a_failed_commit_left_pending(
    make: Callable[..., Harness],
) -> None:
    h = make(batch_size=2)
    h.consumer.produce(0, 0, 1, 2)
    h.consumer.commit_answers.extend([RETRIABLE, RETRIABLE])  # the batch's, and one retry
    h.consumer.then(lambda: h.consumer.assign(0)).idle(1)
    h.consumer.then(lambda: h.consumer.revoke(0)).idle(2)
    h.run()
    assert h.consumer.commits == [{0: 2}] * 3
    assert h.consumer.committed_offsets == {0: 2}, "committed by the revoke"


def test_what_a_revoke_could_not_commit_is_never_committed_later(
    make: Callable[..., Harness],
) -> None:
    h = make(batch_size=1)
    h.consumer.produce(0, 0)
    h.consumer.commit_answers.extend([RETRIABLE] * 3)
    h.consumer.then(lambda: h.consumer.assign(0)).then(lambda: h.consumer.revoke(0)).idle(3)
    h.run()
    assert h.consumer.committed_offsets == {}, "p0 is someone else's now: its offsets are theirs"
    assert all(c == {0: 1} for c in h.consumer.commits)


def test_a_lost_partition_is_dropped_from_the_batch_and_never_committed(
    make: Callable[..., Harness], caplog: pytest.LogCaptureFixture
) -> None:
    h = make(batch_size=5)
    h.consumer.produce(0, 0)
    h.consumer.produce(1, 0, 1)
    h.consumer.then(lambda: h.consumer.assign(0, 1)).idle(2)
    h.consumer.then(lambda: h.consumer.lose(1)).idle()
    caplog.set_level(logging.INFO)
    h.run()
    assert h.consumer.committed_offsets == {0: 1}
    assert "💥 Partitions lost: [1] (now owns [0])" in lines(caplog)
    assert "📥 Partitions assigned: [0, 1] (now owns [0, 1])" in lines(caplog)
    [lost] = events(caplog, "partitions_lost")
    assert (lost["partitions"], lost["owned"], lost["dropped"]) == ([1], [0], 2)
    [assigned] = events(caplog, "partitions_assigned")
    assert (assigned["partitions"], assigned["owned"]) == ([0, 1], [0, 1])


def test_what_was_pending_on_a_lost_partition_is_never_committed(
    make: Callable[..., Harness],
) -> None:
    h = make(batch_size=1)
    tried: list[int] = []

    def lose() -> None:
        h.consumer.lose(0)
        tried.append(len(h.consumer.commits))

    h.consumer.produce(0, 0)
    h.consumer.commit_answers.extend([RETRIABLE, RETRIABLE])
    h.consumer.then(lambda: h.consumer.assign(0)).then(lose).idle(2)
    h.run()
    assert tried == [2], "the batch's commit and one retry before the loss"
    assert len(h.consumer.commits) == 2, "nothing tried again after the loss"
    assert h.consumer.committed_offsets == {}


def test_a_stop_finishes_the_batch_in_hand_commits_it_then_closes(
    make: Callable[..., Harness], caplog: pytest.LogCaptureFixture
) -> None:
    h = make(batch_size=10)
    h.consumer.produce(0, 0, 1, 2)
    h.consumer.then(lambda: h.consumer.assign(0)).idle(2)
    caplog.set_level(logging.INFO)
    h.run()
    assert h.consumer.committed_at_close == {0: 3}
    [stopped] = events(caplog, "consumer_stopped")
    assert stopped["message"] == "🛑 Consumer stopped; left group g"
    [started] = events(caplog, "consumer_started")
    assert started["message"] == (
        "Starting consumer loop (group g, at-least-once, classic protocol, range, batch size 10, "
        "max wait 3600s, pipeline validate). Ctrl+C to stop"
    )


def test_the_start_line_names_the_protocol_and_a_static_member(
    make: Callable[..., Harness], caplog: pytest.LogCaptureFixture
) -> None:
    h = make(
        batch_size=1,
        pipeline=("validate", "enrich"),
        group_protocol="consumer",
        assignment_strategy=None,
        group_instance_id="bravo-1",
    )
    caplog.set_level(logging.INFO)
    h.run()
    [started] = events(caplog, "consumer_started")
    assert started["message"] == (
        "Starting consumer loop (group g, at-least-once, consumer protocol, static member bravo-1, "
        "batch size 1, max wait 3600s, pipeline validate→enrich). Ctrl+C to stop"
    )


# --- poison, whatever the pipeline (findings 1 and 3) ---


def test_a_step_that_raises_for_one_record_dead_letters_that_record_only(
    make: Callable[..., Harness],
) -> None:
    """Finding 1: `"amount": "lots"` makes enrich raise; the batch goes on without it."""
    h = make(batch_size=3, pipeline=("enrich", "score"))
    lots = json.dumps(asdict(TransactionFactory(seed=2)()) | {"amount": "lots"}).encode()
    h.consumer.put(message(0, 0), message(0, 1, lots), message(0, 2))
    h.consumer.then(lambda: h.consumer.assign(0)).idle(3)
    h.run()
    assert h.letters() == [(0, 1, "failed in enrich")]
    assert b"InvalidOperation" in h.producer.delivered[0].headers["dlq.error"]
    assert h.producer.delivered[0].value == lots
    assert h.consumer.committed_offsets == {0: 3}


def test_a_step_that_returns_copies_rejects_nothing(make: Callable[..., Harness]) -> None:
    """Finding 3: rejection is tracked by partition and offset, not by object identity."""
    from consumer.pipeline import STEPS, Record

    def copy(records: list[Record]) -> list[Record]:
        return [replace(r) for r in records]

    STEPS["copy"] = copy
    try:
        h = make(batch_size=2, pipeline=("copy", "validate"))
        h.consumer.produce(0, 0, 1)
        h.consumer.then(lambda: h.consumer.assign(0)).idle(2)
        h.run()
    finally:
        del STEPS["copy"]
    assert h.letters() == []
    assert h.consumer.committed_offsets == {0: 2}


def test_a_dead_letter_keeps_the_partition_of_its_poison(make: Callable[..., Harness]) -> None:
    """Finding 8: provision's claim that the dead-letter topic mirrors the partitions."""
    h = make(batch_size=1)
    h.consumer.put(message(2, 9, b"garbage"))
    h.consumer.then(lambda: h.consumer.assign(2)).idle()
    h.run()
    assert [d.partition for d in h.producer.delivered] == [2]


def test_a_dead_letter_too_large_to_send_does_not_stop_the_consumer(
    make: Callable[..., Harness],
) -> None:
    """Finding 2: a poison near the size limit, plus the dlq.* headers, is too large to send."""
    h = make(batch_size=2, max_message_bytes=1000)
    h.producer.max_bytes = 5000
    huge = b"x" * 4990
    h.consumer.put(message(0, 0, huge), message(0, 1))
    h.consumer.then(lambda: h.consumer.assign(0)).idle(2)
    h.run()
    assert h.letters() == [(0, 0, "too_large")]
    assert h.producer.delivered[0].headers["dlq.original_size"] == b"4990"
    assert h.consumer.committed_offsets == {0: 2}


def test_a_batch_across_partitions_reports_each_range_in_offset_order(
    make: Callable[..., Harness], caplog: pytest.LogCaptureFixture
) -> None:
    h = make(batch_size=4)
    h.consumer.put(message(0, 12), message(0, 10), message(0, 11), message(1, 0))
    h.consumer.then(lambda: h.consumer.assign(0, 1)).idle(2)
    caplog.set_level(logging.INFO)
    h.run()
    [batch] = events(caplog, "batch_processed")
    assert batch["offsets"] == {0: [10, 12], 1: [0, 0]}
    assert batch["message"] == "Received batch of 4 transactions (p0@10-12 p1@0)"
    assert h.consumer.committed_offsets == {0: 13, 1: 1}


def test_a_value_of_exactly_max_message_bytes_is_decoded_and_offset_0_is_its_own(
    make: Callable[..., Harness],
) -> None:
    h = make(batch_size=3, max_message_bytes=len(GOOD))
    bad = replace(Transaction.from_json(GOOD), currency="XXX").to_json()
    assert len(bad) == len(GOOD)
    h.consumer.put(message(0, 0, bad), message(0, 1), message(0, 2, GOOD + b" "))
    h.consumer.then(lambda: h.consumer.assign(0)).idle(3)
    h.run()
    assert sorted(h.letters()) == [(0, 0, "rejected by validate"), (0, 2, "too_large")]
    assert h.consumer.committed_offsets == {0: 3}


# --- asynchronous commits (the loop's own bound: UNCONFIRMED_MAX) ---


def test_between_batches_one_asynchronous_commit_is_in_flight_and_the_rest_folded(
    make: Callable[..., Harness],
) -> None:
    h = make(batch_size=1, unconfirmed_max=UNCONFIRMED_MAX)
    h.consumer.produce(0, 0, 1, 2, 3, 4)
    h.consumer.commit_answers.append(IN_FLIGHT)
    h.consumer.then(lambda: h.consumer.assign(0)).idle(4)
    h.consumer.then(h.consumer.answer_in_flight).idle(2)
    h.run()
    assert h.consumer.async_commits == [{0: 1}, {0: 5}], "batches 2-5 folded into one commit"
    assert h.consumer.commits == h.consumer.async_commits, "nothing waited for"
    assert h.consumer.committed_offsets == {0: 5}


def test_confirmed_asynchronous_commits_never_reach_the_bound(
    make: Callable[..., Harness],
) -> None:
    h = make(batch_size=1, unconfirmed_max=UNCONFIRMED_MAX)
    h.consumer.produce(0, *range(2 * UNCONFIRMED_MAX))
    h.consumer.then(lambda: h.consumer.assign(0)).idle(2 * UNCONFIRMED_MAX + 2)
    h.run()
    assert len(h.consumer.async_commits) > 2
    assert h.consumer.commits == h.consumer.async_commits, "none synchronous"
    assert h.consumer.committed_offsets == {0: 2 * UNCONFIRMED_MAX}


@pytest.mark.parametrize("batch_size", [1, 7])
def test_past_the_bound_the_commit_is_synchronous(
    make: Callable[..., Harness], batch_size: int
) -> None:
    """What a crash repeats: fewer than UNCONFIRMED_MAX + BATCH_SIZE messages."""
    h = make(batch_size=batch_size, unconfirmed_max=UNCONFIRMED_MAX)
    h.consumer.produce(0, *range(250))
    h.consumer.commit_answers.append(IN_FLIGHT)  # never answered
    h.consumer.then(lambda: h.consumer.assign(0)).idle(300)
    h.run()
    assert h.consumer.async_commits == [{0: batch_size}]
    assert len(h.consumer.commits) > 2, "synchronous commits past the bound"
    assert UNCONFIRMED_MAX <= h.consumer.most_uncommitted <= UNCONFIRMED_MAX - 1 + batch_size
    assert h.consumer.committed_offsets == {0: 250}


@pytest.mark.parametrize("answer", [RETRIABLE, {0: RETRIABLE}], ids=["request", "partition"])
def test_a_failed_asynchronous_commit_goes_with_the_next(
    make: Callable[..., Harness],
    caplog: pytest.LogCaptureFixture,
    answer: KafkaError | dict[int, KafkaError],
) -> None:
    h = make(batch_size=1, unconfirmed_max=UNCONFIRMED_MAX)
    h.consumer.produce(0, 0, 1, 2)
    h.consumer.commit_answers.append(answer)
    h.consumer.then(lambda: h.consumer.assign(0)).idle(4)
    h.run()
    assert h.consumer.async_commits == [{0: 1}, {0: 2}, {0: 3}]
    assert h.consumer.committed_offsets == {0: 3}
    assert len(events(caplog, "commit_failed")) == 1
    assert h.consumer.pause_calls == [], "below the bound, a failed commit stalls nothing"


@pytest.mark.parametrize("answer", fatal_answers(), ids=lambda a: str(a)[:40])
def test_a_fatal_asynchronous_commit_stops_the_consumer_committing_nothing_more(
    make: Callable[..., Harness], answer: KafkaError | dict[int, KafkaError]
) -> None:
    from consumer.checkpoint import CommitFailed

    h = make(batch_size=1, unconfirmed_max=UNCONFIRMED_MAX)
    h.consumer.produce(0, 0, 1, 2)
    h.consumer.commit_answers.append(answer)
    h.consumer.then(lambda: h.consumer.assign(0)).idle(4)
    with pytest.raises(CommitFailed):
        h.run()
    assert h.consumer.commits == [{0: 1}], "no retry, no final commit, none on close"
    assert h.consumer.closed


def test_a_revoke_commits_synchronously_what_a_commit_in_flight_holds(
    make: Callable[..., Harness],
) -> None:
    h = make(batch_size=1, unconfirmed_max=UNCONFIRMED_MAX)
    at_revoke: list[dict[int, int]] = []

    def revoke() -> None:
        h.consumer.revoke(0)
        at_revoke.append(dict(h.consumer.committed_offsets))

    h.consumer.produce(0, 0, 1, 2)
    h.consumer.commit_answers.append(IN_FLIGHT)
    h.consumer.then(lambda: h.consumer.assign(0)).idle(2).then(revoke).idle()
    h.run()
    assert at_revoke == [{0: 3}], "committed before the partition went to its next owner"
    assert h.consumer.commits == [{0: 1}, {0: 3}]
    assert h.consumer.async_commits == [{0: 1}]


def test_a_stop_commits_synchronously_what_a_commit_in_flight_holds(
    make: Callable[..., Harness],
) -> None:
    h = make(batch_size=1, unconfirmed_max=UNCONFIRMED_MAX)
    h.consumer.produce(0, 0, 1, 2)
    h.consumer.commit_answers.append(IN_FLIGHT)
    h.consumer.then(lambda: h.consumer.assign(0)).idle(2)
    h.run()
    assert h.consumer.commits == [{0: 1}, {0: 3}]
    assert h.consumer.async_commits == [{0: 1}]
    assert h.consumer.committed_at_close == {0: 3}


def test_a_failed_commit_is_retried_once_per_poll(make: Callable[..., Harness]) -> None:
    h = make(batch_size=1)
    tried: list[int] = []
    h.consumer.produce(0, 0)
    h.consumer.commit_answers.extend([RETRIABLE] * 3)
    h.consumer.then(lambda: h.consumer.assign(0))
    for _ in range(3):
        h.consumer.then(lambda: tried.append(len(h.consumer.commits)))
    h.run()
    assert tried == [2, 3, 4], "the batch's commit, then one retry before each poll"


def test_a_revoke_commits_the_batch_in_hand_once_and_synchronously(
    make: Callable[..., Harness],
) -> None:
    h = make(batch_size=2, unconfirmed_max=UNCONFIRMED_MAX)
    h.consumer.produce(0, 0, 1, 2)
    h.consumer.then(lambda: h.consumer.assign(0)).idle(2)
    h.consumer.then(lambda: h.consumer.revoke(0)).idle()
    h.run()
    assert h.consumer.async_commits == [{0: 2}], "the first batch's, answered before the revoke"
    assert h.consumer.commits == [{0: 2}, {0: 3}]
    assert h.consumer.committed_offsets == {0: 3}


def test_by_default_a_commit_turns_synchronous_at_100_unconfirmed_messages() -> None:
    stop = StopFlag()
    settings = Harness(1, ("validate",)).settings
    loop = ConsumerLoop(settings, FakeConsumer(stop).as_consumer(), None, stop)  # type: ignore[arg-type]
    assert loop.unconfirmed_max == UNCONFIRMED_MAX == 100, "the bound docs/guarantees.md states"

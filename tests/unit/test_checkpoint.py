"""Which offsets are committed, and what a failed commit leaves to do."""

from __future__ import annotations

import logging

import pytest
from confluent_kafka import KafkaError, KafkaException

from consumer.checkpoint import Checkpoint, describe
from playground.shutdown import StopFlag
from tests.unit.fakes import FakeConsumer, message, tps

RETRIABLE = KafkaError(KafkaError._TRANSPORT, "broker away", retriable=True)


@pytest.fixture
def consumer() -> FakeConsumer:
    return FakeConsumer(StopFlag())


def lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records]


def events(caplog: pytest.LogCaptureFixture, name: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if getattr(r, "event", None) == name]


def test_the_offset_after_the_highest_processed_one_is_committed_per_partition(
    consumer: FakeConsumer, caplog: pytest.LogCaptureFixture
) -> None:
    checkpoint = Checkpoint(consumer.as_consumer())
    checkpoint.processed([message(0, 5), message(0, 3), message(1, 0)])
    caplog.set_level(logging.INFO)
    assert checkpoint.commit() == {0: 6, 1: 1}
    assert consumer.commits == [{0: 6, 1: 1}]
    assert not checkpoint.pending
    [committed] = events(caplog, "offsets_committed")
    assert committed.offsets == {0: 6, 1: 1}  # type: ignore[attr-defined]
    assert "💾 Committed offsets p0→6 p1→1" in lines(caplog)


def test_nothing_pending_asks_the_broker_nothing(consumer: FakeConsumer) -> None:
    checkpoint = Checkpoint(consumer.as_consumer())
    assert not checkpoint.pending
    assert checkpoint.commit() == {}
    assert consumer.commits == []


def test_a_failed_commit_keeps_its_offsets_pending(
    consumer: FakeConsumer, caplog: pytest.LogCaptureFixture
) -> None:
    checkpoint = Checkpoint(consumer.as_consumer())
    checkpoint.processed([message(0, 0)])
    consumer.commit_answers.append(RETRIABLE)
    assert checkpoint.commit() == {}
    assert checkpoint.pending
    [failed] = events(caplog, "commit_failed")
    assert failed.error == str(RETRIABLE)  # type: ignore[attr-defined]
    assert f"⚠️ Commit failed: {RETRIABLE}" in lines(caplog)
    assert checkpoint.commit() == {0: 1}
    assert not checkpoint.pending


@pytest.mark.parametrize("failing", [0, 1])
def test_a_partition_whose_commit_failed_stays_pending_alone(
    consumer: FakeConsumer, caplog: pytest.LogCaptureFixture, failing: int
) -> None:
    other = 1 - failing
    checkpoint = Checkpoint(consumer.as_consumer())
    checkpoint.processed([message(0, 0), message(1, 0)])
    consumer.commit_answers.append({failing: RETRIABLE})
    assert checkpoint.commit() == {other: 1}
    [failed] = events(caplog, "commit_failed")
    assert (failed.partition, failed.error) == (failing, str(RETRIABLE))  # type: ignore[attr-defined]
    assert f"⚠️ Commit failed for partition {failing}: {RETRIABLE}" in lines(caplog)
    assert checkpoint.commit() == {failing: 1}
    assert consumer.commits == [{0: 1, 1: 1}, {failing: 1}]


def test_what_commits_beside_a_fatal_partition_is_committed_before_the_raise(
    consumer: FakeConsumer,
) -> None:
    from consumer.checkpoint import CommitFailed

    checkpoint = Checkpoint(consumer.as_consumer())
    checkpoint.processed([message(0, 0), message(1, 0), message(2, 0)])
    denied = KafkaError(KafkaError.TOPIC_AUTHORIZATION_FAILED)
    consumer.commit_answers.append({0: denied, 2: denied})
    with pytest.raises(CommitFailed, match="p0: Broker: Topic authorization failed; p2: Broker"):
        checkpoint.commit()
    assert consumer.committed_offsets == {1: 1}


def test_a_forgotten_partition_is_never_committed(consumer: FakeConsumer) -> None:
    checkpoint = Checkpoint(consumer.as_consumer())
    checkpoint.processed([message(0, 0), message(1, 0), message(2, 0)])
    checkpoint.forget(tps(0, 2))
    assert checkpoint.commit() == {1: 1}
    assert consumer.commits == [{1: 1}]


def test_no_offset_to_commit_clears_and_logs_what_was_pending(
    consumer: FakeConsumer, caplog: pytest.LogCaptureFixture
) -> None:
    """Finding 6: left pending, those offsets would keep the loop paused for ever."""
    checkpoint = Checkpoint(consumer.as_consumer())
    checkpoint.processed([message(0, 0)])
    consumer.commit_answers.append(KafkaError(KafkaError._NO_OFFSET))
    assert checkpoint.commit() == {}
    assert not checkpoint.pending
    [record] = events(caplog, "commit_no_offset")
    assert record.offsets == {0: 1}  # type: ignore[attr-defined]
    assert "⚠️ Nothing to commit for offsets p0→1: dropped" in lines(caplog)


@pytest.mark.parametrize(
    "answer",
    [
        KafkaError(KafkaError.GROUP_AUTHORIZATION_FAILED),
        KafkaError(KafkaError.TOPIC_AUTHORIZATION_FAILED),
        KafkaError(KafkaError.FENCED_INSTANCE_ID),
        KafkaError(KafkaError._FATAL, "fatal", fatal=True),
        KafkaError(KafkaError.UNKNOWN, "flagged fatal", fatal=True),
        {1: KafkaError(KafkaError.TOPIC_AUTHORIZATION_FAILED)},
    ],
    ids=str,
)
def test_a_commit_error_that_will_not_clear_raises(
    consumer: FakeConsumer, caplog: pytest.LogCaptureFixture, answer: object
) -> None:
    from consumer.checkpoint import CommitFailed

    checkpoint = Checkpoint(consumer.as_consumer())
    checkpoint.processed([message(0, 0), message(1, 0)])
    consumer.commit_answers.append(answer)  # type: ignore[arg-type]
    with pytest.raises(CommitFailed, match="cannot commit") as raised:
        checkpoint.commit()
    assert not events(caplog, "commit_failed"), "no warning that suggests a retry"
    if isinstance(answer, KafkaError):
        assert isinstance(raised.value.__cause__, KafkaException), "the client's error kept"


@pytest.mark.parametrize(
    "code",
    [
        KafkaError._TRANSPORT,
        KafkaError.REQUEST_TIMED_OUT,
        KafkaError.COORDINATOR_NOT_AVAILABLE,
        KafkaError.NOT_COORDINATOR,
        KafkaError.REBALANCE_IN_PROGRESS,
        KafkaError.UNKNOWN_MEMBER_ID,
        KafkaError.ILLEGAL_GENERATION,
    ],
)
def test_a_commit_error_that_clears_by_itself_is_retried(consumer: FakeConsumer, code: int) -> None:
    checkpoint = Checkpoint(consumer.as_consumer())
    checkpoint.processed([message(0, 0)])
    consumer.commit_answers.append(KafkaError(code))
    assert checkpoint.commit() == {}
    assert checkpoint.pending


def test_a_commit_exception_without_a_kafka_error_is_not_swallowed(
    consumer: FakeConsumer,
) -> None:
    checkpoint = Checkpoint(consumer.as_consumer())
    checkpoint.processed([message(0, 0)])
    consumer.commit_answers.append(KafkaException("not a KafkaError"))
    with pytest.raises(KafkaException, match="not a KafkaError"):
        checkpoint.commit()


def test_describe_lists_partitions_in_order() -> None:
    assert describe({2: 5, 0: 9}) == "p0→9 p2→5"


def test_a_bounded_commit_commits_once_a_coordinator_answers(
    consumer: FakeConsumer, caplog: pytest.LogCaptureFixture
) -> None:
    checkpoint = Checkpoint(consumer.as_consumer())
    assert checkpoint.commit_within(2.0), "nothing pending: nothing to do"
    assert (consumer.commits, consumer.committed_timeouts) == ([], [])
    checkpoint.processed([message(0, 4), message(1, 0)])
    consumer.commit_answers.append({1: RETRIABLE})
    assert not checkpoint.commit_within(2.0)
    assert checkpoint.offsets() == {1: 1}, "p0 went through, p1 did not"
    assert checkpoint.commit_within(2.0)
    assert consumer.committed_timeouts == [2.0, 2.0]
    assert consumer.committed_asked == [[0, 1], [1]]
    assert consumer.commits == [{0: 5, 1: 1}, {1: 1}]
    assert consumer.committed_offsets == {0: 5, 1: 1}


def test_a_bounded_commit_queues_nothing_when_no_coordinator_answers(
    consumer: FakeConsumer, caplog: pytest.LogCaptureFixture
) -> None:
    checkpoint = Checkpoint(consumer.as_consumer())
    checkpoint.processed([message(0, 0)])
    consumer.coordinator_away = True
    assert not checkpoint.commit_within(1.5)
    assert consumer.commits == [], "a commit would wait for the coordinator, and close() for it"
    assert checkpoint.offsets() == {0: 1}
    [failed] = events(caplog, "commit_failed")
    assert "_TIMED_OUT" in failed.error  # type: ignore[attr-defined]
    assert f"⚠️ Commit failed: {KafkaError(KafkaError._TIMED_OUT)}" in lines(caplog)


def test_unconfirmed_counts_what_no_confirmed_commit_covers(consumer: FakeConsumer) -> None:
    checkpoint = Checkpoint(consumer.as_consumer())
    consumer.on_commit = checkpoint.on_commit
    checkpoint.processed([message(0, 0), message(1, 0), message(1, 1)])
    assert checkpoint.unconfirmed == 3
    consumer.commit_answers.extend([{1: RETRIABLE}, None])
    checkpoint.commit_async()
    assert checkpoint.in_flight
    checkpoint.processed([message(0, 1)])
    consumer.consume()  # the answer: p1 failed
    assert not checkpoint.in_flight
    assert checkpoint.unconfirmed == 4, "a commit a partition of which failed confirms nothing"
    checkpoint.commit_async()
    checkpoint.processed([message(0, 2)])
    consumer.consume()
    assert checkpoint.unconfirmed == 1, "confirmed: what was processed before it was sent"
    assert checkpoint.offsets() == {0: 3}
    consumer.commit_answers.append({0: RETRIABLE})
    checkpoint.commit()
    assert checkpoint.unconfirmed == 1
    checkpoint.commit()
    assert checkpoint.unconfirmed == 0
    checkpoint.processed([message(2, 0)])
    checkpoint.forget(tps(2))
    assert checkpoint.commit() == {}
    assert checkpoint.unconfirmed == 0, "nothing pending: nothing a crash could repeat of ours"


def test_an_asynchronous_commit_refused_at_once_is_a_failed_commit(
    consumer: FakeConsumer, caplog: pytest.LogCaptureFixture
) -> None:
    from consumer.checkpoint import CommitFailed

    checkpoint = Checkpoint(consumer.as_consumer())
    checkpoint.processed([message(0, 0)])
    consumer.commit_answers.append(KafkaException(RETRIABLE))
    checkpoint.commit_async()
    assert not checkpoint.in_flight
    assert checkpoint.offsets() == {0: 1}
    assert [r.error for r in events(caplog, "commit_failed")] == [str(RETRIABLE)]  # type: ignore[attr-defined]
    denied = KafkaError(KafkaError.GROUP_AUTHORIZATION_FAILED)
    consumer.commit_answers.append(KafkaException(denied))
    with pytest.raises(CommitFailed, match="cannot commit offsets p0→1") as raised:
        checkpoint.commit_async()
    assert isinstance(raised.value.__cause__, KafkaException)
    consumer.commit_answers.append(KafkaException("not a KafkaError"))
    with pytest.raises(KafkaException, match="not a KafkaError"):
        checkpoint.commit_async()

"""Reading a group's committed offsets: a coordinator that moved is asked again, nothing else is.

The reader is scripted as a broker would answer; tests/e2e/test_cluster.py moves a real
coordinator under it."""

from __future__ import annotations

import logging
from collections import deque
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException, TopicPartition

from playground import groups
from playground.groups import Admin
from tests.unit.fakes import CommitResult

WANTED = [TopicPartition("t", 0), TopicPartition("t", 1)]
Answer = KafkaError | list[TopicPartition]


class ScriptedReader:
    def __init__(self, *answers: Answer) -> None:
        self.answers: deque[Answer] = deque(answers)
        self.asked = 0

    def committed(self, partitions: list[TopicPartition], timeout: float) -> list[TopicPartition]:
        self.asked += 1
        answer = self.answers[0] if len(self.answers) == 1 else self.answers.popleft()
        if isinstance(answer, KafkaError):
            raise KafkaException(answer)
        return answer


def offsets(*pairs: tuple[int, int]) -> list[TopicPartition]:
    return [TopicPartition("t", p, o) for p, o in pairs]


def failed(partition: int, code: int) -> Any:
    """A partition the answer carries an error for, as librdkafka returns it."""
    return CommitResult("t", partition, -1001, KafkaError(code))


@pytest.fixture
def admin(monkeypatch: pytest.MonkeyPatch) -> Admin:
    monkeypatch.setattr(groups, "RETRY_S", 0.01)
    # Nothing listens there: the tests never reach a broker.
    return Admin({"bootstrap.servers": "localhost:1", "logger": logging.getLogger("test")})


def scripted(monkeypatch: pytest.MonkeyPatch, admin: Admin, reader: ScriptedReader) -> None:
    monkeypatch.setattr(admin, "_reader", lambda group_id: reader)


@pytest.mark.parametrize(
    "moving",
    [
        KafkaError(KafkaError.NOT_COORDINATOR),
        KafkaError(KafkaError.COORDINATOR_NOT_AVAILABLE),
        KafkaError(KafkaError.COORDINATOR_LOAD_IN_PROGRESS),
    ],
    ids=["not-coordinator", "not-available", "loading"],
)
def test_a_coordinator_that_moved_is_asked_again(
    admin: Admin, monkeypatch: pytest.MonkeyPatch, moving: KafkaError
) -> None:
    reader = ScriptedReader(moving, moving, offsets((0, 5), (1, 7)))
    scripted(monkeypatch, admin, reader)
    assert admin.committed("g", WANTED, 5) == offsets((0, 5), (1, 7))
    assert reader.asked == 3


def test_a_partition_s_coordinator_error_is_asked_again_too(
    admin: Admin, monkeypatch: pytest.MonkeyPatch
) -> None:
    reader = ScriptedReader(
        [failed(0, KafkaError.NOT_COORDINATOR), *offsets((1, 7))], offsets((0, 5), (1, 7))
    )
    scripted(monkeypatch, admin, reader)
    assert admin.committed("g", WANTED, 5) == offsets((0, 5), (1, 7))
    assert reader.asked == 2


def test_any_other_error_is_raised_at_once(admin: Admin, monkeypatch: pytest.MonkeyPatch) -> None:
    reader = ScriptedReader(KafkaError(KafkaError.GROUP_AUTHORIZATION_FAILED), offsets((0, 5)))
    scripted(monkeypatch, admin, reader)
    with pytest.raises(KafkaException) as raised:
        admin.committed("g", WANTED, 5)
    assert raised.value.args[0].code() == KafkaError.GROUP_AUTHORIZATION_FAILED
    assert reader.asked == 1


def test_a_partition_s_other_error_is_raised_not_read_as_no_offset(
    admin: Admin, monkeypatch: pytest.MonkeyPatch
) -> None:
    reader = ScriptedReader([failed(0, KafkaError.UNKNOWN_TOPIC_OR_PART), *offsets((1, 7))])
    scripted(monkeypatch, admin, reader)
    with pytest.raises(KafkaException):
        admin.committed("g", WANTED, 5)
    assert reader.asked == 1


def test_a_coordinator_that_never_settles_is_given_up_on_at_the_deadline(
    admin: Admin, monkeypatch: pytest.MonkeyPatch
) -> None:
    reader = ScriptedReader(KafkaError(KafkaError.NOT_COORDINATOR))
    scripted(monkeypatch, admin, reader)
    with pytest.raises(KafkaException) as raised:
        admin.committed("g", WANTED, 0.2)
    assert raised.value.args[0].code() == KafkaError.NOT_COORDINATOR
    assert 2 <= reader.asked <= 0.2 / 0.01 + 2  # asked again, every RETRY_S, until the deadline


def test_a_retired_admin_closes_its_readers_and_a_read_after_gets_a_new_one(admin: Admin) -> None:
    first = admin._reader("g")
    admin.close_readers()
    with pytest.raises(RuntimeError):  # confluent-kafka's answer on a closed consumer
        first.assignment()
    assert admin._reader("g") is not first
    admin.close_readers()

"""The batching rule, with an injected clock: size first, time first, both, never empty."""

from __future__ import annotations

import pytest

from consumer.batching import Batch


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_an_empty_batch_is_never_ready_however_long_we_wait(clock: Clock) -> None:
    batch: Batch[int] = Batch(size=3, max_wait_s=5, clock=clock)
    clock.now += 3600
    assert not batch.ready()
    assert batch.time_left() is None
    assert batch.take() == []


def test_size_fires_before_the_wait(clock: Clock) -> None:
    batch: Batch[int] = Batch(size=3, max_wait_s=5, clock=clock)
    for item in (1, 2):
        batch.add(item)
        clock.now += 1
        assert not batch.ready()
    batch.add(3)
    assert batch.ready()
    assert batch.room() == 0
    assert batch.take() == [1, 2, 3]
    assert len(batch) == 0


def test_wait_fires_before_the_size_counting_from_the_first_message(clock: Clock) -> None:
    batch: Batch[int] = Batch(size=100, max_wait_s=5, clock=clock)
    batch.add(1)
    clock.now += 4
    batch.add(2)
    assert batch.time_left() == pytest.approx(1)
    assert not batch.ready()
    clock.now += 1
    assert batch.ready()
    assert batch.take() == [1, 2]


def test_the_wait_restarts_with_the_next_batch(clock: Clock) -> None:
    batch: Batch[int] = Batch(size=100, max_wait_s=5, clock=clock)
    batch.add(1)
    clock.now += 5
    batch.take()
    clock.now += 10
    batch.add(2)
    assert not batch.ready()
    assert batch.time_left() == pytest.approx(5)


def test_both_triggers_at_once_give_one_batch(clock: Clock) -> None:
    batch: Batch[int] = Batch(size=2, max_wait_s=5, clock=clock)
    batch.add(1)
    clock.now += 5
    batch.add(2)
    assert batch.ready()
    assert batch.take() == [1, 2]
    assert not batch.ready()


def test_room_says_how_many_more_to_fetch(clock: Clock) -> None:
    batch: Batch[int] = Batch(size=10, max_wait_s=5, clock=clock)
    assert batch.room() == 10
    batch.add(1)
    assert batch.room() == 9


def test_drop_removes_only_the_unwanted_items(clock: Clock) -> None:
    batch: Batch[int] = Batch(size=10, max_wait_s=5, clock=clock)
    for item in range(6):
        batch.add(item)
    assert batch.drop(lambda item: item % 2 == 0) == 3
    assert batch.take() == [1, 3, 5]

"""The pipeline's step registry and its built-in steps."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest

from consumer.pipeline import STEPS, Pipeline, Record, UnknownStep, step
from playground.transaction import TransactionFactory


def records(n: int) -> list[Record]:
    make = TransactionFactory(seed=1)
    return [Record(partition=0, offset=i, transaction=make()) for i in range(n)]


@pytest.fixture
def temporary_steps() -> Iterator[None]:
    saved = dict(STEPS)
    yield
    STEPS.clear()
    STEPS.update(saved)


def test_the_default_steps_are_registered() -> None:
    assert {"validate", "enrich", "score", "log"} <= set(STEPS)


def test_an_unknown_step_is_refused_with_the_known_ones() -> None:
    with pytest.raises(UnknownStep, match="unknown step\\(s\\) nope; known: validate, enrich"):
        Pipeline(["validate", "nope"])


@pytest.mark.usefixtures("temporary_steps")
def test_steps_run_in_the_order_given() -> None:
    seen: list[str] = []

    for name in ("first", "second"):

        @step(name)
        def remember(batch: list[Record], name: str = name) -> list[Record]:
            seen.append(name)
            return batch

    Pipeline(["second", "first"])(records(1))
    assert seen == ["second", "first"]


@pytest.mark.usefixtures("temporary_steps")
def test_any_record_a_step_drops_is_rejected_with_that_step_named() -> None:
    @step("drop-odd")
    def drop_odd(batch: list[Record]) -> list[Record]:
        return [r for r in batch if r.offset % 2 == 0]

    kept, rejected = Pipeline(["drop-odd"])(records(4))
    assert [r.offset for r in kept] == [0, 2]
    assert [(r.record.offset, r.step, r.reason) for r in rejected] == [
        (1, "drop-odd", "dropped by step drop-odd"),
        (3, "drop-odd", "dropped by step drop-odd"),
    ]


def test_validate_drops_invalid_transactions_and_keeps_the_rest() -> None:
    batch = records(3)
    batch[1].transaction = replace(batch[1].transaction, currency="XXX")
    kept, rejected = Pipeline(["validate"])(batch)
    assert [r.offset for r in kept] == [0, 2]
    [dropped] = rejected
    assert (dropped.record.offset, dropped.step) == (1, "validate")
    assert "currency 'XXX' is not one of" in dropped.reason


def test_enrich_and_score_annotate_every_record() -> None:
    out, rejected = Pipeline(["enrich", "score"])(records(5))
    assert rejected == []
    for record in out:
        assert record.notes["amount_eur"] is not None
        assert 0.0 <= float(str(record.notes["risk"])) <= 1.0

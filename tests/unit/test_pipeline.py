"""The pipeline's step registry and its built-in steps."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal

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
    with pytest.raises(
        UnknownStep, match="unknown step\\(s\\) nope, nada; known: validate, enrich"
    ):
        Pipeline(["validate", "nope", "nada"])


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


def with_amount(record: Record, amount: str, currency: str) -> Record:
    record.transaction = replace(record.transaction, amount=amount, currency=currency)
    return record


def test_enrich_converts_the_amount_to_euros_and_score_grows_with_it() -> None:
    batch = records(5)
    with_amount(batch[0], "100.00", "USD")
    with_amount(batch[1], "1000.00", "EUR")
    with_amount(batch[2], "5000.00", "GBP")
    with_amount(batch[3], "10.00", "XXX")  # no rate: score falls back on the amount itself
    with_amount(batch[4], "0.01", "JPY")  # 0.00 EUR: a real amount, not a missing one
    out, rejected = Pipeline(["enrich", "score"])(batch)
    assert rejected == []
    assert [r.notes["amount_eur"] for r in out] == [
        Decimal("92.00"),
        Decimal("1000.00"),
        Decimal("5850.00"),
        None,
        Decimal("0.00"),
    ]
    assert [r.notes["risk"] for r in out] == [0.046, 0.5, 1.0, 0.005, 0.0]


@pytest.mark.usefixtures("temporary_steps")
def test_a_step_that_raises_rejects_only_the_records_it_raises_for() -> None:
    calls: list[list[int]] = []

    @step("picky")
    def picky(batch: list[Record]) -> list[Record]:
        calls.append([r.offset for r in batch])
        for r in batch:
            if r.offset in (1, 3):
                raise ValueError(f"cannot take offset {r.offset}")
            r.notes["seen"] = True
        return batch

    kept, rejected = Pipeline(["picky", "score"])(records(4))
    assert [r.offset for r in kept] == [0, 2]
    assert all("risk" in r.notes for r in kept), "the survivors went on to the next step"
    assert [(r.record.offset, r.step, r.reason, r.failed) for r in rejected] == [
        (1, "picky", "ValueError: cannot take offset 1", True),
        (3, "picky", "ValueError: cannot take offset 3", True),
    ]
    assert calls == [[0, 1, 2, 3], [0], [1], [2], [3]], "once for the batch, then one by one"


@pytest.mark.usefixtures("temporary_steps")
def test_a_step_that_raises_for_nothing_runs_once_per_batch() -> None:
    calls: list[int] = []

    @step("count")
    def count(batch: list[Record]) -> list[Record]:
        calls.append(len(batch))
        return batch

    Pipeline(["count"])(records(3))
    assert calls == [3]


def test_enrich_raises_on_an_amount_that_is_not_a_number_and_only_that_record_fails() -> None:
    batch = records(3)
    with_amount(batch[1], "lots", "EUR")
    kept, rejected = Pipeline(["enrich", "score"])(batch)
    assert [r.offset for r in kept] == [0, 2]
    [failed] = rejected
    assert (failed.record.offset, failed.step, failed.failed) == (1, "enrich", True)
    assert failed.reason.startswith("InvalidOperation")


@pytest.mark.usefixtures("temporary_steps")
def test_a_step_that_returns_copies_rejects_nothing() -> None:
    @step("copy")
    def copy(batch: list[Record]) -> list[Record]:
        return [replace(r, notes={"copied": True}) for r in batch]

    kept, rejected = Pipeline(["copy"])(records(3))
    assert rejected == []
    assert [(r.offset, r.notes) for r in kept] == [(i, {"copied": True}) for i in range(3)]


def test_validate_says_why_a_record_was_dropped() -> None:
    batch = records(2)
    with_amount(batch[0], "-1.00", "EUR")
    _, [dropped] = Pipeline(["validate"])(batch)
    assert dropped.failed is False
    assert dropped.reason == "amount '-1.00' is not a positive 2-decimal number"


def test_the_log_step_writes_one_debug_line_per_transaction(
    caplog: pytest.LogCaptureFixture,
) -> None:
    batch = records(2)
    caplog.set_level(logging.DEBUG, logger="consumer.pipeline")
    Pipeline(["enrich", "score", "log"])(batch)
    lines = [r for r in caplog.records if getattr(r, "event", None) == "transaction_processed"]
    assert [(r.partition, r.offset) for r in lines] == [(0, 0), (0, 1)]  # type: ignore[attr-defined]
    assert [r.transaction_id for r in lines] == [  # type: ignore[attr-defined]
        b.transaction.transaction_id for b in batch
    ]
    t = batch[0].transaction
    assert f"💳 {t.transaction_id} {t.amount} {t.currency} risk={batch[0].notes['risk']}" in (
        caplog.text
    )


def test_the_log_step_is_silent_above_debug(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="consumer.pipeline")
    Pipeline(["log"])(records(2))
    assert caplog.records == []

"""The processing pipeline: an ordered list of named steps, each a function over a batch.

A step takes the batch's records and returns the records that go on to the next step (a
step may drop records, e.g. `validate`, and may return copies, but never adds one). Register a
new step with `@step("name")`; name it in PIPELINE to use it.

A step that raises does not stop the batch: the step runs again on each record alone, and the
records it still raises for are rejected with the error; the others go on. A step must
therefore be safe to run twice on a record.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from confluent_kafka import Message

from playground.transaction import InvalidTransaction, Transaction

log = logging.getLogger("consumer.pipeline")


@dataclass
class Record:
    partition: int
    offset: int
    transaction: Transaction
    notes: dict[str, object] = field(default_factory=dict)
    message: Message | None = None  # the original, for the dead-letter topic

    @property
    def key(self) -> tuple[int, int]:
        """Which record this is, whatever object a step hands on (copies included)."""
        return self.partition, self.offset


@dataclass(frozen=True)
class Rejected:
    """A record a step dropped, and why: it goes to the dead-letter topic, never lost."""

    record: Record
    step: str
    reason: str
    failed: bool = False  # the step raised for it, rather than dropping it


Step = Callable[[list[Record]], list[Record]]
STEPS: dict[str, Step] = {}


def step(name: str) -> Callable[[Step], Step]:
    def register(function: Step) -> Step:
        STEPS[name] = function
        return function

    return register


class UnknownStep(ValueError):
    pass


class Pipeline:
    def __init__(self, names: Sequence[str]) -> None:
        unknown = [n for n in names if n not in STEPS]
        if unknown:
            raise UnknownStep(f"unknown step(s) {', '.join(unknown)}; known: {', '.join(STEPS)}")
        self.names = tuple(names)
        self._steps = [STEPS[n] for n in names]

    def __call__(self, records: list[Record]) -> tuple[list[Record], list[Rejected]]:
        """Run the steps; return the records that came through and those a step dropped."""
        rejected: list[Rejected] = []
        for name, function in zip(self.names, self._steps, strict=True):
            kept, failed = run_step(name, function, records)
            if len(kept) == len(records) and not failed:
                records = kept  # the step dropped nothing: nothing to look for
                continue
            gone = {r.key for r in kept} | {f.record.key for f in failed}
            rejected.extend(failed)
            rejected.extend(
                Rejected(r, name, str(r.notes.get("error", f"dropped by step {name}")))
                for r in records
                if r.key not in gone
            )
            records = kept
        return records, rejected


def run_step(
    name: str, function: Step, records: list[Record]
) -> tuple[list[Record], list[Rejected]]:
    """The step over the whole batch; if it raises, over each record alone to find the culprits."""
    try:
        return function(records), []
    except Exception:  # any step, any error: one poison record must not stop the batch
        pass
    kept: list[Record] = []
    failed: list[Rejected] = []
    for record in records:
        try:
            kept.extend(function([record]))
        except Exception as exc:
            failed.append(Rejected(record, name, f"{type(exc).__name__}: {exc}", failed=True))
    return kept, failed


@step("validate")
def validate(records: list[Record]) -> list[Record]:
    """Drop transactions whose values are not of their kind (amount, currency, card...);
    the pipeline sends them to the dead-letter topic with the reason."""
    valid = []
    for record in records:
        try:
            record.transaction.check()
        except InvalidTransaction as exc:
            record.notes["error"] = str(exc)
            continue
        valid.append(record)
    return valid


# Rough rates, good enough for a demo: what matters is that the step does some work.
EUR_PER_UNIT = {
    "EUR": Decimal("1"),
    "USD": Decimal("0.92"),
    "GBP": Decimal("1.17"),
    "JPY": Decimal("0.0061"),
    "CHF": Decimal("1.04"),
    "CAD": Decimal("0.67"),
    "AUD": Decimal("0.60"),
    "SEK": Decimal("0.087"),
    "BRL": Decimal("0.17"),
    "INR": Decimal("0.011"),
}

CENT = Decimal("0.01")
RISK_CAP, ONE = Decimal(2_000), Decimal(1)  # an amount in euros scoring 1, the most


@step("enrich")
def enrich(records: list[Record]) -> list[Record]:
    """Add the amount in euros."""
    for record in records:
        t = record.transaction
        rate = EUR_PER_UNIT.get(t.currency)
        record.notes["amount_eur"] = (
            None if rate is None else (Decimal(t.amount) * rate).quantize(CENT)
        )
    return records


@step("score")
def score(records: list[Record]) -> list[Record]:
    """A toy risk score in [0, 1]: large amounts score higher."""
    for record in records:
        amount = record.notes.get("amount_eur")
        if amount is None:  # not `or`: 0.00 EUR is an amount
            amount = Decimal(record.transaction.amount)
        assert isinstance(amount, Decimal)
        record.notes["risk"] = float(min(amount / RISK_CAP, ONE))
    return records


@step("log")
def sink_log(records: list[Record]) -> list[Record]:
    """The sink: one DEBUG line per transaction (LOG_LEVEL=DEBUG shows them)."""
    if log.isEnabledFor(logging.DEBUG):
        for record in records:
            t = record.transaction
            log.debug(
                "💳 %s %s %s risk=%s",
                t.transaction_id,
                t.amount,
                t.currency,
                record.notes.get("risk"),
                extra={
                    "event": "transaction_processed",
                    "transaction_id": t.transaction_id,
                    "partition": record.partition,
                    "offset": record.offset,
                },
            )
    return records

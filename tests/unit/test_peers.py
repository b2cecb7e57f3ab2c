"""The peers in `make bench` do our consumer's work: bench.peers.work (standard library only, so
that every peer's environment runs it) accepts, rejects and computes exactly as the playground's
own transaction and pipeline code, payload by payload."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

import pytest

from bench.peers.work import process
from consumer.pipeline import Pipeline, Record
from playground.transaction import InvalidTransaction, Transaction, TransactionFactory

GOOD = asdict(TransactionFactory(seed=3)())
BROKEN: list[Any] = [
    [],
    "a string",
    {k: v for k, v in GOOD.items() if k != "payer"},  # a field missing
    {**GOOD, "amount": 12.5},  # not a string
    {**GOOD, "amount": "12.5"},  # not 2 decimals
    {**GOOD, "amount": "-1.00"},
    {**GOOD, "amount": "0.00"},
    {**GOOD, "amount": "ten"},
    {**GOOD, "amount": "NaN"},
    {**GOOD, "currency": "XXX"},
    {**GOOD, "card_network": "diners"},
    {**GOOD, "card_last4": "12a4"},
    {**GOOD, "card_last4": "12345"},
    {**GOOD, "country": "de"},
    {**GOOD, "country": "DEU"},
    {**GOOD, "created_at": "2026-01-01T00:00:00"},  # no time zone
    {**GOOD, "created_at": "yesterday"},
    {**GOOD, "extra": "fields are allowed"},
]


def ours(value: Any) -> dict[str, object] | None:
    """What our consumer's validate,enrich,score makes of one decoded value."""
    try:
        transaction = Transaction.from_json(json.dumps(value).encode())
    except InvalidTransaction:
        return None
    kept, _ = Pipeline(["validate", "enrich", "score"])([Record(0, 0, transaction)])
    if not kept:
        return None
    return {"amount_eur": kept[0].notes["amount_eur"], "risk": kept[0].notes["risk"]}


def theirs(value: Any) -> dict[str, object] | None:
    done = process(value)
    return None if done is None else {"amount_eur": done["amount_eur"], "risk": done["risk"]}


@pytest.mark.parametrize("value", BROKEN, ids=range(len(BROKEN)))
def test_the_peers_reject_and_accept_what_we_do(value: Any) -> None:
    assert theirs(value) == ours(value)


def test_the_peers_compute_what_we_do() -> None:
    make = TransactionFactory(seed=11)
    for _ in range(2000):
        value = asdict(make())
        assert theirs(value) == ours(value) is not None

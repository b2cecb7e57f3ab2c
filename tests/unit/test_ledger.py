"""The chaos ledger: the balance counts what a user expects."""

from __future__ import annotations

from collections import Counter

from chaos import ledger
from chaos.drills import OutputCheck
from chaos.ledger import Ledger


def test_balance_counts_lost_and_repeats_of_what_was_sent_only() -> None:
    sent = [(0, 0), (0, 1), (1, 0), (1, 1)]
    processed = Counter({(0, 0): 1, (0, 1): 3, (1, 0): 2, (9, 9): 5})  # (9, 9): not ours
    assert ledger.balance(sent, processed) == Ledger(sent=4, lost=1, duplicates=3)


def test_outputs_balance_per_guarantee() -> None:
    """Exactly-once allows no duplicate output; at-least-once its faults' batches in flight;
    neither a lost one."""

    def check(guarantee: str, lost: int, duplicates: int, allowed: int) -> bool:
        return OutputCheck(guarantee, guarantee, Ledger(100, lost, duplicates), allowed, 0).ok

    assert check("exactly-once", 0, 0, 0)
    assert not check("exactly-once", 0, 1, 0)
    assert not check("exactly-once", 1, 0, 0)
    assert check("at-least-once", 0, 150, 200)
    assert not check("at-least-once", 0, 201, 200)
    assert not check("at-least-once", 1, 0, 200)

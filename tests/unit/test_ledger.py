"""The chaos ledger: the balance counts what a user expects."""

from __future__ import annotations

from collections import Counter

from chaos import ledger
from chaos.ledger import Ledger


def test_balance_counts_lost_and_repeats_of_what_was_sent_only() -> None:
    sent = [(0, 0), (0, 1), (1, 0), (1, 1)]
    processed = Counter({(0, 0): 1, (0, 1): 3, (1, 0): 2, (9, 9): 5})  # (9, 9): not ours
    assert ledger.balance(sent, processed) == Ledger(sent=4, lost=1, duplicates=3)

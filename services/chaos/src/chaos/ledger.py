"""The ledger: what Kafka acknowledged against what the consumers processed.

Both sides come from the services' own log records, JSON or text (read by playground.records):
the producer's `transaction_sent` delivery reports and the consumers' `batch_processed`
records. Pure: the drills feed it, unit tests check it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from playground.records import Position


@dataclass(frozen=True)
class Ledger:
    sent: int  # transactions Kafka acknowledged
    lost: int  # acknowledged, never processed
    duplicates: int  # processings beyond the first

    def __str__(self) -> str:
        return f"messages={self.sent} lost={self.lost} duplicates={self.duplicates}"


def balance(sent: Iterable[Position], processed: Counter[Position]) -> Ledger:
    """The ledger of `sent` positions against how often each position was processed."""
    wanted = set(sent)
    return Ledger(
        sent=len(wanted),
        lost=sum(1 for p in wanted if not processed[p]),
        duplicates=sum(processed[p] - 1 for p in wanted if processed[p] > 1),
    )

"""What our consumer's `validate,enrich,score` does to one transaction, in the standard library
only, so that every peer's environment runs the same work (the rules of
playground.transaction.Transaction.from_json and .check, and of consumer.pipeline's enrich and
score). tests/unit/test_peers.py holds it to the playground's own code, payload by payload.

A peer decodes each message its own idiomatic way, hands the decoded value to `process`, counts
with a Tally and commits every `settings().batch` messages.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

FIELDS = (
    "transaction_id",
    "account_id",
    "amount",
    "currency",
    "payer",
    "merchant",
    "card_network",
    "card_last4",
    "country",
    "created_at",
)
CARD_NETWORKS = frozenset({"visa", "mastercard", "amex", "discover", "jcb", "unionpay"})
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
RISK_CAP = Decimal(2000)


def process(value: object) -> dict[str, object] | None:
    """The transaction with `amount_eur` and `risk` added; None where our consumer would
    dead-letter it (not an object, a field missing or not a string, a value not of its kind)."""
    if not isinstance(value, dict) or not all(isinstance(value.get(n), str) for n in FIELDS):
        return None
    try:
        amount = Decimal(value["amount"])
        two_decimals = amount > 0 and amount.as_tuple().exponent == -2  # NaN raises here
        created = datetime.fromisoformat(value["created_at"])
    except (InvalidOperation, ValueError):
        return None
    last4, country = value["card_last4"], value["country"]
    rate = EUR_PER_UNIT.get(value["currency"])
    if (
        rate is None
        or not two_decimals
        or value["card_network"] not in CARD_NETWORKS
        or not (len(last4) == 4 and last4.isdigit())
        or not (len(country) == 2 and country.isupper())
        or created.utcoffset() is None
    ):
        return None
    amount_eur = (amount * rate).quantize(CENT)
    return {
        **value,
        "amount_eur": amount_eur,
        "risk": float(min(amount_eur / RISK_CAP, Decimal(1))),
    }


@dataclass(frozen=True)
class Settings:
    bootstrap_servers: str
    topic: str
    group_id: str
    batch: int  # messages per commit
    messages: int  # stop once this many are processed ...
    budget_s: float  # ... or this long after the first


def settings() -> Settings:
    """What `bench.peers.run` passes every peer, in its environment."""
    env = os.environ
    return Settings(
        env["PEER_BOOTSTRAP_SERVERS"],
        env["PEER_TOPIC"],
        env["PEER_GROUP_ID"],
        int(env["PEER_BATCH"]),
        int(env["PEER_MESSAGES"]),
        float(env["PEER_BUDGET_S"]),
    )


class Tally:
    """Messages processed, from the first one received to the last one committed."""

    def __init__(self, s: Settings) -> None:
        self.settings = s
        self.messages = 0
        self.valid = 0
        self.first = 0.0
        self.last = 0.0

    def started(self) -> None:
        if not self.first:
            self.first = time.time()

    def processed(self, count: int, valid: int) -> None:
        """`count` messages processed and committed, `valid` of them transactions."""
        self.messages += count
        self.valid += valid
        self.last = time.time()

    def done(self) -> bool:
        s = self.settings
        return self.messages >= s.messages or bool(
            self.first and time.time() - self.first >= s.budget_s
        )

    def report(self) -> None:
        """The figures, as one JSON line on stdout (the runner reads the last line)."""
        print(
            json.dumps(
                {
                    "messages": self.messages,
                    "valid": self.valid,
                    "first": self.first,
                    "last": self.last,
                }
            ),
            flush=True,
        )

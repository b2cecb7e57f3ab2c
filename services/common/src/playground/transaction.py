"""The payment transaction: what the producer sends and the consumers process.

On the wire it is a JSON object (UTF-8); the message key is the payer's account id, so all of
one account's transactions land on one partition, in order, while many accounts spread the
load evenly over the partitions.
"""

from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

import msgspec
from faker import Faker

CARD_NETWORKS = ("visa", "mastercard", "amex", "discover", "jcb", "unionpay")
# A small set keeps the demo data readable; validation accepts exactly these.
CURRENCIES = ("EUR", "USD", "GBP", "JPY", "CHF", "CAD", "AUD", "SEK", "BRL", "INR")
ACCOUNTS = 1_000


class InvalidTransaction(ValueError):
    """The bytes are not a transaction this playground understands."""


@dataclass(frozen=True)
class Transaction:
    transaction_id: str
    account_id: str
    amount: str
    currency: str
    payer: str
    merchant: str
    card_network: str
    card_last4: str
    country: str
    created_at: str

    @property
    def key(self) -> bytes:
        return self.account_id.encode()

    def to_json(self) -> bytes:
        """The wire form: what `json.dumps(vars(self), separators=(",", ":"))` writes, byte for
        byte (non-ASCII escaped as \\uXXXX).

        msgspec writes it six times faster, and the same bytes wherever its output is ASCII
        without DEL: it writes other characters as UTF-8 (and DEL raw) where json escapes them,
        and refuses lone surrogates. Those rare transactions go through json itself.
        """
        try:
            raw = _ENCODER.encode(self)
            if raw.isascii() and b"\x7f" not in raw:
                return raw
        except UnicodeEncodeError:
            pass
        # vars(), not asdict(): every field is a str, so asdict's deep copy is pure cost.
        return json.dumps(vars(self), separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, raw: bytes | None) -> Transaction:
        """Parse the wire form: a JSON object with every field, each a string (others ignored).

        Whether the values make sense is `check`'s job (the consumer's `validate` step).
        msgspec decodes straight into the dataclass, checking that every field is there and a
        string, several times faster than json.loads and a dict; what it refuses goes through
        the standard library, which says exactly what is wrong (and takes anything json takes).
        """
        if raw is None:
            raise InvalidTransaction("empty value")
        try:
            return _DECODER.decode(raw)
        except msgspec.DecodeError:  # ValidationError included
            return cls._explain(raw)

    @classmethod
    def _explain(cls, raw: bytes) -> Transaction:
        try:
            data = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InvalidTransaction(f"not JSON: {exc}") from None
        if not isinstance(data, dict):
            raise InvalidTransaction("not a JSON object")
        try:
            values = {n: data[n] for n in FIELD_NAMES}
        except KeyError:
            missing = sorted(set(FIELD_NAMES) - data.keys())
            raise InvalidTransaction(f"missing fields: {', '.join(missing)}") from None
        wrong = sorted(n for n, v in values.items() if not isinstance(v, str))
        if wrong:
            raise InvalidTransaction(f"fields must be strings: {', '.join(wrong)}")
        return cls(**values)

    def check(self) -> None:
        """Raise InvalidTransaction unless every field holds a value of its kind."""
        problems = []
        try:
            amount = Decimal(self.amount)
            if amount <= 0 or amount.as_tuple().exponent != -2:
                problems.append(f"amount {self.amount!r} is not a positive 2-decimal number")
        except InvalidOperation:
            problems.append(f"amount {self.amount!r} is not a number")
        if self.currency not in CURRENCIES:
            problems.append(f"currency {self.currency!r} is not one of {', '.join(CURRENCIES)}")
        if self.card_network not in CARD_NETWORKS:
            problems.append(f"card_network {self.card_network!r} is unknown")
        if not (len(self.card_last4) == 4 and self.card_last4.isdigit()):
            problems.append(f"card_last4 {self.card_last4!r} is not 4 digits")
        if not (len(self.country) == 2 and self.country.isupper()):
            problems.append(f"country {self.country!r} is not an ISO 3166 alpha-2 code")
        try:
            if datetime.fromisoformat(self.created_at).utcoffset() is None:
                problems.append(f"created_at {self.created_at!r} has no time zone")
        except ValueError:
            problems.append(f"created_at {self.created_at!r} is not ISO-8601")
        if problems:
            raise InvalidTransaction("; ".join(problems))


# Computed once: dataclasses.fields() on every decode was a tenth of the consumer's time.
FIELD_NAMES = tuple(f.name for f in fields(Transaction))
_DECODER = msgspec.json.Decoder(Transaction)
_ENCODER = msgspec.json.Encoder()


class TransactionFactory:
    """Fake transactions; with a seed, the same sequence every run (but for `created_at`).

    Faker makes the names, companies, countries and card numbers once, into pools; each
    transaction then draws from them. Asking Faker for every field of every transaction caps a
    producer near 1,000 transactions/s (its weighted name lists dominate); drawing from pools
    costs microseconds, and a few thousand of each still read as varied demo data.
    """

    POOL = 500

    def __init__(self, seed: int | None = None) -> None:
        fake = Faker()
        if seed is not None:
            fake.seed_instance(seed)
        self._random = random.Random(seed)
        self._payers = [fake.name() for _ in range(self.POOL)]
        self._merchants = [fake.company() for _ in range(self.POOL)]
        self._countries = [fake.country_code() for _ in range(self.POOL)]
        # Only the last four digits: a full card number never leaves the card holder.
        self._cards_last4 = [fake.credit_card_number()[-4:] for _ in range(self.POOL)]

    def __call__(self) -> Transaction:
        r = self._random
        return Transaction(
            transaction_id=str(uuid.UUID(int=r.getrandbits(128), version=4)),
            account_id=f"acct-{r.randint(1, ACCOUNTS):04d}",
            amount=f"{r.randint(100, 200_000) / 100:.2f}",
            currency=r.choice(CURRENCIES),
            payer=r.choice(self._payers),
            merchant=r.choice(self._merchants),
            card_network=r.choice(CARD_NETWORKS),
            card_last4=r.choice(self._cards_last4),
            country=r.choice(self._countries),
            created_at=datetime.now(UTC).isoformat(timespec="milliseconds"),
        )

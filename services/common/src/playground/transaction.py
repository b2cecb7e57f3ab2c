"""The payment transaction: what the producer sends and the consumers process.

On the wire it is a JSON object (UTF-8); the message key is the payer's account id, so all of
one account's transactions land on one partition, in order, while many accounts spread the
load evenly over the partitions.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation

import msgspec

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
        if not _plain_positive_cents(self.amount):  # else what Decimal makes of it decides
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


def _plain_positive_cents(amount: str) -> bool:
    """ASCII digits, a dot, two digits, not all zeros (what the producer sends): an amount
    Decimal takes as positive with exponent -2, told apart at a fraction of its cost
    (Decimal and as_tuple were a third of `check`). Any other form goes through Decimal, which
    also takes "1.5e1", " 2.00", "1_000.00" and digits of other scripts."""
    return (
        len(amount) > 3
        and amount[-3] == "."
        and amount.isascii()
        and amount[:-3].isdigit()
        and amount[-2:].isdigit()
        and amount.strip("0.") != ""
    )


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

    A producer sending as fast as Kafka takes them spends most of its time here, so each field
    is drawn the cheap way: an index from one `random()` (not `choice`, which loops over
    `getrandbits`), the account ids made once, the UUID's text formatted from its 128 bits
    (not through a `uuid.UUID`), the timestamp's text made once per millisecond.
    """

    POOL = 500

    def __init__(self, seed: int | None = None) -> None:
        # Imported here: Faker takes a third of a second of CPU to import, and only the producer
        # (and tests) make transactions; every consumer imports this module.
        from faker import Faker

        fake = Faker()
        if seed is not None:
            fake.seed_instance(seed)
        self._random = random.Random(seed)
        self._accounts = tuple(f"acct-{n:04d}" for n in range(1, ACCOUNTS + 1))
        self._payers = tuple(fake.name() for _ in range(self.POOL))
        self._merchants = tuple(fake.company() for _ in range(self.POOL))
        self._countries = tuple(fake.country_code() for _ in range(self.POOL))
        # Only the last four digits: a full card number never leaves the card holder.
        self._cards_last4 = tuple(fake.credit_card_number()[-4:] for _ in range(self.POOL))
        self._ms = -1
        self._created_at = ""

    def __call__(self) -> Transaction:
        draw = self._random.random
        # uuid.UUID(int=..., version=4)'s text: version 4, RFC 4122 variant, the rest random.
        h = f"{self._random.getrandbits(128) & _UUID4_KEEP | _UUID4_SET:032x}"
        return Transaction(
            transaction_id=f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}",
            account_id=self._accounts[int(draw() * ACCOUNTS)],
            amount=f"{1 + draw() * 1999:.2f}",  # 1.00 to 2000.00
            currency=CURRENCIES[int(draw() * len(CURRENCIES))],
            payer=self._payers[int(draw() * self.POOL)],
            merchant=self._merchants[int(draw() * self.POOL)],
            card_network=CARD_NETWORKS[int(draw() * len(CARD_NETWORKS))],
            card_last4=self._cards_last4[int(draw() * self.POOL)],
            country=self._countries[int(draw() * self.POOL)],
            created_at=self._now(),
        )

    def _now(self) -> str:
        """datetime.now(UTC).isoformat(timespec="milliseconds"), made once per millisecond."""
        ms = time.time_ns() // 1_000_000
        if ms != self._ms:
            self._ms = ms
            self._created_at = (_EPOCH + timedelta(milliseconds=ms)).isoformat(
                timespec="milliseconds"
            )
        return self._created_at


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_UUID4_KEEP = ~(0xF000 << 64 | 0xC000 << 48)  # the version's 4 bits, the variant's 2
_UUID4_SET = 4 << 76 | 0x8000 << 48

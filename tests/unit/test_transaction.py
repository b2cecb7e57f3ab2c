"""Transaction generation and the wire format's validation."""

from __future__ import annotations

import json
import re
import time
import uuid
from dataclasses import asdict, replace
from datetime import UTC, datetime

import pytest

from playground.transaction import CURRENCIES, InvalidTransaction, Transaction, TransactionFactory


@pytest.fixture
def transaction() -> Transaction:
    return TransactionFactory(seed=7)()


def test_generated_transactions_are_valid_and_unique() -> None:
    make = TransactionFactory()
    batch = [make() for _ in range(500)]
    for t in batch:
        t.check()
        assert re.fullmatch(r"\d+\.\d{2}", t.amount)
        assert t.currency in CURRENCIES
        assert re.fullmatch(r"\d{4}", t.card_last4)
        assert t.created_at.endswith("+00:00")
        assert uuid.UUID(t.transaction_id).version == 4
        assert str(uuid.UUID(t.transaction_id)) == t.transaction_id
    assert len({t.transaction_id for t in batch}) == 500
    # The key spreads over many accounts, so it spreads over the partitions.
    assert len({t.key for t in batch}) > 300


def test_created_at_is_when_the_transaction_was_made() -> None:
    make, seen = TransactionFactory(), set[str]()
    deadline = time.monotonic() + 5
    while len(seen) < 3 and time.monotonic() < deadline:  # over a few milliseconds
        before = datetime.now(UTC).isoformat(timespec="milliseconds")
        created_at = make().created_at
        assert before <= created_at <= datetime.now(UTC).isoformat(timespec="milliseconds")
        seen.add(created_at)
    assert len(seen) == 3


def test_a_seed_gives_the_same_sequence_but_for_the_timestamps() -> None:
    def ids(seed: int) -> list[tuple[str, str, str]]:
        make = TransactionFactory(seed)
        return [(t.transaction_id, t.amount, t.payer) for t in (make() for _ in range(20))]

    assert ids(42) == ids(42)
    assert ids(42) != ids(43)


def test_round_trip_through_json(transaction: Transaction) -> None:
    assert Transaction.from_json(transaction.to_json()) == transaction


def test_no_full_card_number_is_ever_sent(transaction: Transaction) -> None:
    assert not re.search(rb"\d{12,}", transaction.to_json())


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (None, "empty value"),
        (b"\xff\xfe", "not JSON"),
        (b"{not json", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"transaction_id": "x"}', "missing fields: account_id, amount"),
    ],
)
def test_undecodable_values_say_why(raw: bytes | None, reason: str) -> None:
    with pytest.raises(InvalidTransaction, match=reason):
        Transaction.from_json(raw)


def test_fields_of_the_wrong_type_are_named(transaction: Transaction) -> None:
    data = asdict(transaction) | {"amount": 12.5, "card_last4": 1234}
    with pytest.raises(InvalidTransaction, match="must be strings: amount, card_last4"):
        Transaction.from_json(json.dumps(data).encode())


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("amount", "-3.00", "not a positive 2-decimal number"),
        ("amount", "3.5", "not a positive 2-decimal number"),
        ("amount", "lots", "not a number"),
        ("amount", "0.00", "not a positive 2-decimal number"),
        ("amount", "000.00", "not a positive 2-decimal number"),
        ("amount", "12.345", "not a positive 2-decimal number"),
        ("amount", "1.5e1", "not a positive 2-decimal number"),
        ("currency", "XXX", "currency 'XXX' is not one of"),
        ("card_network", "diners-club-of-mars", "unknown"),
        ("card_last4", "12345", "not 4 digits"),
        ("country", "france", "not an ISO 3166"),
        ("created_at", "yesterday", "not ISO-8601"),
        ("created_at", "2026-01-01T10:00:00", "no time zone"),
    ],
)
def test_check_names_each_bad_value(
    transaction: Transaction, field: str, value: str, reason: str
) -> None:
    with pytest.raises(InvalidTransaction, match=reason):
        replace(transaction, **{field: value}).check()


# Every form Decimal takes as positive with two decimals, the producer's and others alike
# (the last: 3.00 in Arabic-Indic digits).
@pytest.mark.parametrize(
    "amount",
    ["0.01", "10.00", "007.50", ".50", "150e-2", " 2.00", "1_000.00", "\u0663.\u0660\u0660"],
)
def test_check_takes_every_positive_two_decimal_amount(
    transaction: Transaction, amount: str
) -> None:
    replace(transaction, amount=amount).check()


# ---- the wire format, byte for byte ----
GOLDEN = Transaction(
    transaction_id="1f0c3b9e-3a51-4c7e-9b1a-6f1d2a7c9e10",
    account_id="acct-0042",
    amount="1234.50",
    currency="EUR",
    payer='Zoë "Zed" O\'Brien',
    merchant="Müller & Söhne\\GmbH",
    card_network="visa",
    card_last4="0042",
    country="DE",
    created_at="2026-11-29T12:00:00.123+00:00",
)
GOLDEN_BYTES = (
    b'{"transaction_id":"1f0c3b9e-3a51-4c7e-9b1a-6f1d2a7c9e10","account_id":"acct-0042",'
    b'"amount":"1234.50","currency":"EUR","payer":"Zo\\u00eb \\"Zed\\" O\'Brien",'
    b'"merchant":"M\\u00fcller & S\\u00f6hne\\\\GmbH","card_network":"visa","card_last4":"0042",'
    b'"country":"DE","created_at":"2026-11-29T12:00:00.123+00:00"}'
)


def test_the_wire_format_is_the_seeds_json_byte_for_byte() -> None:
    assert GOLDEN.to_json() == GOLDEN_BYTES
    assert Transaction.from_json(GOLDEN_BYTES) == GOLDEN


def test_every_character_is_written_as_the_standard_library_writes_it() -> None:
    # Every code point, lone surrogates included, 128 to a transaction (ASCII on its own): to_json's
    # fast encoder must hand each one it would write differently to json.
    for start in range(0, 0x110000, 128):
        text = "".join(map(chr, range(start, start + 128)))
        t = replace(GOLDEN, payer=text, merchant=text[::-1])
        assert t.to_json() == json.dumps(vars(t), separators=(",", ":")).encode(), hex(start)


@pytest.mark.parametrize(
    "raw",
    [
        GOLDEN_BYTES,
        GOLDEN_BYTES.replace(b"{", b'{"extra": [1, {"x": null}], ', 1),  # unknown fields
        GOLDEN_BYTES.replace(b'"DE"', b'"DE" ', 1).replace(b",", b" ,\n "),  # whitespace
        GOLDEN_BYTES.replace(b'"country":"DE"', b'"country":"FR","country":"DE"'),  # repeated
        json.dumps(asdict(GOLDEN), ensure_ascii=False).encode(),  # raw UTF-8
        json.dumps(asdict(GOLDEN)).encode("utf-16"),  # json.loads detects UTF-16 too
    ],
    ids=["golden", "unknown-fields", "whitespace", "repeated-key", "utf-8", "utf-16"],
)
def test_the_fast_decoder_takes_what_the_standard_library_takes(raw: bytes) -> None:
    assert Transaction.from_json(raw) == Transaction._explain(raw) == GOLDEN

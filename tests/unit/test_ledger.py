"""The chaos ledger: both log formats read alike, and the balance counts what a user expects."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime

from chaos import ledger
from chaos.ledger import Ledger
from chaos.playground import LogReader


def test_a_delivery_report_reads_the_same_from_json_and_text() -> None:
    as_json = json.dumps(
        {"event": "transaction_sent", "transaction_id": "tx-1", "partition": 2, "offset": 41}
    )
    as_text = "12:00:01 ✅ Sent transaction tx-1 (partition 2, offset 41)"
    assert ledger.sent(as_json) == ledger.sent(as_text) == ((2, 41), "tx-1")


def test_a_batch_covers_every_offset_of_its_ranges_in_either_format() -> None:
    as_json = json.dumps({"event": "batch_processed", "offsets": {"0": [7, 9], "2": [3, 3]}})
    as_text = "12:00:01 [client 🟣 BRAVO] Received batch of 4 transactions (p0@7-9 p2@3)"
    expected = [(0, 7), (0, 8), (0, 9), (2, 3)]
    assert ledger.processed(as_json) == ledger.processed(as_text) == expected


def test_other_lines_are_neither_sent_nor_processed() -> None:
    for line in (
        json.dumps({"event": "offsets_committed", "offsets": {"0": 10}}),
        "12:00:01 [client 🟣 BRAVO] 💾 Committed offsets p0→10",
        "not a log line at all {",
        "{broken json",
    ):
        assert ledger.sent(line) is None
        assert ledger.processed(line) == []


def test_events_are_named_in_both_formats() -> None:
    assert ledger.event(json.dumps({"event": "partitions_lost"})) == "partitions_lost"
    assert ledger.event("12:00 [client 🟣 BRAVO] 💥 Partitions lost: [0] (now owns [])") == (
        "partitions_lost"
    )
    assert ledger.event("12:00 [client 🟣 BRAVO] ⚠️ Commit failed: Broker: Unknown member") == (
        "commit_failed"
    )
    assert ledger.event("12:00 [client 🟣 BRAVO] Received batch of 1 transaction (p0@1)") is None


def test_balance_counts_lost_and_repeats_of_what_was_sent_only() -> None:
    sent = [(0, 0), (0, 1), (1, 0), (1, 1)]
    processed = Counter({(0, 0): 1, (0, 1): 3, (1, 0): 2, (9, 9): 5})  # (9, 9): not ours
    assert ledger.balance(sent, processed) == Ledger(sent=4, lost=1, duplicates=3)


MIDNIGHT = int(datetime(2026, 11, 29, tzinfo=UTC).timestamp())


class FakeLog:
    """A container's log as Docker serves it: stamped lines, `since` in whole seconds."""

    def __init__(self) -> None:
        self.lines: list[tuple[int, str]] = []

    def write(self, second: int, text: str) -> None:
        self.lines.append((second, text))

    def logs(self, *, timestamps: bool, since: int, stdout: bool, stderr: bool) -> bytes:
        stamp = "2026-11-29T00:00:{:02d}.{:09d}Z"
        return "".join(
            f"{stamp.format(s, i)} {text}\n"
            for i, (s, text) in enumerate(self.lines)
            if MIDNIGHT + s >= since
        ).encode()


def test_the_log_reader_returns_each_line_once_across_reads_in_the_same_second() -> None:
    log = FakeLog()
    reader = LogReader(log, datetime(2026, 11, 29, tzinfo=UTC))
    log.write(1, "a")
    log.write(2, "b")
    assert reader.read() == ["a", "b"]
    log.write(2, "c")  # same second as the last line read: Docker serves "b" again
    log.write(3, "d")
    assert reader.read() == ["c", "d"]
    assert reader.read() == []

"""The ledger: what Kafka acknowledged against what the consumers processed.

Both sides come from the services' own log lines, JSON or text (see "Log contract" in the
README): the producer's `transaction_sent` delivery reports and the consumers'
`batch_processed` records. Pure functions: the drills feed them, unit tests check them.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

Position = tuple[int, int]  # (partition, offset)

# Text lines carry the same facts as the JSON records, for playgrounds run with LOG_FORMAT=text.
TEXT_SENT = re.compile(r"Sent transaction (?P<id>\S+) \(partition (?P<p>\d+), offset (?P<o>\d+)\)")
TEXT_BATCH = re.compile(r"Received batch of \d+ transactions? \((?P<ranges>[^)]*)\)")
TEXT_RANGE = re.compile(r"p(?P<p>\d+)@(?P<first>\d+)(?:-(?P<last>\d+))?")
TEXT_EVENTS = {
    "Partitions lost:": "partitions_lost",
    "Commit failed": "commit_failed",
    "Fetching paused": "fetch_paused",
}


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


def record(line: str) -> dict[str, Any] | None:
    """The JSON record a log line holds, else None."""
    if not line.startswith("{"):
        return None
    try:
        parsed = json.loads(line)
    except json.JSONDecodeError:
        return None
    return parsed if isinstance(parsed, dict) else None


def sent(line: str) -> tuple[Position, str] | None:
    """(partition, offset) and transaction id of a delivery report line, else None."""
    r = record(line)
    if r is not None:
        if r.get("event") != "transaction_sent":
            return None
        return (int(r["partition"]), int(r["offset"])), str(r["transaction_id"])
    match = TEXT_SENT.search(line)
    if match is None:
        return None
    return (int(match["p"]), int(match["o"])), match["id"]


def processed(line: str) -> list[Position]:
    """Every position a batch_processed line covers (none for other lines)."""
    r = record(line)
    if r is not None:
        if r.get("event") != "batch_processed":
            return []
        spans = [(int(p), int(first), int(last)) for p, (first, last) in r["offsets"].items()]
    else:
        match = TEXT_BATCH.search(line)
        if match is None:
            return []
        spans = [
            (int(m["p"]), int(m["first"]), int(m["last"] or m["first"]))
            for m in TEXT_RANGE.finditer(match["ranges"])
        ]
    return [(p, o) for p, first, last in spans for o in range(first, last + 1)]


def event(line: str) -> str | None:
    """The event name of a line (JSON records; a few text lines the drills look for)."""
    r = record(line)
    if r is not None:
        name = r.get("event")
        return str(name) if name is not None else None
    return next((name for marker, name in TEXT_EVENTS.items() if marker in line), None)

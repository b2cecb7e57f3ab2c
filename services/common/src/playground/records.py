"""The services' log lines read back into records: the one reader the host tools and tests use.

A JSON line (LOG_FORMAT=json) is the record itself: the event and its fields, see "Log contract"
in docs/reference.md. A text line (LOG_FORMAT=text, the playground's default) is read for the few
records the tools need from a text-format playground; TEXT_LINES turns each back into the
fields its JSON record has, under the same names. tests/unit/test_records.py prints every one
through the services' own logging calls in both formats and checks that both read alike, so
the patterns cannot drift from the code that prints them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

Record = dict[str, Any]
Position = tuple[int, int]  # (partition, offset)


def _numbers(text: str) -> list[int]:
    return [int(n) for n in re.findall(r"\d+", text)]


def _ranges(text: str) -> dict[str, list[int]]:
    """ "p0@7-9 p2@3" -> {"0": [7, 9], "2": [3, 3]}, as batch_processed's JSON `offsets`."""
    return {
        m["p"]: [int(m["first"]), int(m["last"] or m["first"])]
        for m in re.finditer(r"p(?P<p>\d+)@(?P<first>\d+)(?:-(?P<last>\d+))?", text)
    }


ACKS = {"Accepted": "accept", "Released": "release", "Rejected": "reject"}

TEXT_LINES: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], Record]], ...] = (
    (
        re.compile(r"Sent transaction (?P<id>\S+) \(partition (?P<p>\d+), offset (?P<o>\d+)\)"),
        lambda m: {
            "event": "transaction_sent",
            "transaction_id": m["id"],
            "partition": int(m["p"]),
            "offset": int(m["o"]),
        },
    ),
    (
        re.compile(r"Received batch of (?P<count>\d+) transactions? \((?P<ranges>[^)]*)\)"),
        lambda m: {
            "event": "batch_processed",
            "count": int(m["count"]),
            "offsets": _ranges(m["ranges"]),
        },
    ),
    (
        re.compile(
            r"Partitions (?P<what>assigned|revoked|lost): \[(?P<moved>[\d, ]*)\] "
            r"\(now owns \[(?P<owned>[\d, ]*)\]\)"
        ),
        lambda m: {
            "event": f"partitions_{m['what']}",
            "partitions": _numbers(m["moved"]),
            "owned": _numbers(m["owned"]),
        },
    ),
    (
        re.compile(r"Commit failed(?: for partition (?P<p>\d+))?: (?P<error>.*)$"),
        lambda m: {
            "event": "commit_failed",
            "error": m["error"],
            **({"partition": int(m["p"])} if m["p"] else {}),
        },
    ),
    (re.compile(r"Fetching paused"), lambda m: {"event": "fetch_paused"}),
    (
        re.compile(
            r"(?P<ack>Accepted|Released|Rejected) p(?P<p>\d+)@(?P<o>\d+) \(delivery (?P<n>\d+)\)"
        ),
        lambda m: {
            "event": "record_acknowledged",
            "ack": ACKS[m["ack"]],
            "partition": int(m["p"]),
            "offset": int(m["o"]),
            "delivery_count": int(m["n"]),
        },
    ),
    (
        re.compile(
            r"Acknowledgements not committed(?: for partition (?P<p>\d+))?: (?P<error>.*?);"
        ),
        lambda m: {
            "event": "acknowledgement_failed",
            "error": m["error"],
            **({"partition": int(m["p"])} if m["p"] else {}),
        },
    ),
)


def record(line: str) -> Record | None:
    """The record a log line holds: its JSON object, or for a text line in TEXT_LINES, the
    same facts under the JSON names. None for any other line."""
    if line.startswith("{"):
        try:
            parsed = json.loads(line)
        except json.JSONDecodeError:
            return None
        return parsed if isinstance(parsed, dict) else None
    for pattern, read in TEXT_LINES:
        if match := pattern.search(line):
            return read(match)
    return None


def records(lines: Iterable[str]) -> Iterator[Record]:
    """The records among log lines."""
    return (r for line in lines if (r := record(line)) is not None)


def positions(offsets: Mapping[str, Sequence[int]]) -> list[Position]:
    """Every (partition, offset) of batch_processed's `offsets`, {partition: [first, last]}."""
    return [(int(p), o) for p, (first, last) in offsets.items() for o in range(first, last + 1)]

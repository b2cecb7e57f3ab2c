"""The chaos drills' ledger as a feed: `make chaos` publishes each row to `<topic>.ledger` as it
balances it, and the web page shows them as they come (read with assign(), never joining a
group). One JSON object per message, keyed by the run: the time the drills started."""

from __future__ import annotations

import json
from typing import Any

Row = dict[str, Any]


def topic_for(topic: str) -> str:
    return f"{topic}.ledger"


def encode(row: Row) -> bytes:
    return json.dumps(row, separators=(",", ":")).encode()


def decode(raw: bytes | None) -> Row | None:
    """A row, or None for anything else (a foreign message on the topic)."""
    try:
        row = json.loads(raw or b"")
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    return row if isinstance(row, dict) and isinstance(row.get("run"), str) else None


def latest_run(rows: list[Row]) -> list[Row]:
    """The rows of the last run among `rows` (in the order they were published)."""
    if not rows:
        return []
    run = rows[-1]["run"]
    return [r for r in rows if r["run"] == run]

"""Logging for people (text, seed-like) or for tools (one JSON object per line).

Every service logs through the standard `logging` module. Records that matter to tests and
tools carry `extra={"event": ..., ...}`; the JSON format writes those fields at the top level.
See "Log contract" in docs/reference.md.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping

from pythonjsonlogger.json import JsonFormatter

from playground.settings import LogSettings

TEXT_FORMAT = "%(asctime)s {tag}%(message)s"
TEXT_DATEFMT = "%H:%M:%S"
JSON_FIELDS = "%(levelname)s %(name)s %(message)s"

# Seed-style marks so the clients are told apart at a glance, in `docker compose logs` as in
# `make watch`: bravo and zulu have their own, any other client a fixed one of the rest.
MARKS = {"bravo": "🟣", "zulu": "🔵"}
OTHER_MARKS = ("🟢", "🟠", "🟡", "🔴", "🟤", "⚪")


def mark(client: str) -> str:
    return MARKS.get(client) or OTHER_MARKS[sum(client.encode()) % len(OTHER_MARKS)]


def tag(client: str) -> str:
    """The prefix of a client's text log lines, e.g. "[client 🟣 BRAVO] "."""
    return f"[client {mark(client)} {client.upper()}] "


def configure(
    settings: LogSettings, *, tag: str = "", static: Mapping[str, object] | None = None
) -> None:
    """Log to stdout in the chosen format.

    `tag` prefixes every text line (e.g. "[client 🟣 BRAVO] "); `static` fields are added to
    every JSON record (e.g. client and group id).
    """
    handler = logging.StreamHandler(sys.stdout)
    if settings.format == "json":
        handler.setFormatter(
            JsonFormatter(
                JSON_FIELDS,
                rename_fields={"levelname": "level", "name": "logger"},
                static_fields=dict(static or {}),
                timestamp=True,  # ISO-8601, UTC
            )
        )
    else:
        handler.setFormatter(
            logging.Formatter(TEXT_FORMAT.format(tag=tag.replace("%", "%%")), TEXT_DATEFMT)
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.level)

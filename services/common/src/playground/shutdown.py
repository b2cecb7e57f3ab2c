"""Graceful stop on SIGTERM (docker stop) and SIGINT (Ctrl+C)."""

from __future__ import annotations

import signal
import threading
from types import FrameType


class StopFlag:
    """Set by SIGTERM/SIGINT; the main loop checks it and winds down by itself.

    The handler only sets the flag: no I/O and no Kafka calls happen inside a signal handler.
    """

    def __init__(self) -> None:
        self._event = threading.Event()

    def install(self) -> StopFlag:
        signal.signal(signal.SIGTERM, self._handle)
        signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self._event.set()

    def set(self) -> None:
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout_s: float) -> bool:
        """Block until set or `timeout_s` passed; whether it is set."""
        return self._event.wait(timeout_s)

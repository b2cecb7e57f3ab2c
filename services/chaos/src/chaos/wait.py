"""Waiting for a condition with a deadline: what the drills, the bench and the e2e tests do
instead of sleeping for a guessed time."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class TimedOut(AssertionError):
    """The condition did not hold before the deadline. An AssertionError, so that a test
    waiting through this fails (rather than errors) with what it waited for."""


def wait_until(
    check: Callable[[], T | None], timeout_s: float, what: str, every_s: float = 0.5
) -> T:
    """Call `check` every `every_s` until it returns something truthy, and return that."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimedOut(f"timed out after {timeout_s:g} s waiting for {what}")
        time.sleep(every_s)

"""The batching rule: a batch is ready when it holds `size` messages or when `max_wait_s`
has passed since its first message, whichever comes first. Never empty."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Batch(Generic[T]):
    def __init__(
        self, size: int, max_wait_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.size = size
        self.max_wait_s = max_wait_s
        self._clock = clock
        self._items: list[T] = []
        self._started = 0.0

    def __len__(self) -> int:
        return len(self._items)

    def add(self, item: T) -> None:
        if not self._items:
            self._started = self._clock()
        self._items.append(item)

    def room(self) -> int:
        """How many more items fit before the size trigger fires."""
        return max(self.size - len(self._items), 0)

    def time_left(self) -> float | None:
        """Seconds until the time trigger fires; None while the batch is empty."""
        if not self._items:
            return None
        return max(self._started + self.max_wait_s - self._clock(), 0.0)

    def ready(self) -> bool:
        return bool(self._items) and (self.room() == 0 or self.time_left() == 0.0)

    def take(self) -> list[T]:
        items, self._items = self._items, []
        return items

    def drop(self, unwanted: Callable[[T], bool]) -> int:
        """Remove the items `unwanted` picks (e.g. from lost partitions); return how many."""
        kept = [item for item in self._items if not unwanted(item)]
        dropped = len(self._items) - len(kept)
        self._items = kept
        return dropped

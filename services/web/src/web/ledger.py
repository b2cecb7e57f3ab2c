"""The chaos drills' ledger rows, read from `<topic>.ledger` as `make chaos` publishes them.

Read with assign() from the beginning: the page never joins a group and never commits. The
topic appears only once `make chaos` has run, so it is looked for every LOOK_AGAIN_S until then.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from playground import ledgerfeed
from playground.ledgerfeed import Row

LOOK_AGAIN_S = 5.0
KEEP = 1000  # rows kept: a run publishes a few dozen


class LedgerRows:
    def __init__(self, connect: Callable[[], Consumer], topic: str) -> None:
        self.connect = connect
        self.topic = ledgerfeed.topic_for(topic)
        self.consumer: Consumer | None = None
        self.assigned = False
        self.next_look = 0.0
        self.rows: list[Row] = []

    def latest(self) -> list[Row]:
        """The rows of the latest run so far (none before `make chaos` first ran)."""
        if self.consumer is None:
            self.consumer = self.connect()
        if not self.assigned and time.monotonic() >= self.next_look:
            self.next_look = time.monotonic() + LOOK_AGAIN_S
            found = self.consumer.list_topics(self.topic, timeout=5).topics.get(self.topic)
            if found is not None and found.error is None and found.partitions:
                self.consumer.assign([TopicPartition(self.topic, 0, OFFSET_BEGINNING)])
                self.assigned = True
        if self.assigned:
            for message in self.consumer.consume(500, timeout=0):
                if message.error() is None and (row := ledgerfeed.decode(message.value())):
                    self.rows.append(row)
            del self.rows[:-KEEP]
        return ledgerfeed.latest_run(self.rows)

"""kafka-python: `poll` up to `batch` records (values decoded by json.loads), our work on each,
then one synchronous `commit()` of what was polled."""

from __future__ import annotations

import json

from kafka import KafkaConsumer

from bench.peers.work import Tally, process, settings


def main() -> None:
    s = settings()
    tally = Tally(s)
    consumer = KafkaConsumer(
        s.topic,
        bootstrap_servers=s.bootstrap_servers,
        group_id=s.group_id,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_poll_records=s.batch,
        value_deserializer=json.loads,
    )
    while not tally.done():
        fetched = consumer.poll(timeout_ms=1000, max_records=s.batch)
        records = [r for rs in fetched.values() for r in rs]
        if not records:
            continue
        tally.started()
        valid = sum(process(r.value) is not None for r in records)
        consumer.commit()
        tally.processed(len(records), valid)
    consumer.close()
    tally.report()


if __name__ == "__main__":
    main()

"""aiokafka: `getmany` up to `batch` records (values decoded by json.loads), our work on each,
then one `commit()` of what was fetched."""

from __future__ import annotations

import asyncio
import json

from aiokafka import AIOKafkaConsumer

from bench.peers.work import Tally, process, settings


async def consume() -> None:
    s = settings()
    tally = Tally(s)
    consumer = AIOKafkaConsumer(
        s.topic,
        bootstrap_servers=s.bootstrap_servers,
        group_id=s.group_id,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_poll_records=s.batch,
        value_deserializer=json.loads,
    )
    await consumer.start()
    try:
        while not tally.done():
            fetched = await consumer.getmany(timeout_ms=1000, max_records=s.batch)
            records = [r for rs in fetched.values() for r in rs]
            if not records:
                continue
            tally.started()
            valid = sum(process(r.value) is not None for r in records)
            await consumer.commit()
            tally.processed(len(records), valid)
    finally:
        await consumer.stop()
    tally.report()


def main() -> None:
    asyncio.run(consume())


if __name__ == "__main__":
    main()

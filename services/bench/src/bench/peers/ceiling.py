"""The ceiling for any Python client here: confluent-kafka (the workspace's version) consuming
batches and committing each synchronously, decoding nothing."""

from __future__ import annotations

from confluent_kafka import Consumer

from bench.peers.work import Tally, settings


def main() -> None:
    s = settings()
    tally = Tally(s)
    consumer = Consumer(
        {
            "bootstrap.servers": s.bootstrap_servers,
            "group.id": s.group_id,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([s.topic])
    while not tally.done():
        messages = consumer.consume(num_messages=s.batch, timeout=1.0)
        if messages:
            tally.started()
            consumer.commit(asynchronous=False)  # the positions after this batch
            tally.processed(len(messages), 0)
    consumer.close()
    tally.report()


if __name__ == "__main__":
    main()

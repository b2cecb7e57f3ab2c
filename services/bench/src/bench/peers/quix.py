"""quix-streams: a StreamingDataFrame over the topic, JSON values (decoded by quix with
orjson), our work in `apply`, at-least-once, committing every `batch` messages.

Where it differs from our consumer: quix polls and processes one message at a time (no batch in
hand), and its checkpoint commits synchronously once `commit_every` messages are processed (the
time-based commit_interval is set past the run's end)."""

from __future__ import annotations

from typing import Any

from quixstreams import Application

from bench.peers.work import Tally, process, settings


def main() -> None:
    s = settings()
    tally = Tally(s)
    app = Application(
        broker_address=s.bootstrap_servers,
        consumer_group=s.group_id,
        auto_offset_reset="earliest",
        commit_every=s.batch,
        commit_interval=3600,
        processing_guarantee="at-least-once",
        auto_create_topics=False,
    )
    count = valid = 0

    def work(value: Any) -> None:
        nonlocal count, valid
        tally.started()
        valid += process(value) is not None
        count += 1
        # quix commits once the message that fills commit_every is processed: count by those.
        if count == s.batch:
            tally.processed(count, valid)
            count = valid = 0
            if tally.done():
                app.stop()

    sdf = app.dataframe(app.topic(s.topic, value_deserializer="json"))
    sdf.update(work)
    app.run()
    tally.report()


if __name__ == "__main__":
    main()

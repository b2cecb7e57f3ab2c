"""Share group beside consumer group: the throughput of one member of each, in the same run.

Both read the same pre-filled topic from its start with the same batch size and pipeline, one
after the other (never side by side: they would share the 2 cores). A consumer group's member
commits once per batch; a share group's member acknowledges each record and commits its
acknowledgements once per batch, and logs one line per record (`record_acknowledged`), the
price of knowing who handled which record. Throughput runs from the first processed record to
the last, as the services' own log records time them.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.lab import Lab, seconds
from bench.measure import PIPELINE, Say, Sizes
from playground.groups import configure_share_group
from playground.host import LogReader, TimedOut
from playground.records import records

BATCH_SIZE = 500  # records per poll / batch, the same for both
LOCK_MS = 30_000  # Kafka's default: the bench measures throughput, not redelivery


def share(lab: Lab, sizes: Sizes, say: Say) -> dict[str, Any]:
    topic = lab.topic("share")
    count = sizes.share_messages
    say(f"share: {count:,} transactions into a topic of its own")
    p = lab.service(
        "producer", "share-producer", TOPIC=topic, PRODUCER_INTERVAL_S=0, PRODUCER_COUNT=count
    )
    p.wait(timeout=3600)
    runs = {}
    for group_type in ("consumer", "share"):
        group = f"bench-{lab.run_id}-{group_type}-group"
        if group_type == "share":
            configure_share_group(lab.admin, group, LOCK_MS, 5)
        say(f"  one member of a {group_type} group, batch size {BATCH_SIZE}")
        runs[group_type] = _run(lab, topic, group, group_type, count, sizes.consumer_budget_s)
        say(f"  {runs[group_type]['msgs_s']:,.0f} msgs/s over {runs[group_type]['messages']:,}")
    return {
        "topic": topic,
        "batch_size": BATCH_SIZE,
        "consumer_group": runs["consumer"],
        "share_group": runs["share"],
        "ratio": runs["share"]["msgs_s"] / runs["consumer"]["msgs_s"],
    }


def _run(
    lab: Lab, topic: str, group: str, group_type: str, count: int, budget_s: float
) -> dict[str, Any]:
    since = datetime.now(UTC) - timedelta(seconds=1)
    c = lab.service(
        "consumer",
        f"{group_type}-member",
        TOPIC=topic,
        CLIENT="bench",
        GROUP_ID=group,
        GROUP_TYPE=group_type,
        PIPELINE=PIPELINE,
        BATCH_SIZE=BATCH_SIZE,
        BATCH_MAX_WAIT_S=1,
    )
    reader = LogReader(c, since)
    done, first, last = 0, None, 0.0
    deadline = time.monotonic() + budget_s + 60
    while time.monotonic() < deadline:
        for r in records(reader.read()):
            event = r.get("event")
            if event == "batch_processed":
                n = int(r["count"])
            elif event == "record_acknowledged" and r["ack"] == "accept":
                n = 1
            else:
                continue
            stamp = seconds(r)
            first = stamp if first is None else first
            done, last = done + n, stamp
        if done >= count or (first is not None and last - first >= budget_s):
            break
        time.sleep(0.5)
    c.stop(timeout=30)
    if first is None or last <= first:
        raise TimedOut(f"the {group_type} group's member processed (almost) nothing")
    return {"messages": done, "seconds": last - first, "msgs_s": done / (last - first)}

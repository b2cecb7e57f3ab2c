"""What a transaction per batch costs: our consumer at-least-once and exactly-once, same run.

For each PROCESSING_GUARANTEE and each batch size: throughput over a pre-filled topic (as the
consumer section measures it) and the latency from produce to processed at a fixed offered load
(as the latency section does). Both modes write every result to the output topic; exactly-once
adds begin, send_offsets_to_transaction and commit per batch, and its commit waits for the
transaction markers to be written.
"""

from __future__ import annotations

from typing import Any

from bench import measure
from bench.lab import Lab
from bench.measure import Say, Sizes

GUARANTEES = ("at-least-once", "exactly-once")
BATCH_SIZES = (1, 100, 1000)
SMOKE_BATCH_SIZES = (1, 100)
LOAD = 200  # msgs/s offered in the latency runs: what batch size 1 at-least-once keeps up with
MAX_WAIT_S = 0.1  # so a large batch is handed on at this load, not after filling
WARMUP_TRANSACTIONS = 10_000
WARMUP_S = 90


def eos(lab: Lab, sizes: Sizes, say: Say) -> dict[str, Any]:
    batches = SMOKE_BATCH_SIZES if sizes == measure.SMOKE else BATCH_SIZES
    messages = min(sizes.messages, 50_000)  # the small batches read a fraction in their budget
    say(f"eos: filling a topic with {messages:,} transactions")
    filled = lab.topic("eos")
    lab.service(
        "producer", "eos-producer", TOPIC=filled, PRODUCER_INTERVAL_S=0, PRODUCER_COUNT=messages
    ).wait(timeout=3600)
    # The broker's transaction path is cold until the JIT has compiled it: on a fresh broker an
    # exactly-once consumer at batch size 1 committed 11 transactions a second in its first
    # 10 s and 125 a second after 40 s. Warm it up, unmeasured, so the first run does not pay.
    warmup = WARMUP_TRANSACTIONS if sizes != measure.SMOKE else 100
    say(f"eos: warming the broker's transactions up: {warmup:,} of one message (not measured)")
    measure.consume(
        lab,
        filled,
        1,
        Sizes(messages=warmup, consumer_budget_s=WARMUP_S),
        name="eos-warmup",
        PROCESSING_GUARANTEE="exactly-once",
    )
    runs = []
    for guarantee in GUARANTEES:
        for batch in batches:
            say(f"eos: {guarantee}, batch size {batch}: throughput")
            tag = "eos" if guarantee == "exactly-once" else "alo"
            run = measure.consume(
                lab,
                filled,
                batch,
                Sizes(messages=messages, consumer_budget_s=sizes.consumer_budget_s / 2),
                name=f"{tag}-consumer",
                PROCESSING_GUARANTEE=guarantee,
            )
            say(f"eos: {guarantee}, batch size {batch}: latency at {LOAD} msgs/s offered")
            latency = measure._latency_run(
                lab,
                LOAD,
                batch,
                MAX_WAIT_S,
                sizes.latency_run_s,
                prefix=f"{tag}-lat",
                PROCESSING_GUARANTEE=guarantee,
            )
            runs.append(
                {
                    "guarantee": guarantee,
                    "batch_size": batch,
                    "msgs_s": run["msgs_s"],
                    "messages": run["messages"],
                    "offered_msgs_s": LOAD,
                    "max_wait_s": MAX_WAIT_S,
                    "achieved_msgs_s": latency["achieved_msgs_s"],
                    "p50_ms": latency["p50_ms"],
                    "p99_ms": latency["p99_ms"],
                }
            )
            say(
                f"  {run['msgs_s']:,.0f} msgs/s; p50 {latency['p50_ms']:.1f} ms, "
                f"p99 {latency['p99_ms']:.1f} ms"
            )
    return {"runs": runs}

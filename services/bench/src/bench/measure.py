"""The four measurements. Each runs our real services (the app image, `producer` / `consumer`,
the settings `make play` takes) and, where Kafka has one, Kafka's own tool on the same broker,
in the same run. Times come from the services' own JSON log records and the records'
CreateTime, all on this machine's clock."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from bench.lab import INTERNAL_BOOTSTRAP, Lab, cpu_seconds, load_average, numbers, seconds
from bench.peers.run import peers as run_peers
from playground.host import Container, LogReader, wait_until
from playground.records import positions, records
from playground.transaction import TransactionFactory

PIPELINE = "validate,enrich,score"  # decode, validate, process; commit follows every batch
TOOLS = "/opt/kafka/bin"
WARMUP_S = 1.0  # of each latency run, left out of its percentiles


@dataclass(frozen=True)
class Sizes:
    """How much each measurement does: the full run, or a smoke that only proves it works."""

    messages: int = 1_000_000
    consumer_budget_s: float = 60  # per batch size: the small ones would take hours on 1M
    batch_sizes: tuple[int, ...] = (1, 10, 100, 1000, 10_000)
    loads: tuple[int, ...] = (200, 2000)
    latency_batches: tuple[int, ...] = (1, 10, 100)
    waits_s: tuple[float, ...] = (0.01, 0.1, 1.0)
    latency_run_s: float = 8
    e2e_tool_messages: int = 5000
    rebalance_runs: int = 3
    idle_s: float = 60
    idle_settle_s: float = 120  # after the groups formed: bench/idle.py says why
    share_messages: int = 200_000


SMOKE = Sizes(
    messages=3000,
    consumer_budget_s=10,
    batch_sizes=(1, 100),
    loads=(200,),
    latency_batches=(1, 10),
    waits_s=(0.01, 0.1),
    latency_run_s=2,
    e2e_tool_messages=200,
    rebalance_runs=1,
    idle_s=5,
    idle_settle_s=1,
    share_messages=3000,
)
REBALANCE_MODES = {
    "classic, range (eager)": {"GROUP_PROTOCOL": "classic", "ASSIGNMENT_STRATEGY": "range"},
    "classic, cooperative-sticky": {
        "GROUP_PROTOCOL": "classic",
        "ASSIGNMENT_STRATEGY": "cooperative-sticky",
    },
    "consumer (KIP-848)": {"GROUP_PROTOCOL": "consumer"},
}
Say = Callable[[str], None]


@cache  # asked by two measurements; the same 1,000 transactions each time
def record_size() -> int:
    """Our transactions' mean size in bytes, so Kafka's producer tool sends the same."""
    make = TransactionFactory(seed=1)
    return round(statistics.mean(len(make().to_json()) for _ in range(1000)))


# ---- 2. producer throughput (first: it also fills the topic the consumers read) ----
WARMUP_RECORDS = 300_000


def producer(lab: Lab, sizes: Sizes, say: Say) -> dict[str, Any]:
    size = record_size()
    # A broker just started serves produce requests from its JVM's interpreter until the JIT has
    # compiled that path: whichever producer went first measured a third to a quarter of what it
    # did second (ours 16,000 then 52,000 msgs/s, Kafka's tool 17,600 then 65,600). So Kafka's
    # tool first warms the broker up, on a topic of its own, and neither measurement pays.
    warmup = min(sizes.messages, WARMUP_RECORDS)
    say(f"warming the broker up: kafka-producer-perf-test, {warmup:,} records (not measured)")
    producer_perf_test(lab, lab.topic("producer-warmup"), warmup, size)
    topic = lab.topic("transactions")
    say(f"producer: {sizes.messages:,} transactions as fast as it can (idempotent, acks=all)")
    c = lab.service(
        "producer", "producer", TOPIC=topic, PRODUCER_INTERVAL_S=0, PRODUCER_COUNT=sizes.messages
    )
    c.wait(timeout=3600)
    started = _first(c, "producer_started")
    stopped = _last(c, "producer_stopped")
    ours = stopped["sent"] / (seconds(stopped) - seconds(started))
    say(f"kafka-producer-perf-test: {sizes.messages:,} records of {size} bytes, same settings")
    theirs = producer_perf_test(lab, lab.topic("producer-perf"), sizes.messages, size)
    return {
        "topic": topic,
        "messages": stopped["sent"],
        "record_size": size,
        "ours_msgs_s": ours,
        # What a rate on a shared machine hides: CPU per message moves little with the load.
        "ours_cpu_us_per_msg": 1e6 * stopped["cpu_s"] / stopped["sent"],
        "kafka_tool_msgs_s": theirs,
        "ratio": ours / theirs,
        "load_average": load_average(),
    }


def producer_perf_test(lab: Lab, topic: str, records: int, size: int) -> float:
    """kafka-producer-perf-test as fast as it can, with our producer's guarantees: msgs/s."""
    out = lab.tool(
        f"{TOOLS}/kafka-producer-perf-test.sh",
        "--topic",
        topic,
        "--num-records",
        str(records),
        "--record-size",
        str(size),
        "--throughput",
        "-1",
        "--producer-props",
        f"bootstrap.servers={INTERNAL_BOOTSTRAP}",
        "acks=all",
        "enable.idempotence=true",
    )
    return numbers(r"([\d.]+) records/sec", out)[-1]  # the last line sums up


# ---- 1. consumer throughput per batch size ----
def consumer(lab: Lab, sizes: Sizes, topic: str, say: Say) -> dict[str, Any]:
    runs = []
    for batch in sizes.batch_sizes:
        say(f"consumer: batch size {batch} (at most {sizes.consumer_budget_s:g} s)")
        runs.append(consume(lab, topic, batch, sizes))
        say(f"  {runs[-1]['msgs_s']:,.0f} msgs/s over {runs[-1]['messages']:,} messages")
    say(f"kafka-consumer-perf-test: {sizes.messages:,} messages of the same topic")
    stats = consumer_perf_test(lab, topic, sizes.messages, "consumer-perf")
    theirs = float(stats["fetch.nMsg.sec"])
    best = max(runs, key=lambda r: r["msgs_s"])
    return {
        "runs": runs,
        "kafka_tool_msgs_s": theirs,
        "kafka_tool": stats,
        "best_batch_size": best["batch_size"],
        "ratio": best["msgs_s"] / theirs,
    }


def consumer_perf_test(lab: Lab, topic: str, messages: int, group: str) -> dict[str, str]:
    """kafka-consumer-perf-test over `messages` of `topic`, in a group of its own: its stats."""
    out = lab.tool(
        f"{TOOLS}/kafka-consumer-perf-test.sh",
        "--bootstrap-server",
        INTERNAL_BOOTSTRAP,
        "--topic",
        topic,
        "--messages",
        str(messages),
        "--group",
        f"bench-{lab.run_id}-{group}",
        "--timeout",
        "120000",
    )
    header, values = [line for line in out.splitlines() if "," in line][-2:]
    return dict(
        zip(
            [h.strip() for h in header.split(",")],
            [v.strip() for v in values.split(",")],
            strict=True,
        )
    )


def peers(lab: Lab, sizes: Sizes, topic: str, say: Say) -> dict[str, Any]:
    """Our consumer beside other Python clients doing the same work (bench.peers.run)."""

    def tool(topic: str) -> float:
        return float(consumer_perf_test(lab, topic, sizes.messages, "peers-perf")["fetch.nMsg.sec"])

    return run_peers(lab, sizes.messages, sizes.consumer_budget_s, topic, say, tool)


def _consumer(lab: Lab, name: str, topic: str, **env: object) -> tuple[Container, LogReader]:
    """One of our consumers in a group of its own name, and a reader of its log from its start."""
    since = datetime.now(UTC) - timedelta(seconds=1)
    settings = {"CLIENT": "bench", "GROUP_ID": f"bench-{lab.run_id}-{name}", "PIPELINE": PIPELINE}
    c = lab.service("consumer", name, **{"TOPIC": topic, **settings, **env})
    return c, LogReader(c, since)


def consume(
    lab: Lab, topic: str, batch: int, sizes: Sizes, name: str = "consumer", **env: object
) -> dict[str, Any]:
    """One of our consumers reading `topic` from the start with batches of `batch`: msgs/s."""
    c, reader = _consumer(
        lab, f"{name}-{batch}", topic, BATCH_SIZE=batch, BATCH_MAX_WAIT_S=1, **env
    )
    assigned: float | None = None
    count, last = 0, 0.0
    deadline = time.monotonic() + sizes.consumer_budget_s + 60
    while time.monotonic() < deadline:
        for r in records(reader.read()):
            if r.get("event") == "partitions_assigned" and assigned is None:
                assigned = seconds(r)
            elif r.get("event") == "batch_processed":
                count, last = count + r["count"], seconds(r)
        if count >= sizes.messages or (assigned and last - assigned >= sizes.consumer_budget_s):
            break
        time.sleep(0.5)
    cpu = cpu_seconds(c)  # start-up included, a second at most
    c.stop(timeout=30)
    if assigned is None or not count:
        raise RuntimeError(f"consumer with batch size {batch} processed nothing")
    return {
        "batch_size": batch,
        "messages": count,
        "seconds": last - assigned,
        "msgs_s": count / (last - assigned),
        "cpu_s": cpu,
        "msgs_per_cpu_s": count / cpu,
        "load_1m": load_average(),
    }


# ---- 3. latency: produce -> processed, at a fixed offered load ----
def latency(lab: Lab, sizes: Sizes, say: Say) -> dict[str, Any]:
    runs = []
    for load in sizes.loads:
        for batch in sizes.latency_batches:
            for wait in sizes.waits_s:
                say(f"latency: {load} msgs/s offered, batch size {batch}, max wait {wait:g} s")
                runs.append(_latency_run(lab, load, batch, wait, sizes.latency_run_s))
                r = runs[-1]
                say(
                    f"  p50 {r['p50_ms']:.1f} ms, p95 {r['p95_ms']:.1f} ms, "
                    f"p99 {r['p99_ms']:.1f} ms (achieved {r['achieved_msgs_s']:,.0f} msgs/s)"
                )
    size = record_size()
    m = sizes.e2e_tool_messages
    say(f"kafka-e2e-latency: {m} messages of {size} bytes, one at a time, acks=all")
    out = lab.tool(
        f"{TOOLS}/kafka-e2e-latency.sh",
        INTERNAL_BOOTSTRAP,
        lab.topic("e2e-latency", partitions=1),
        str(m),
        "all",
        str(size),
    )
    tool = {
        "avg_ms": numbers(r"Avg latency: ([\d.]+) ms", out)[0],
        "p50_ms": numbers(r"50th = ([\d.]+)", out)[0],
        "p99_ms": numbers(r"99th = ([\d.]+)", out)[0],
        "messages": m,
    }
    return {"runs": runs, "kafka_tool": tool}


def _latency_run(
    lab: Lab, load: int, batch: int, wait: float, run_s: float, prefix: str = "lat", **env: object
) -> dict[str, Any]:
    name = f"{prefix}-{load}-{batch}-{str(wait).replace('.', '_')}"
    topic = lab.topic(name)
    c, reader = _consumer(lab, name, topic, BATCH_SIZE=batch, BATCH_MAX_WAIT_S=wait, **env)
    batches: list[dict[str, Any]] = []
    wait_until(
        lambda: any(r.get("event") == "partitions_assigned" for r in _collect(reader, batches)),
        60,
        "the consumer to be assigned",
    )
    count = max(int(load * (run_s + WARMUP_S)), 1)
    p = lab.service(
        "producer",
        f"{name}-producer",
        TOPIC=topic,
        PRODUCER_INTERVAL_S=1 / load,
        PRODUCER_COUNT=count,
    )

    def drained() -> bool:
        _collect(reader, batches)
        return sum(int(b["count"]) for b in batches) >= count

    wait_until(drained, run_s * 10 + 60, "the consumer to drain")
    p.wait(timeout=60)
    c.stop(timeout=30)
    created = lab.create_times(topic, count)
    # The first second is left out: the idempotent producer first fetches its producer id and
    # the partitions' leaders, and what it queued meanwhile says nothing about steady state.
    steady = min(created.values()) + WARMUP_S
    latencies = [
        (seconds(b) - created[position]) * 1000
        for b in batches
        for position in positions(b["offsets"])
        if created[position] >= steady
    ]
    q = statistics.quantiles(latencies, n=100, method="inclusive")
    span = max(created.values()) - min(created.values())
    return {
        "offered_msgs_s": load,
        "achieved_msgs_s": count / span if span else float(count),
        "batch_size": batch,
        "max_wait_s": wait,
        "messages": len(latencies),
        "p50_ms": q[49],
        "p95_ms": q[94],
        "p99_ms": q[98],
    }


def _collect(reader: LogReader, batches: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """New records; batch_processed ones are also kept in `batches`."""
    new = list(records(reader.read()))
    batches.extend(r for r in new if r.get("event") == "batch_processed")
    return new


# ---- 4. rebalance: graceful stop of one member until the other processes its partitions ----
def rebalance(lab: Lab, sizes: Sizes, say: Say) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    for mode, settings in REBALANCE_MODES.items():
        times = []
        for n in range(sizes.rebalance_runs):
            say(f"rebalance: {mode}, run {n + 1}/{sizes.rebalance_runs}")
            times.append(_handover(lab, f"reb-{len(results)}-{n}", settings))
            say(f"  zulu processes bravo's partitions {times[-1]:.2f} s after bravo's stop")
        results.append({"mode": mode, "handover_s": times, "median_s": statistics.median(times)})
    return results


def _handover(lab: Lab, name: str, settings: dict[str, str]) -> float:
    topic = lab.topic(name)
    # One group for both: GROUP_ID named after the run, not after each member.
    group = {"GROUP_ID": f"bench-{lab.run_id}-{name}", "BATCH_SIZE": 10, "BATCH_MAX_WAIT_S": 0.1}
    bravo, bravo_log = _consumer(lab, f"{name}-bravo", topic, CLIENT="bravo", **group, **settings)
    zulu, zulu_log = _consumer(lab, f"{name}-zulu", topic, CLIENT="zulu", **group, **settings)
    producer = lab.service("producer", f"{name}-producer", TOPIC=topic, PRODUCER_INTERVAL_S=0.005)
    logs = {"bravo": bravo_log, "zulu": zulu_log}
    owned: dict[str, set[int]] = {"bravo": set(), "zulu": set()}
    busy: dict[str, bool] = {"bravo": False, "zulu": False}

    def settled() -> bool:
        for client, reader in logs.items():
            for r in records(reader.read()):
                if str(r.get("event", "")).startswith("partitions_"):
                    owned[client], busy[client] = set(r["owned"]), False
                elif r.get("event") == "batch_processed":
                    busy[client] = True
        return all(owned.values()) and all(busy.values())

    wait_until(settled, 90, "bravo and zulu to share the partitions and process")
    moving = set(owned["bravo"])
    stopped = time.time()
    bravo.stop(timeout=30)

    def handed_over() -> float | None:
        for r in records(logs["zulu"].read()):
            if (
                r.get("event") == "batch_processed"
                and seconds(r) > stopped
                and moving & {int(p) for p in r["offsets"]}
            ):
                return seconds(r) - stopped
        return None

    took: float = wait_until(handed_over, 90, "zulu to process bravo's partitions")
    for c in (producer, zulu):
        c.stop(timeout=30)
    return took


# ---- helpers ----
def _first(container: Container, event: str) -> dict[str, Any]:
    """The first `event` record, read from the log's start in growing windows (the whole log
    of a million deliveries is hundreds of MB; a streamed read leaks its socket in docker-py)."""
    container.reload()
    started = datetime.fromisoformat(container.attrs["State"]["StartedAt"][:26].rstrip("Z"))
    for window_s in (2, 8, 32, 128):
        until = started.replace(tzinfo=UTC) + timedelta(seconds=window_s)
        raw = container.logs(until=until, stdout=True, stderr=False).decode()
        for r in records(raw.splitlines()):
            if r.get("event") == event:
                return r
    raise RuntimeError(f"{container.name} never logged {event}")


def _last(container: Container, event: str) -> dict[str, Any]:
    tail = container.logs(tail=20, stdout=True, stderr=False).decode().splitlines()
    found = [r for r in records(tail) if r.get("event") == event]
    if not found:
        raise RuntimeError(f"{container.name} did not log {event} at the end")
    return found[-1]

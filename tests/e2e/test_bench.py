"""`make bench` cannot rot: its smoke size runs on the e2e broker and writes its results and
plots. It asserts that the figures exist and are sane, never how fast anything is."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import docker
import pytest
from click.testing import CliRunner
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from bench.cli import main
from playground.host import wait_until
from playground.settings import processed_topic
from tests.e2e.stack import Stack


def outputs_per_group(bootstrap_servers: str, topic: str) -> Counter[str]:
    """How many records of `<topic>.processed` each consumer group wrote (their `group` header)."""
    consumer = Consumer({"bootstrap.servers": bootstrap_servers, "group.id": "test-bench-reader"})
    output = processed_topic(topic)
    ends = {p: consumer.get_watermark_offsets(TopicPartition(output, p))[1] for p in range(3)}
    consumer.assign([TopicPartition(output, p, OFFSET_BEGINNING) for p in ends])
    found: Counter[str] = Counter()
    read = dict.fromkeys(ends, 0)

    def all_read() -> bool:
        for message in consumer.consume(1000, timeout=0.5):
            if message.error() is None:
                read[message.partition() or 0] = (message.offset() or 0) + 1
                group = dict(message.headers() or [])["group"]
                assert isinstance(group, bytes)
                found[group.decode()] += 1
        return all(read[p] >= end for p, end in ends.items())

    try:
        wait_until(all_read, 60, f"{output} read to its end", every_s=0)
    finally:
        consumer.close()
    return found


@pytest.mark.timeout(600)
def test_the_bench_smoke_writes_results_and_plots(
    stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The idle section starts the playground's services with Compose, as `make bench` would.
    monkeypatch.setenv("COMPOSE_FILE", "compose.yaml")
    monkeypatch.setenv("KAFKA_HOST_PORT", str(stack.host_port))
    monkeypatch.setenv("WEB_PORT", str(stack.web_port))
    client = docker.from_env()
    volumes_before = {v.name for v in client.volumes.list()}
    run = CliRunner().invoke(
        main,
        [
            "--smoke",
            "--out",
            str(tmp_path),
            "--project",
            stack.project,
            "--bootstrap-servers",
            f"localhost:{stack.host_port}",
        ],
    )
    assert run.exit_code == 0, run.output[-3000:]
    # Kafka's image declares volumes: each container of it the bench ran goes with its own.
    left = {v.name for v in client.volumes.list()} - volumes_before
    client.close()
    assert not left, f"the bench left {len(left)} volumes behind"

    results = json.loads((tmp_path / "results.json").read_text())
    assert results["machine"]["cores"] >= 1
    assert results["smoke"] is True
    assert [r["batch_size"] for r in results["consumer"]["runs"]] == [1, 100]
    assert all(r["msgs_s"] > 0 for r in results["consumer"]["runs"])
    assert results["consumer"]["kafka_tool_msgs_s"] > 0
    assert results["producer"]["messages"] == 3000
    assert results["producer"]["kafka_tool_msgs_s"] > 0
    assert results["producer"]["ours_cpu_us_per_msg"] > 0
    assert len(results["latency"]["runs"]) == 4
    assert all(0 < r["p50_ms"] <= r["p95_ms"] <= r["p99_ms"] for r in results["latency"]["runs"])
    assert results["latency"]["kafka_tool"]["p99_ms"] >= 0
    assert [r["mode"] for r in results["rebalance"]] == [
        "classic, range (eager)",
        "classic, cooperative-sticky",
        "consumer (KIP-848)",
    ]
    assert all(r["median_s"] > 0 for r in results["rebalance"])
    peers = results["peers"]["runs"]
    keys = ["ours-output", "ours", "ceiling", "quix", "aio", "kafka_python"]
    assert [r["key"] for r in peers] == keys
    assert all(r["msgs_s"] > 0 and r["msgs_per_cpu_s"] > 0 for r in peers)
    # Ours twice: as the playground runs it, and with WRITE_OUTPUT=false, as the peers work.
    outputs = outputs_per_group(f"localhost:{stack.host_port}", results["producer"]["topic"])
    ours = {g.rsplit("-peers-", 1)[1]: n for g, n in outputs.items() if "-peers-" in g}
    assert set(ours) == {"ours-output"}  # the run without output wrote none
    assert ours["ours-output"] > 0
    assert results["peers"]["kafka_tool_msgs_s"] > 0
    assert set(results["idle"]["cores"]) >= {"kafka", "producer", "consumer-bravo", "web"}
    assert results["idle"]["total_cores"] > 0
    goals = {g["goal"].split(" (")[0] for g in results["goals"]}
    assert {"consumer ahead of every Python peer", "idle playground < 10 % of one core"} <= goals
    share = results["share"]
    assert share["consumer_group"]["messages"] == share["share_group"]["messages"] == 3000
    assert share["ratio"] > 0
    for plot in ("throughput.png", "latency.png", "rebalance.png"):
        assert (tmp_path / plot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", plot
    assert "ours beside Kafka's own tools" in run.output

"""`make bench` cannot rot: its smoke size runs on the e2e broker and writes its results and
plots. It asserts that the figures exist and are sane, never how fast anything is."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from bench.cli import main
from tests.e2e.stack import Stack


@pytest.mark.timeout(600)
def test_the_bench_smoke_writes_results_and_plots(
    stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The idle section starts the playground's services with Compose, as `make bench` would.
    monkeypatch.setenv("COMPOSE_FILE", "compose.yaml")
    monkeypatch.setenv("KAFKA_HOST_PORT", str(stack.host_port))
    monkeypatch.setenv("WEB_PORT", str(stack.web_port))
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
    assert [r["key"] for r in peers] == ["ours", "ceiling", "quix", "aio", "kafka_python"]
    assert all(r["msgs_s"] > 0 and r["msgs_per_cpu_s"] > 0 for r in peers)
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

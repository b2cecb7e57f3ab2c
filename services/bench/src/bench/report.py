"""The results: a JSON file with the machine it ran on, PNG plots, a summary table, and the
figures of docs/bench.md (rendered from results.json, never typed by hand)."""

from __future__ import annotations

import json
import math
import os
import platform
from collections import defaultdict
from importlib.metadata import version
from pathlib import Path
from typing import Any

import confluent_kafka
import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt
from rich.table import Table

from bench.measure import Sizes

PLOTS = ("throughput.png", "latency.png", "rebalance.png")


def machine(kafka_image: str) -> dict[str, Any]:
    pages, page_size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    return {
        "cores": os.cpu_count(),
        "memory_gib": round(pages * page_size / 2**30, 1),
        "cpu": _cpu_model(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "confluent_kafka": version("confluent-kafka"),
        "librdkafka": confluent_kafka.libversion()[0],
        "faker": version("faker"),
        "kafka_image": kafka_image,
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


# Issue 14's bars: BATCH_SIZE=1 ran at 878 msgs/s before it; p99 within the bound in 16 of 18.
BATCH_1_BEFORE_MSGS_S = 878
BATCH_1_FACTOR = 5
P99_RUNS_NEEDED = 16 / 18
IDLE_CORES = 0.10


def goals(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each goal (issues 5 and 14) with the figure that meets it or not, all from this run."""
    found = []
    c, p = results["consumer"], results["producer"]
    found.append(_goal("consumer ≥ 0.5 x kafka-consumer-perf-test", c["ratio"], c["ratio"] >= 0.5))
    if "peers" in results:
        ours, best = _peer_race(results["peers"])
        ratio = ours["msgs_s"] / best["msgs_s"]
        found.append(
            _goal(f"consumer ahead of every Python peer ({best['name']})", ratio, ratio > 1)
        )
    one = [r for r in c["runs"] if r["batch_size"] == 1]
    if one:
        factor = one[0]["msgs_s"] / BATCH_1_BEFORE_MSGS_S
        found.append(
            _goal(
                f"BATCH_SIZE=1 ≥ {BATCH_1_FACTOR} x {BATCH_1_BEFORE_MSGS_S} msgs/s",
                factor,
                factor >= BATCH_1_FACTOR,
            )
        )
    found.append(_goal("producer ≥ 0.5 x kafka-producer-perf-test", p["ratio"], p["ratio"] >= 0.5))
    tool_p99 = results["latency"]["kafka_tool"]["p99_ms"]
    within = 0
    for r in results["latency"]["runs"]:
        where = f"{r['offered_msgs_s']}/s, batch {r['batch_size']}, wait {r['max_wait_s']:g} s"
        bound = r["max_wait_s"] * 1000 + 20
        within += r["p99_ms"] <= bound
        found.append(_goal(f"p99 <= wait + 20 ms ({where})", r["p99_ms"], r["p99_ms"] <= bound))
        if r["batch_size"] == 1:
            met = r["p99_ms"] <= 2 * max(tool_p99, 1)
            found.append(_goal(f"p99 <= 2 x kafka-e2e-latency p99 ({where})", r["p99_ms"], met))
    runs = len(results["latency"]["runs"])
    needed = math.ceil(runs * P99_RUNS_NEEDED)
    found.append(
        _goal(f"p99 <= wait + 20 ms in ≥ {needed} of {runs} runs", within, within >= needed)
    )
    for r in results["rebalance"]:
        if "consumer" in r["mode"]:
            found.append(
                _goal(
                    "graceful-stop handover < 1 s, consumer protocol",
                    r["median_s"],
                    r["median_s"] < 1,
                )
            )
    if "idle" in results:
        total = results["idle"]["total_cores"]
        found.append(_goal("idle playground < 10 % of one core", total, total < IDLE_CORES))
    return found


def _peer_race(peers: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Our run doing the peers' work (no output topic: key "ours"), and the fastest peer doing
    it. Our run that also writes its results (key "ours-output") races nobody."""
    ours = next(r for r in peers["runs"] if r["key"] == "ours")
    best = max(
        (r for r in peers["runs"] if r["work"] and not r["key"].startswith("ours")),
        key=lambda r: r["msgs_s"],
    )
    return ours, best


def _work(run: dict[str, Any]) -> str:
    """What a peers' run did per message (results before WRITE_OUTPUT have no "output")."""
    if not run["work"]:
        return "none"
    return "same + output topic" if run.get("output") else "same"


def _goal(name: str, figure: float, met: bool) -> dict[str, Any]:
    return {"goal": name, "figure": round(figure, 3), "met": met}


def write(results: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    _throughput(results, out / PLOTS[0])
    _latency(results, out / PLOTS[1])
    _rebalance(results, out / PLOTS[2])


def _throughput(results: dict[str, Any], path: Path) -> None:
    runs = results["consumer"]["runs"]
    fig, ax = plt.subplots(figsize=(7, 4.2))
    ax.plot(
        [r["batch_size"] for r in runs],
        [r["msgs_s"] for r in runs],
        "o-",
        label="our consumer (decode, validate, process, commit per batch)",
    )
    ax.axhline(
        results["consumer"]["kafka_tool_msgs_s"],
        color="tab:red",
        ls="--",
        label="kafka-consumer-perf-test (no processing)",
    )
    markers = iter("s^vDPX*")
    for r in results.get("peers", {}).get("runs", []):
        ax.plot(
            [results["peers"]["batch_size"]],
            [r["msgs_s"]],
            next(markers, "o"),
            ls="none",
            label=f"{r['name']} (peers, same run, work: {_work(r)})",
        )
    ax.axhline(
        results["producer"]["ours_msgs_s"],
        color="tab:green",
        ls=":",
        label="our producer, as fast as it can",
    )
    ax.set(
        xlabel="BATCH_SIZE",
        ylabel="messages / s",
        title="Consumer throughput against batch size",
    )
    _finish(ax)
    _save(fig, path)


def _latency(results: dict[str, Any], path: Path) -> None:
    runs = results["latency"]["runs"]
    loads = sorted({r["offered_msgs_s"] for r in runs})
    fig, axes = plt.subplots(
        1, len(loads), figsize=(6 * len(loads), 4.2), squeeze=False, sharey=True
    )
    for ax, load in zip(axes[0], loads, strict=True):
        for batch in sorted({r["batch_size"] for r in runs}):
            mine = sorted(
                (r for r in runs if r["offered_msgs_s"] == load and r["batch_size"] == batch),
                key=lambda r: r["max_wait_s"],
            )
            ax.plot(
                [r["max_wait_s"] * 1000 for r in mine],
                [r["p99_ms"] for r in mine],
                "o-",
                label=f"BATCH_SIZE={batch}",
            )
        waits = sorted({r["max_wait_s"] * 1000 for r in runs})
        ax.plot(
            waits, [w + 20 for w in waits], color="grey", ls="--", label="goal: max wait + 20 ms"
        )
        ax.axhline(
            results["latency"]["kafka_tool"]["p99_ms"],
            color="tab:red",
            ls=":",
            label="kafka-e2e-latency p99",
        )
        ax.set(
            xlabel="BATCH_MAX_WAIT_S (ms)",
            ylabel="p99 produce → processed (ms)",
            title=f"{load} msgs/s offered",
        )
        _finish(ax)
    _save(fig, path)


def _rebalance(results: dict[str, Any], path: Path) -> None:
    runs = results["rebalance"]
    fig, ax = plt.subplots(figsize=(7, 3.2))
    names = [r["mode"] for r in runs]
    ax.barh(names, [r["median_s"] for r in runs], color="tab:blue")
    for i, r in enumerate(runs):
        ax.plot(r["handover_s"], [i] * len(r["handover_s"]), "k.", ms=6)
    ax.axvline(1.0, color="grey", ls="--", label="goal (consumer protocol): 1 s")
    ax.set(
        xlabel="seconds from bravo's graceful stop until zulu processes its partitions",
        title="Rebalance handover (bar: median, dots: runs)",
    )
    ax.invert_yaxis()
    ax.legend(fontsize=8)
    _save(fig, path)


def _finish(ax: Any) -> None:
    """Log-log axes: a light grid and a small legend."""
    ax.set(xscale="log", yscale="log")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)


def _save(fig: Any, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def table(results: dict[str, Any]) -> Table:
    t = Table(title="make bench: ours beside Kafka's own tools, same broker, same run")
    t.add_column("measurement", no_wrap=True)
    t.add_column("ours", justify="right")
    t.add_column("Kafka's tool", justify="right")
    t.add_column("ratio", justify="right")
    c, p, lat = results["consumer"], results["producer"], results["latency"]
    for r in c["runs"]:
        t.add_row(f"consumer msgs/s, batch {r['batch_size']}", f"{r['msgs_s']:,.0f}", "", "")
    t.add_row(
        "consumer msgs/s, best batch size",
        f"{max(r['msgs_s'] for r in c['runs']):,.0f}",
        f"{c['kafka_tool_msgs_s']:,.0f}",
        f"{c['ratio']:.2f}",
    )
    t.add_row(
        "producer msgs/s",
        f"{p['ours_msgs_s']:,.0f}",
        f"{p['kafka_tool_msgs_s']:,.0f}",
        f"{p['ratio']:.2f}",
    )
    for r in lat["runs"]:
        t.add_row(
            f"p50/p95/p99 ms, {r['offered_msgs_s']}/s, "
            f"batch {r['batch_size']}, wait {r['max_wait_s']:g} s",
            f"{r['p50_ms']:.0f}/{r['p95_ms']:.0f}/{r['p99_ms']:.0f}",
            f"{lat['kafka_tool']['p50_ms']:.0f}/-/{lat['kafka_tool']['p99_ms']:.0f}"
            if r["batch_size"] == 1
            else "",
            "",
        )
    for r in results["rebalance"]:
        t.add_row(f"handover s, {r['mode']}", f"{r['median_s']:.2f}", "", "")
    for r in results.get("peers", {}).get("runs", []):
        t.add_row(
            f"peers msgs/s, {r['name']}",
            f"{r['msgs_s']:,.0f}",
            f"{results['peers']['kafka_tool_msgs_s']:,.0f}",
            f"{r['msgs_s'] / results['peers']['kafka_tool_msgs_s']:.2f}",
        )
    if "idle" in results:
        t.add_row("idle playground, cores", f"{results['idle']['total_cores']:.3f}", "", "")
    return t


# docs/bench.md holds the figures between these markers; everything else there is prose.
DOC_BEGIN = "<!-- bench:begin -->"
DOC_END = "<!-- bench:end -->"
# Each goal's name in results.json, up to its " (where)", and the unit of its figure.
GOAL_UNITS = {
    "consumer ≥ 0.5 x kafka-consumer-perf-test": "",
    "producer ≥ 0.5 x kafka-producer-perf-test": "",
    "p99 <= wait + 20 ms": " ms",
    "p99 <= 2 x kafka-e2e-latency p99": " ms",
    "graceful-stop handover < 1 s, consumer protocol": " s",
    "idle playground < 10 % of one core": " cores",
}


class DocError(Exception):
    """The document has no place for the figures."""


def update_doc(path: Path, results: dict[str, Any]) -> None:
    """Write the figures of `results` into the document at `path`, between the markers."""
    path.write_text(render_doc(path.read_text(), results))


def render_doc(text: str, results: dict[str, Any]) -> str:
    """`text` with what lies between the markers replaced by `markdown(results)`."""
    head, begin, rest = text.partition(DOC_BEGIN)
    _, end, tail = rest.partition(DOC_END)
    if not begin or not end:
        raise DocError(f"no {DOC_BEGIN} ... {DOC_END} section to write the figures into")
    return f"{head}{DOC_BEGIN}\n{markdown(results)}{DOC_END}{tail}"


def markdown(results: dict[str, Any]) -> str:
    """The run, its figures and the goals, as markdown: every number comes from `results`."""
    m, c, p, lat = results["machine"], results["consumer"], results["producer"], results["latency"]
    command = "make bench BENCH_ARGS=--smoke" if results["smoke"] else "make bench"
    if not results["smoke"] and results["sizes"]["messages"] != Sizes().messages:
        command = f"make bench BENCH_ARGS='--messages {results['sizes']['messages']}'"
    lines = [
        "<!-- Written by `make bench` from docs/bench/results.json"
        " (services/bench/src/bench/report.py): do not edit by hand. -->",
        "",
        f"Run {results['started']} with `{command}`, {results['seconds']} s"
        f" (about {round(results['seconds'] / 60)} min), on {m['cores']} cores ({m['cpu']}),"
        f" {m['memory_gib']} GiB, Python {m['python']}, confluent-kafka {m['confluent_kafka']}"
        f" (librdkafka {m['librdkafka']}), broker `{m['kafka_image']}`.",
        "",
        "| Measurement | Ours | Kafka's tool | Ratio |",
        "|---|---:|---:|---:|",
    ]
    for r in c["runs"]:
        lines.append(
            f"| consumer, `BATCH_SIZE={r['batch_size']}` (msgs/s) | {r['msgs_s']:,.0f} | | |"
        )
    lines += [
        f"| consumer, best (msgs/s) | {max(r['msgs_s'] for r in c['runs']):,.0f}"
        f" | {c['kafka_tool_msgs_s']:,.0f} | {c['ratio']:.3f} |",
        f"| producer, {p['messages']:,} messages of {p['record_size']} B (msgs/s)"
        f" | {p['ours_msgs_s']:,.0f}"
        f" | {p['kafka_tool_msgs_s']:,.0f} | {p['ratio']:.3f} |",
        "| latency, one message at a time (ms, p50 / p99) | "
        f"| {lat['kafka_tool']['p50_ms']:.0f} / {lat['kafka_tool']['p99_ms']:.0f} | |",
    ]
    for r in results["rebalance"]:
        runs = ", ".join(f"{s:.2f}" for s in r["handover_s"])
        lines.append(
            f"| handover after a graceful stop, {r['mode']} (s)"
            f" | {r['median_s']:.2f} ({runs}) | | |"
        )
    lines += [
        "",
        "| Offered msgs/s | `BATCH_SIZE` | `BATCH_MAX_WAIT_S` | achieved msgs/s"
        " | p50 ms | p95 ms | p99 ms |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in lat["runs"]:
        lines.append(
            f"| {r['offered_msgs_s']:,} | {r['batch_size']} | {r['max_wait_s']:g}"
            f" | {r['achieved_msgs_s']:,.0f} | {r['p50_ms']:,.0f} | {r['p95_ms']:,.0f}"
            f" | {r['p99_ms']:,.0f} |"
        )
    lines += _peers_markdown(results) + _idle_markdown(results)
    lines += _eos_markdown(results) + _share_markdown(results) + _cluster_markdown(results)
    lines += ["", "| Goal | Result |", "|---|---|"]
    for name, found in _goals_by_name(results["goals"]).items():
        lines.append(f"| {name} | {_verdict(found, GOAL_UNITS.get(name, ''))} |")
    return "\n".join(lines) + "\n"


def _peers_markdown(results: dict[str, Any]) -> list[str]:
    if "peers" not in results:
        return []
    peers = results["peers"]
    lines = [
        "",
        f"Peers: {peers['messages']:,} messages of the same topic, batches of"
        f" {peers['batch_size']:,}, one after the other (1-minute load average after each run):",
        "",
        "| Consumer | Work | msgs/s | CPU s | msgs per CPU-second | load |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for r in peers["runs"]:
        lines.append(
            f"| {r['name']} | {_work(r)} | {r['msgs_s']:,.0f}"
            f" | {r['cpu_s']:,.1f} | {r['msgs_per_cpu_s']:,.0f} | {r['load_1m']:g} |"
        )
    lines.append(f"| kafka-consumer-perf-test | none | {peers['kafka_tool_msgs_s']:,.0f} | | | |")
    return lines


def _idle_markdown(results: dict[str, Any]) -> list[str]:
    if "idle" not in results:
        return []
    idle = results["idle"]
    shares = ", ".join(f"{name} {share:.1%}" for name, share in sorted(idle["cores"].items()))
    return [
        "",
        f"Idle (`make play`, a transaction every 2 s), over {idle['seconds']:.0f} s:"
        f" {idle['total_cores']:.1%} of one core in total ({shares}).",
    ]


def _eos_markdown(results: dict[str, Any]) -> list[str]:
    if "eos" not in results:
        return []
    lines = [
        "",
        "Processing guarantees, same topic, same run (throughput over the filled topic; latency"
        " at 200 msgs/s offered):",
        "",
        "| `PROCESSING_GUARANTEE` | `BATCH_SIZE` | msgs/s | p50 ms | p99 ms |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in results["eos"]["runs"]:
        lines.append(
            f"| {r['guarantee']} | {r['batch_size']:,} | {r['msgs_s']:,.0f}"
            f" | {r['p50_ms']:,.1f} | {r['p99_ms']:,.1f} |"
        )
    return lines


def _share_markdown(results: dict[str, Any]) -> list[str]:
    if "share" not in results:
        return []
    share = results["share"]
    return [
        "",
        f"Share group beside consumer group: one member each, `BATCH_SIZE`"
        f" {share['batch_size']:,}, {share['share_group']['messages']:,} messages of one topic:"
        f" consumer group {share['consumer_group']['msgs_s']:,.0f} msgs/s, share group"
        f" {share['share_group']['msgs_s']:,.0f} msgs/s (ratio {share['ratio']:.2f}).",
    ]


def _cluster_markdown(results: dict[str, Any]) -> list[str]:
    if "cluster" not in results:
        return []
    one, three = results["cluster"]["single"], results["cluster"]["cluster"]
    lines = [
        "",
        "Three brokers beside one, same run (msgs/s):",
        "",
        f"| | one broker, RF {one['replication_factor']} | three brokers,"
        f" RF {three['replication_factor']}, min ISR 2 |",
        "|---|---:|---:|",
    ]
    rows = (
        ("our producer", "producer", "ours_msgs_s"),
        ("kafka-producer-perf-test", "producer", "kafka_tool_msgs_s"),
        ("our consumer, `BATCH_SIZE=1000`", "consumer", "msgs_s"),
    )
    for name, section, figure in rows:
        lines.append(f"| {name} | {one[section][figure]:,.0f} | {three[section][figure]:,.0f} |")
    return lines


def _goals_by_name(found: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The goals, each with its runs: "p99 <= wait + 20 ms (200/s, ...)" counts as one goal."""
    by_name: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for g in found:
        by_name[g["goal"].split(" (", 1)[0]].append(g)
    return by_name


def _verdict(runs: list[dict[str, Any]], unit: str) -> str:
    met = sum(g["met"] for g in runs)
    if len(runs) == 1:
        return f"{'met' if met else 'not met'}: {runs[0]['figure']:,g}{unit}"
    low, high = min(g["figure"] for g in runs), max(g["figure"] for g in runs)
    return f"met in {met} of {len(runs)} runs ({low:,.0f} to {high:,.0f}{unit})"

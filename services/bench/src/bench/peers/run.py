"""The peers section of `make bench`: our consumer and other Python clients, one after the
other, on the same topic and broker in the same run, each doing the same work at the same batch
size, beside kafka-consumer-perf-test.

All of them run on the host, as processes of this machine (ours as the `consumer` command of the
workspace, logging JSON), so none has a path to the broker the others lack. Each is timed from
its own records and charged the CPU its process used (os.wait4), a figure that other load on
the machine moves far less than a rate.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass
from importlib.metadata import version as installed
from pathlib import Path
from typing import Any

from bench.lab import Lab, load_average, seconds
from playground.records import records
from playground.settings import processed_topic

BATCH = 1000  # messages per commit, for every one of them
HERE = Path(__file__).resolve().parent
SRC = HERE.parents[1]  # services/bench/src: where `python -m bench.peers.X` finds the peers
ENVIRONMENT = HERE.parents[2] / "peers"  # services/bench/peers: the peers' uv project


@dataclass(frozen=True)
class Peer:
    name: str
    module: str
    package: str  # whose version the results name
    own_environment: bool  # False: the workspace's (confluent-kafka 2.16.1, as ours)
    work: bool = True  # False: consumes and commits only


PEERS = (
    Peer("confluent-kafka, consume only (the ceiling)", "ceiling", "confluent-kafka", False, False),
    Peer("quix-streams", "quix", "quixstreams", True),
    Peer("aiokafka", "aio", "aiokafka", True),
    Peer("kafka-python", "kafka_python", "kafka-python", True),
)


def peers(
    lab: Lab, messages: int, budget_s: float, topic: str, say: Any, tool: Any
) -> dict[str, Any]:
    """`tool(topic)` is kafka-consumer-perf-test's msgs/s over the same topic."""
    python = _environment(say)
    versions = _locked_versions()
    runs = []
    for output in (True, False):
        how = "writing its results" if output else "WRITE_OUTPUT=false, as the peers"
        say(f"peers: our consumer on the host, batch size {BATCH}, {how}")
        runs.append(_ours(lab, topic, messages, budget_s, output))
    for peer in PEERS:
        say(f"peers: {peer.name}")
        runs.append(_peer(lab, peer, python, versions, topic, messages, budget_s))
    for r in runs:
        say(f"  {r['name']}: {r['msgs_s']:,.0f} msgs/s, {r['msgs_per_cpu_s']:,.0f} per CPU-second")
    say(f"peers: kafka-consumer-perf-test over {messages:,} messages of the same topic")
    theirs = tool(topic)
    return {"batch_size": BATCH, "messages": messages, "runs": runs, "kafka_tool_msgs_s": theirs}


def _environment(say: Any) -> Path:
    """The peers' Python, their environment made from its lock if it is not there yet."""
    uv = os.environ.get("UV") or shutil.which("uv")
    if not uv:
        raise RuntimeError("uv not found: run the bench through `make bench` or `uv run`")
    say(f"peers: their environment from {ENVIRONMENT.relative_to(HERE.parents[4])}/uv.lock")
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    subprocess.run(
        [uv, "sync", "--locked", "--quiet", "--project", str(ENVIRONMENT)], check=True, env=env
    )
    return ENVIRONMENT / ".venv" / "bin" / "python"


def _locked_versions() -> dict[str, str]:
    lock = tomllib.loads((ENVIRONMENT / "uv.lock").read_text())
    return {p["name"]: p["version"] for p in lock["package"] if "version" in p}


def _run(command: list[str], env: dict[str, str], out: Path, stop: Any) -> float:
    """Run `command` until it exits (or `stop()` says to end it: SIGTERM); its CPU seconds."""
    with out.open("w") as log:
        proc = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    signalled = False
    while True:
        # os.wait4 rather than Popen's wait: it also says what CPU the process used.
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if not signalled and stop():
            proc.send_signal(signal.SIGTERM)
            signalled = True
        time.sleep(0.5)
    proc.returncode = code = os.waitstatus_to_exitcode(status)
    if code not in (0, -signal.SIGTERM):
        raise RuntimeError(f"{command} exited {code}:\n{out.read_text()[-2000:]}")
    return usage.ru_utime + usage.ru_stime


def _ours(lab: Lab, topic: str, messages: int, budget_s: float, output: bool) -> dict[str, Any]:
    """Our consumer: with `output`, as it runs in the playground (each result written to
    `<topic>.processed` and acknowledged before the commit); without, doing what the peers do
    (the goal's comparison)."""
    key = "ours-output" if output else "ours"
    out = _log_path(key)
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": lab.settings.bootstrap_servers,
        "TOPIC": topic,
        "CLIENT": "bench",
        "GROUP_ID": f"bench-{lab.run_id}-peers-{key}",
        "PIPELINE": "validate,enrich,score",
        "BATCH_SIZE": str(BATCH),
        "BATCH_MAX_WAIT_S": "1",
        "LOG_FORMAT": "json",
        "WRITE_OUTPUT": str(output).lower(),
    }
    window: dict[str, float] = {"count": 0}

    def enough() -> bool:
        for r in records(out.read_text().splitlines()):
            if r.get("event") == "partitions_assigned":
                window.setdefault("first", seconds(r))
            elif r.get("event") == "batch_processed":
                window["last"] = seconds(r)
        window["count"] = sum(
            r["count"]
            for r in records(out.read_text().splitlines())
            if r.get("event") == "batch_processed"
        )
        first = window.get("first")
        return window["count"] >= messages or bool(first and time.time() - first >= budget_s + 5)

    consumer = str(Path(sys.executable).parent / "consumer")
    cpu = _run([consumer], env, out, enough)
    enough()
    return {
        **_figures(
            "our consumer (the playground's), on the host"
            + (f", results to {processed_topic(topic)}" if output else ", no output topic"),
            key,
            int(window["count"]),
            window["last"] - window["first"],
            cpu,
            True,
        ),
        "output": output,
    }


def _peer(
    lab: Lab,
    peer: Peer,
    python: Path,
    versions: dict[str, str],
    topic: str,
    messages: int,
    budget_s: float,
) -> dict[str, Any]:
    out = _log_path(peer.module)
    env = {
        **os.environ,
        "PYTHONPATH": str(SRC),
        "PEER_BOOTSTRAP_SERVERS": lab.settings.bootstrap_servers,
        "PEER_TOPIC": topic,
        "PEER_GROUP_ID": f"bench-{lab.run_id}-peers-{peer.module}",
        "PEER_BATCH": str(BATCH),
        "PEER_MESSAGES": str(messages),
        "PEER_BUDGET_S": str(budget_s),
    }
    interpreter = str(python) if peer.own_environment else sys.executable
    deadline = time.monotonic() + budget_s + 120
    cpu = _run(
        [interpreter, "-m", f"bench.peers.{peer.module}"],
        env,
        out,
        lambda: time.monotonic() > deadline,
    )
    tally = json.loads(out.read_text().strip().splitlines()[-1])
    version = versions.get(peer.package) if peer.own_environment else None
    name = f"{peer.name} {version or installed(peer.package)}"
    return _figures(
        name, peer.module, tally["messages"], tally["last"] - tally["first"], cpu, peer.work
    )


def _figures(
    name: str, key: str, count: int, took: float, cpu: float, work: bool
) -> dict[str, Any]:
    if not count or took <= 0:
        raise RuntimeError(f"{name} processed nothing")
    return {
        "name": name,
        "key": key,
        "work": work,
        "messages": count,
        "seconds": took,
        "msgs_s": count / took,
        "cpu_s": cpu,
        "msgs_per_cpu_s": count / cpu if cpu else 0.0,
        "load_1m": load_average(),
    }


def _log_path(name: str) -> Path:
    return Path(os.environ.get("TMPDIR", "/tmp")) / f"playground-bench-peer-{name}.log"

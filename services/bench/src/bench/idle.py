"""What `make play` costs while it only plays: the CPU of each of its containers (broker,
producer, bravo, zulu, web), as a fraction of one core, read from each container's cgroup.

Measured on a playground of its own, started as `make play` starts it: Compose project
`<project>-bench-idle`, compose.yaml, the fanout profile, a transaction every 2 s, a fresh broker
on a fresh volume. Not on the bench's own broker: by the time this section runs, that one carries
every other section's topics and groups (the web service describes every group, each second
while a page is open), and its JVM has just gone through millions of records; a user's idle
playground has neither.

A fresh JVM is not idle either: it compiles the broker's code for minutes after it starts (on a
fanout `make play`, the broker used 5.9 % of a core over its second minute, 3.6 % over its
fourth; its C2 compiler thread was still its busiest, at about 1 %, half an hour in). So the
window opens `sizes.idle_settle_s` after both consumers own their partitions, and lasts
`sizes.idle_s`: long against what recurs (a transaction every 2 s, the healthchecks every 5 s,
the web service's step every 10 s with no page open).

No page is open on the web service, as after `make play`: with one open it steps every second
(`docs/web.md`), which the report of this section does not cover.
"""

from __future__ import annotations

import os
import subprocess
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.lab import Lab, cpu_seconds
from bench.measure import Say, Sizes
from playground.host import LogReader, free_port, service_container, wait_until

CONSUMERS = ("consumer-bravo", "consumer-zulu")


def idle(lab: Lab, sizes: Sizes, say: Say) -> dict[str, Any]:
    project = f"{lab.project}-bench-idle"
    say(
        f"idle: make play in Compose project {project}, {sizes.idle_s:g} s once settled"
        f" for {sizes.idle_settle_s:g} s"
    )
    env = {
        **os.environ,
        "COMPOSE_PROJECT_NAME": project,
        "COMPOSE_FILE": "compose.yaml",
        "KAFKA_HOST_PORT": str(free_port()),
        "WEB_PORT": str(free_port()),
        "APP_IMAGE": lab.app_image,
    }

    def compose(*args: str) -> None:
        command = ["docker", "compose", "--profile", "fanout", *args]
        subprocess.run(command, env=env, check=True, capture_output=True)

    compose("down", "-v")
    try:
        since = datetime.now(UTC) - timedelta(seconds=5)
        compose("up", "--detach")
        readers = [LogReader(service_container(lab.docker, project, c), since) for c in CONSUMERS]
        assigned: set[int] = set()

        def settled() -> bool:
            for i, reader in enumerate(readers):
                if any("Partitions assigned" in line for line in reader.read()):
                    assigned.add(i)
            return len(assigned) == len(readers)

        wait_until(settled, 120, "bravo and zulu to be assigned their partitions")
        time.sleep(sizes.idle_settle_s)  # past the broker's JIT and the groups' first commits
        running = lab.docker.containers.list(
            filters={"label": f"com.docker.compose.project={project}", "status": "running"}
        )
        before = {c.name: cpu_seconds(c) for c in running}
        started = time.monotonic()
        time.sleep(sizes.idle_s)
        took = time.monotonic() - started
        cores = {
            c.labels.get("com.docker.compose.service", c.name): (cpu_seconds(c) - before[c.name])
            / took
            for c in running
        }
    finally:
        compose("down", "-v")
    say(f"  {sum(cores.values()):.1%} of one core in total")
    return {
        "seconds": took,
        "settle_s": sizes.idle_settle_s,
        "cores": cores,
        "total_cores": sum(cores.values()),
    }

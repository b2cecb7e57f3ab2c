"""Drive the playground's Compose stack from tests: bring services up, read their JSON logs,
ask the broker (admin API, from the host) what the groups hold."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import docker

from playground import groups
from playground.groups import Admin
from playground.host import service_container, wait_until
from playground.records import Position, positions, records

ROOT = Path(__file__).resolve().parents[2]

ADMIN_TIMEOUT_S = 30
DRILL_BATCH = 50  # BATCH_SIZE in the drills: the bound on what one hard fault may repeat
# The checks of the cluster's broker drills (`make chaos` on three brokers), in order.
BROKER_FAULTS = (
    "kill -9 leader",
    "kill -9 coordinator",
    "rolling restart",
    "cut off",
    "two brokers down",
    "drained",
)
DOCKER_SOCKET = Path("/var/run/docker.sock")


CLUSTER_FILES = "compose.yaml:compose.cluster.yaml"
# Every scenario's profile: what the tests start, read the logs of and remove.
PROFILES = ("--profile", "fanout", "--profile", "shared", "--profile", "queue")


@dataclass
class Stack:
    project: str
    host_port: int  # the broker's, or in a cluster node 1's (`kafka`)
    web_port: int
    brokers: int = 1  # 3: compose.cluster.yaml laid over compose.yaml
    other_ports: list[int] = field(default_factory=list)  # kafka-2's and kafka-3's
    env: dict[str, str] = field(default_factory=dict)
    _retired: list[Admin] = field(default_factory=list)

    # ---- Compose ----
    def compose(
        self, *args: str, check: bool = True, env: Mapping[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        full_env = {
            **os.environ,
            "COMPOSE_PROJECT_NAME": self.project,
            # Whatever .env says (`make play BROKERS=3` writes COMPOSE_FILE there).
            "COMPOSE_FILE": CLUSTER_FILES if self.brokers == 3 else "compose.yaml",
            "KAFKA_HOST_PORT": str(self.host_port),
            "WEB_PORT": str(self.web_port),
            # The socket's group, so the web service may read the consumers' logs.
            **({"DOCKER_GID": str(DOCKER_SOCKET.stat().st_gid)} if DOCKER_SOCKET.exists() else {}),
            **{f"KAFKA_HOST_PORT_{n}": str(p) for n, p in enumerate(self.other_ports, start=2)},
            "LOG_FORMAT": "json",
            **self.env,
            **(env or {}),
        }
        result = subprocess.run(
            ["docker", "compose", *args],
            cwd=ROOT,
            env=full_env,
            text=True,
            capture_output=True,
            timeout=300,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"docker compose {' '.join(args)} failed "
                f"({result.returncode}):\n{result.stderr}{result.stdout}"
            )
        return result

    @property
    def brokers_services(self) -> list[str]:
        return ["kafka", "kafka-2", "kafka-3"][: self.brokers]

    @property
    def bootstrap_servers(self) -> str:
        """Every broker, from the host."""
        return ",".join(f"localhost:{p}" for p in [self.host_port, *self.other_ports])

    def up(self, *profiles: str, scale: Mapping[str, int] | None = None, **extra_env: str) -> None:
        flags = [arg for p in profiles for arg in ("--profile", p)]
        scaled = [arg for s, n in (scale or {}).items() for arg in ("--scale", f"{s}={n}")]
        self.compose(*flags, "up", "-d", "--no-build", *scaled, env=extra_env)

    def up_for_drills(self, *profiles: str, **extra_env: str) -> None:
        """The consumers as the drills run them: batches of DRILL_BATCH within 0.5 s, no log
        step, and evicted after 6 s (the broker's minimum) instead of 45 s, so a drill that
        pauses a member ends quickly."""
        drill_env = {
            "BATCH_SIZE": str(DRILL_BATCH),
            "BATCH_MAX_WAIT_S": "0.5",
            "PIPELINE": "validate,enrich,score",
            "SESSION_TIMEOUT_MS": "6000",
            "MAX_POLL_INTERVAL_MS": "7000",
        }
        self.up(*profiles, scale=None, **drill_env, **extra_env)

    def stop_brokers(self) -> None:
        """Every broker stopped (in parallel): Kafka away, on a cluster as on one broker."""
        self.compose("stop", "-t", "30", *self.brokers_services)

    def start_brokers(self) -> None:
        """Every broker started again and healthy; then a new admin client (see reconnect)."""
        self.compose("up", "-d", "--wait", *self.brokers_services)
        self.reconnect()

    def remove_services(self) -> None:
        """Stop and remove everything but the broker, which the tests share."""
        self.compose(
            *PROFILES,
            "rm",
            "-sf",
            "producer",
            "consumer-bravo",
            "consumer-zulu",
            "consumer-bravo-shared",
            "consumer-zulu-shared",
            "consumer-bravo-queue",
            "consumer-zulu-queue",
            "web",
            "provision",
        )

    def records(self, service: str) -> list[dict[str, Any]]:
        out = self.compose(
            *PROFILES,
            "logs",
            "--no-color",
            "--no-log-prefix",
            service,
        ).stdout
        return list(records(out.splitlines()))

    def events(self, service: str, event: str) -> list[dict[str, Any]]:
        return [r for r in self.records(service) if r.get("event") == event]

    def rebalances(self, service: str) -> list[dict[str, Any]]:
        """The service's partitions_assigned/revoked/lost records, oldest first."""
        return [r for r in self.records(service) if r.get("event", "").startswith("partitions_")]

    def owned(self, service: str) -> list[int] | None:
        """The partitions the service says it owns after its latest rebalance step."""
        steps = self.rebalances(service)
        return steps[-1]["owned"] if steps else None

    def container(self, service: str) -> Any:
        return service_container(docker.from_env(), self.project, service)

    # ---- What the services reported ----
    def sent(self) -> dict[Position, str]:
        """(partition, offset) -> transaction id, from the producer's delivery reports."""
        return {
            (r["partition"], r["offset"]): r["transaction_id"]
            for r in self.events("producer", "transaction_sent")
        }

    def wait_sent(self, count: int, timeout_s: float = 90) -> dict[Position, str]:
        """Wait for the producer's `count` delivery reports; return them."""

        def complete() -> dict[Position, str] | None:
            sent = self.sent()
            return sent if len(sent) == count else None

        return wait_until(complete, timeout_s, f"the producer's {count} delivery reports")

    def processed_by(self, *services: str) -> set[Position]:
        """Every (partition, offset) any of the services processed."""
        return set().union(*(self.processed(s) for s in services))

    def processed(self, service: str) -> list[Position]:
        """Every (partition, offset) the service's batches covered, repeats included."""
        return [p for r in self.events(service, "batch_processed") for p in positions(r["offsets"])]

    # ---- The broker ----
    @cached_property
    def admin(self) -> Admin:
        # Kept for the stack's lifetime: an AdminClient destroyed while a request is pending
        # leaves that request's future waiting forever.
        return Admin({"bootstrap.servers": self.bootstrap_servers})

    def reconnect(self) -> None:
        """Use a new AdminClient from now on: librdkafka's old one may never reach a group
        coordinator again after a broker restart. The old one is kept, not destroyed."""
        if "admin" in self.__dict__:
            retired = self.__dict__.pop("admin")
            retired.close_readers()
            self._retired.append(retired)

    def committed(self, group: str) -> dict[int, int]:
        return groups.committed(self.admin, group, self.env["TOPIC"], ADMIN_TIMEOUT_S)

    def end_offsets(self, topic: str, partitions: Iterable[int] = range(3)) -> dict[int, int]:
        return groups.end_offsets(self.admin, topic, partitions, ADMIN_TIMEOUT_S)

    def members(self, group: str) -> dict[str, list[int]]:
        """client id -> partitions, for each member of the group."""
        found = groups.describe(self.admin, group, timeout_s=ADMIN_TIMEOUT_S)
        return {m.client_id: list(m.partitions) for m in found.members}

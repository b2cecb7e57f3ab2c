"""What the tools run on the host (watch, chaos, bench) and the e2e tests share.

Waiting with a deadline, the settings the host sees (the environment, then the repo's `.env` and
`kafka-client.env`, as Compose reads them), and the playground's containers and their logs.
Containers are docker SDK objects, taken as they come (duck-typed): the services' image needs no
Docker client for this module to load.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from playground.settings import KafkaSettings, client_config, dead_letter_topic

T = TypeVar("T")
Container = Any  # docker.models.containers.Container: the docker SDK ships no type hints

# Compose reads both from the project directory: `.env` for ${VARIABLES} in compose.yaml,
# `kafka-client.env` (env_file) for the services' librdkafka settings. Both are gitignored;
# the host tools run from the repo's top (as make runs them) and read them from there.
ENV_FILE = ".env"
CLIENT_ENV_FILE = "kafka-client.env"
DEFAULT_HOST_PORT = "9092"
# compose.cluster.yaml's other brokers and the host ports it publishes them on by default.
CLUSTER_FILE = "compose.cluster.yaml"
CLUSTER_HOST_PORTS = {"KAFKA_HOST_PORT_2": "9093", "KAFKA_HOST_PORT_3": "9094"}


def free_port() -> int:
    """A host port nobody listens on now: for a second playground's published ports."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---- waiting ----
class TimedOut(AssertionError):
    """The condition did not hold before the deadline. An AssertionError, so that a test
    waiting through this fails (rather than errors) with what it waited for."""


def wait_until(
    check: Callable[[], T | None], timeout_s: float, what: str, every_s: float = 0.5
) -> T:
    """Call `check` every `every_s` until it returns something truthy, and return that."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimedOut(f"timed out after {timeout_s:g} s waiting for {what}")
        time.sleep(every_s)


# ---- settings on the host ----
def env_file(path: Path) -> dict[str, str]:
    """The NAME=VALUE lines of a Compose env file ({} if there is none).

    Blank lines and # comments are skipped; a value in matching quotes loses them.
    """
    try:
        text = path.read_text()
    except FileNotFoundError:
        return {}
    found = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        name, _, value = line.removeprefix("export ").partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        found[name.strip()] = value
    return found


def setting(name: str) -> str | None:
    """A variable as Compose sees it: the environment first, then `.env`. Empty is unset."""
    return os.environ.get(name) or env_file(Path(ENV_FILE)).get(name) or None


def bootstrap_servers() -> str:
    """The broker from the host: KAFKA_BOOTSTRAP_SERVERS, else the port Compose publishes it on
    (KAFKA_HOST_PORT, from the environment or `.env`), else localhost:9092. When COMPOSE_FILE
    names the cluster file, all three brokers: a tool then starts while one of them is down."""
    ports = [setting("KAFKA_HOST_PORT") or DEFAULT_HOST_PORT]
    if CLUSTER_FILE in (setting("COMPOSE_FILE") or ""):
        ports += [setting(name) or port for name, port in CLUSTER_HOST_PORTS.items()]
    return os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or ",".join(f"localhost:{p}" for p in ports)


def client_env_file() -> dict[str, str]:
    """What Compose passes every service from `kafka-client.env` (env_file)."""
    return env_file(Path(CLIENT_ENV_FILE))


def kafka_settings(bootstrap_servers: str, topic: str) -> KafkaSettings:
    """What a host tool's Kafka clients connect with: the services' librdkafka settings too,
    so a tool reaches a TLS/SASL cluster the services reach."""
    return KafkaSettings(
        bootstrap_servers=bootstrap_servers,
        topic=topic,
        dead_letter_topic=dead_letter_topic(topic),
        # KAFKA_CLIENT_* of kafka-client.env, as the services get them; the environment's win.
        client_config=client_config({**client_env_file(), **os.environ}),
    )


# ---- the playground's containers ----
class MissingContainer(LookupError):
    """No container of that Compose service."""


def service_container(docker: Any, project: str, service: str) -> Container:
    """The container of one Compose service (running or not); MissingContainer if none."""
    found = docker.containers.list(
        all=True,
        filters={
            "label": [
                f"com.docker.compose.project={project}",
                f"com.docker.compose.service={service}",
                "com.docker.compose.oneoff=False",
            ]
        },
    )
    if not found:
        raise MissingContainer(f"no {service} container in Compose project {project!r}")
    return found[0]


def healthy(container: Container) -> bool:
    """Healthy by its healthcheck (running, if it has none)."""
    container.reload()
    state = container.attrs["State"]
    return bool(
        state.get("Health", {"Status": "healthy"})["Status"] == "healthy" and state["Running"]
    )


def environment(container: Container) -> dict[str, str]:
    """A container's environment variables, as Docker reports its configuration."""
    items = container.attrs["Config"].get("Env") or []
    return {name: value for name, _, value in (item.partition("=") for item in items)}


def docker_time(stamp: str) -> datetime:
    """A time stamp of `docker logs --timestamps` (RFC 3339, in nanoseconds) as a datetime."""
    head, _, rest = stamp.partition(".")
    fraction = rest.rstrip("Z")[:6]  # Python takes up to microseconds
    return datetime.fromisoformat(f"{head[:19]}.{fraction or '0'}").replace(tzinfo=UTC)


def stamped_lines(container: Container, **options: Any) -> list[tuple[str, str]]:
    """A container's stdout as (Docker's time stamp, line) pairs; `options` go to logs()."""
    raw = container.logs(timestamps=True, stdout=True, stderr=False, **options)
    return [
        (stamp, line)
        for stamp, _, line in (
            s.partition(" ") for s in raw.decode("utf-8", "replace").splitlines()
        )
    ]


class LogReader:
    """The lines a container logged since the last read: its log survives restarts, so this
    follows a consumer through kill -9 and start. Reading only what is new keeps a long
    drill from re-reading (and re-parsing) millions of lines."""

    def __init__(self, container: Container, since: datetime) -> None:
        self.container = container
        self._second = int(since.timestamp())  # Docker's `since` counts whole seconds
        self._seen: set[tuple[str, str]] = set()  # stamped lines already read from that second

    def read(self) -> list[str]:
        return [line for _, line in self.read_stamped()]

    def read_stamped(self) -> list[tuple[datetime, str]]:
        """The new lines, each with the time Docker received it."""
        new: list[tuple[datetime, str]] = []
        for stamped in stamped_lines(self.container, since=self._second):
            if stamped in self._seen:
                continue
            when = docker_time(stamped[0])
            second = int(when.timestamp())
            if second > self._second:
                self._second, self._seen = second, set()
            self._seen.add(stamped)
            new.append((when, stamped[1]))
        return new

"""The consumers' logs, read through the Docker API (optional: the view works without it)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from watch.timeline import OwnershipEvent, parse_line

log = logging.getLogger("watch")


def container_events(project: str) -> list[OwnershipEvent] | None:
    """Ownership events from every consumer container of the Compose `project`.

    None when Docker cannot be reached (then the view relies on what it observes itself).
    """
    try:
        import docker
        from docker.errors import DockerException
    except ImportError:  # pragma: no cover - docker is a dependency; kept for clarity
        return None
    try:
        client = docker.from_env()
        containers = client.containers.list(
            all=True, filters={"label": f"com.docker.compose.project={project}"}
        )
    except DockerException as exc:
        log.debug("no Docker logs: %s", exc)
        return None
    events = []
    for container in containers:
        env = environment(container)
        if "GROUP_ID" not in env and "CLIENT" not in env:
            continue  # not a consumer
        client_name = env.get("CLIENT", container.name)
        group_id = env.get("GROUP_ID", f"test_group_{client_name}")
        raw = container.logs(timestamps=True).decode("utf-8", "replace")
        for line in raw.splitlines():
            stamp, _, text = line.partition(" ")
            event = parse_line(_time(stamp), text, client_name, group_id)
            if event is not None:
                events.append(event)
    return events


def environment(container: Any) -> dict[str, str]:
    """A container's environment variables, as Docker reports its configuration."""
    items = container.attrs["Config"].get("Env") or []
    return {name: value for name, _, value in (item.partition("=") for item in items)}


def _time(stamp: str) -> datetime:
    # Docker's RFC 3339 stamps carry nanoseconds; Python takes up to microseconds.
    head, _, rest = stamp.partition(".")
    fraction = rest.rstrip("Z")[:6]
    return datetime.fromisoformat(f"{head}.{fraction or '0'}+00:00")

"""The consumers' logs, read through the Docker API (optional: the view works without it)."""

from __future__ import annotations

import logging

from playground.host import Container, docker_time, environment, stamped_lines
from playground.settings import default_group_id
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
    try:
        return [e for c in containers for e in _events(c)]
    finally:
        client.close()


def _events(container: Container) -> list[OwnershipEvent]:
    env = environment(container)
    if "GROUP_ID" not in env and "CLIENT" not in env:
        return []  # not a consumer
    client = env.get("CLIENT") or container.name
    group_id = env.get("GROUP_ID") or default_group_id(client)
    found = (
        parse_line(docker_time(stamp), line, client, group_id)
        for stamp, line in stamped_lines(container)
    )
    return [e for e in found if e is not None]

"""e2e fixtures: one broker (or cluster) for the whole session; each test gets its own topic and
groups."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator

import pytest

from playground.host import free_port
from tests.e2e.stack import PROFILES, Stack

# `make e2e BROKERS=3` runs the suite on the three-broker cluster, in a Compose project of its
# own (E2E_PROJECT names another), so that a single-broker run can go on beside it.
BROKERS = int(os.environ.get("BROKERS") or 1)
CLUSTER_SUFFIX = {1: "", 3: "-cluster"}


@pytest.fixture(scope="session")
def broker() -> Iterator[Stack]:
    if (
        shutil.which("docker") is None
        or subprocess.run(["docker", "info"], capture_output=True, check=False).returncode != 0
    ):
        pytest.fail("e2e tests need a running Docker engine: run `make e2e` (it starts one)")
    # E2E_PROJECT: another Compose project, so a second worktree's e2e run can share the engine.
    stack = Stack(
        project=os.environ.get("E2E_PROJECT") or f"kafka-playground-e2e{CLUSTER_SUFFIX[BROKERS]}",
        host_port=free_port(),
        web_port=free_port(),
        brokers=BROKERS,
        other_ports=[free_port() for _ in range(BROKERS - 1)],
    )
    stack.compose("down", "-v", "--remove-orphans")
    stack.compose("build", "-q", "provision")  # the one image every Python service runs
    stack.compose("up", "-d", "--wait", *stack.brokers_services)
    yield stack
    stack.compose(*PROFILES, "down", "-v", "--remove-orphans")


@pytest.fixture
def stack(broker: Stack, request: pytest.FixtureRequest) -> Iterator[Stack]:
    """The shared broker, with a topic and group ids of this test's own."""
    name = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:60]
    broker.env = {
        "TOPIC": f"e2e-{name}",
        "BRAVO_GROUP_ID": f"{name}-bravo",
        "ZULU_GROUP_ID": f"{name}-zulu",
        "SHARED_GROUP_ID": f"{name}-shared",
        "SHARE_GROUP_ID": f"{name}-share",
    }
    try:
        yield broker
    finally:
        broker.remove_services()
        broker.reconnect()  # a test may have restarted the broker
        broker.env = {}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e/" in str(item.path):
            item.add_marker(pytest.mark.e2e)
    # The front-door tests first: before the shared broker exists, the engine may be restarted
    # so that `make play` starts it, as on a fresh host.
    items.sort(key=lambda item: item.path.name != "test_front_door.py")

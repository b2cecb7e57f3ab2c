"""The fault drills on the real stack: the same code `make chaos` runs against a playground.

One stream of at least 10,000 transactions; during it, kill -9 bravo three times, pause it past
its session timeout, restart the broker, stop and start both consumers. The ledger (delivery
reports against batch_processed records) is balanced after each fault.
"""

from __future__ import annotations

import docker
import pytest
from rich.console import Console

from chaos.cli import table
from chaos.drills import Drills
from chaos.playground import Playground
from consumer.checkpoint import UNCONFIRMED_MAX
from playground import host
from playground.groups import Admin
from playground.kafka import admin_config
from tests.e2e.stack import DRILL_BATCH, Stack

SENT = 10_000


@pytest.mark.timeout(900)
def test_four_faults_lose_nothing_and_repeat_at_most_the_batches_in_flight(
    stack: Stack, capsys: pytest.CaptureFixture[str], request: pytest.FixtureRequest
) -> None:
    stack.up_for_drills("shared")
    group = stack.env["SHARED_GROUP_ID"]
    topic = stack.env["TOPIC"]
    # The settings `make chaos` builds: the host's client settings and our topic's names.
    kafka = host.kafka_settings(f"localhost:{stack.host_port}", topic)
    client = docker.from_env()
    request.addfinalizer(client.close)
    playground = Playground(
        stack.project,
        client,
        topic,
        # admin_config: librdkafka's complaints while the broker restarts go to logging.
        lambda: Admin(admin_config(kafka, "e2e-drills")),
    )

    report = Drills(playground).run(count=SENT, interval_s=0.003, faults="consumers")

    with capsys.disabled():  # the figures belong in CI's output, pass or fail
        Console(width=160).print(table(report))
    faults = [c.fault for c in report.checks]
    assert faults == [
        "kill -9 #1",
        "kill -9 #2",
        "kill -9 #3",
        "pause",
        "broker restart",
        "graceful restarts",
        "drained",
    ]
    assert report.problems == []  # no commit went back, nobody needed a restart
    for check in report.checks:
        assert check.ledger.lost == 0, check
        assert check.new_duplicates <= check.allowed, check
    # A hard fault repeats what is not in a commit the broker confirmed (consumer/loop.py).
    bound = UNCONFIRMED_MAX - 1 + DRILL_BATCH
    assert [c.allowed for c in report.checks] == [bound] * 4 + [2 * bound, 0, 0]
    final = report.final()[group]
    assert final.sent >= SENT
    assert final.lost == 0

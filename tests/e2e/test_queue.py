"""Share groups (KIP-932, the queue profile) on the real broker.

The drill is the one `make chaos` runs on a share group (chaos.drills, faults="share"): a stream
of at least 10,000 transactions; during it a member is killed with SIGKILL three times, the
broker restarts and every member restarts gracefully. Poison sent before it is rejected once and
never delivered again. Then six members on three partitions: every one of them does work.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict
from typing import Any

import docker
import pytest
from rich.console import Console

from chaos.cli import table
from chaos.drills import Drills
from chaos.playground import Playground
from playground import host
from playground.groups import Admin
from playground.host import wait_until
from playground.kafka import admin_config
from playground.transaction import TransactionFactory
from tests.e2e.stack import DRILL_BATCH, Stack
from tests.e2e.test_poison import dead_letters, inject

SENT = 10_000
MEMBERS = ("consumer-bravo-queue", "consumer-zulu-queue")
GOOD = asdict(TransactionFactory(seed=5)())
POISON = {
    "not-json": b"\xff\xfe not json",
    "invalid-value": json.dumps(GOOD | {"currency": "XXX"}).encode(),
}


def acknowledged(stack: Stack, *services: str) -> list[dict[str, Any]]:
    return [r for s in services for r in stack.events(s, "record_acknowledged")]


@pytest.mark.timeout(900)
def test_three_kills_and_a_broker_restart_lose_nothing_and_repeat_only_redeliveries(
    stack: Stack, capsys: pytest.CaptureFixture[str], request: pytest.FixtureRequest
) -> None:
    stack.up_for_drills("queue")
    group = stack.env["SHARE_GROUP_ID"]
    topic = stack.env["TOPIC"]
    [configured] = stack.events("provision", "share_group_configured")
    assert configured["group"] == group
    poison = inject(stack, POISON)
    wait_until(
        lambda: (
            {(r["partition"], r["offset"]) for r in acknowledged(stack, *MEMBERS)}
            >= set(poison.values())
        ),
        60,
        "the members to handle the poison",
    )
    kafka = host.kafka_settings(f"localhost:{stack.host_port}", topic)
    client = docker.from_env()
    request.addfinalizer(client.close)
    playground = Playground(
        stack.project, client, topic, lambda: Admin(admin_config(kafka, "e2e-queue"))
    )

    report = Drills(playground).run(count=SENT, interval_s=0.003)

    with capsys.disabled():  # the figures belong in CI's output, pass or fail
        Console(width=160).print(table(report))
    assert [c.fault for c in report.checks] == [
        "kill -9 #1",
        "kill -9 #2",
        "kill -9 #3",
        "broker restart",
        "graceful restarts",
        "drained",
    ]
    # No delivery handled twice, no rejected record delivered again, nobody restarted.
    assert report.problems == []
    for check in report.checks:
        assert check.ledger.lost == 0, check
        assert check.new_duplicates <= check.allowed, check
    # A killed member repeats at most the batch it held; the broker, one per member.
    assert [c.allowed for c in report.checks] == [DRILL_BATCH] * 3 + [2 * DRILL_BATCH, 0, 0]
    final = report.final()[group]
    assert final.sent >= SENT
    assert final.lost == 0

    # The poison: rejected once each, through every fault, and dead-lettered with why.
    handled = Counter(
        (r["partition"], r["offset"], r["ack"]) for r in acknowledged(stack, *MEMBERS)
    )
    for kind, (partition, offset) in poison.items():
        assert handled[(partition, offset, "reject")] == 1, kind
        assert handled[(partition, offset, "accept")] == 0, kind
    letters = {(int(d["dlq.partition"]), int(d["dlq.offset"])) for d in dead_letters(stack)}
    assert set(poison.values()) <= letters


@pytest.mark.timeout(300)
def test_six_members_on_three_partitions_all_process_records_each_once(stack: Stack) -> None:
    count = 1200
    stack.up(
        "queue",
        scale={"consumer-bravo-queue": 3, "consumer-zulu-queue": 3},
        PRODUCER_COUNT=str(count),
        PRODUCER_INTERVAL_S="0.02",
        BATCH_SIZE="5",
        PIPELINE="validate,enrich,score",
    )
    sent = stack.wait_sent(count, timeout_s=120)

    def accepted() -> list[dict[str, Any]]:
        return [r for r in acknowledged(stack, *MEMBERS) if r["ack"] == "accept"]

    wait_until(
        lambda: {(r["partition"], r["offset"]) for r in accepted()} >= sent.keys(),
        120,
        "every transaction to be accepted",
    )
    done = accepted()
    by_member = Counter(r["client"] for r in done)
    assert set(by_member) == {"bravo", "bravo-2", "bravo-3", "zulu", "zulu-2", "zulu-3"}, by_member
    assert all(n > 0 for n in by_member.values())
    positions = Counter((r["partition"], r["offset"]) for r in done)
    assert positions.keys() == sent.keys()
    assert max(positions.values()) == 1, "no fault: no record processed twice"

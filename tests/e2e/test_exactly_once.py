"""The processing guarantees side by side, on the real stack: the same code as `make chaos
--faults transactions`.

Fan-out, bravo's group exactly-once and zulu's at-least-once, on one stream of at least 10,000
transactions: kill -9 each three times (bravo while a transaction is open on the output topic),
restart the broker, drain. Then the output topic is read back read_committed and each group's
outputs are balanced against the stream. A kill interrupts a batch when its outputs were sent
and not committed (then aborted: `aborted`), or when the batch was processed and not committed
(the ledger's new duplicates): at least one must have.

On three brokers (`make e2e BROKERS=3`) the faults are the cluster's instead (`make chaos`'s
default there): kill -9 a partition's leader, then a coordinator, a rolling restart, a broker cut
off, two brokers down; the outputs are balanced the same way.
"""

from __future__ import annotations

import docker
import pytest
from confluent_kafka import Consumer
from rich.console import Console

from chaos.cli import outputs_table, table
from chaos.drills import Drills
from chaos.playground import Playground
from consumer.checkpoint import UNCONFIRMED_MAX
from playground import host
from playground.groups import Admin
from playground.kafka import admin_config, consumer_config
from tests.e2e.conftest import BROKERS
from tests.e2e.stack import BROKER_FAULTS, DRILL_BATCH, Stack

SENT = 10_000
FAULTS = {
    1: ("kill -9 #1", "kill -9 #2", "kill -9 #3", "broker restart", "drained"),
    3: BROKER_FAULTS,
}


@pytest.mark.timeout(900)
def test_exactly_once_outputs_each_input_once_through_kills_and_a_broker_restart(
    stack: Stack, capsys: pytest.CaptureFixture[str], request: pytest.FixtureRequest
) -> None:
    stack.up_for_drills(
        "fanout",
        BRAVO_PROCESSING_GUARANTEE="exactly-once",
        ZULU_PROCESSING_GUARANTEE="at-least-once",
    )
    topic = stack.env["TOPIC"]
    bravo, zulu = stack.env["BRAVO_GROUP_ID"], stack.env["ZULU_GROUP_ID"]
    kafka = host.kafka_settings(f"localhost:{stack.host_port}", topic)
    client = docker.from_env()
    request.addfinalizer(client.close)

    def reader(isolation: str = "read_committed") -> Consumer:
        config = consumer_config(kafka, "e2e-read-back", "e2e-read-back", isolation_level=isolation)
        return Consumer(config)

    playground = Playground(
        stack.project,
        client,
        topic,
        lambda: Admin(admin_config(kafka, "e2e-eos-drills")),
        reader,
    )

    # 100 a second, not the other drills' 333: exactly-once commits a transaction per batch,
    # and on a loaded 2-core machine the stream must not outrun it (the drills wait for it).
    report = Drills(playground).run(count=SENT, interval_s=0.01)  # exactly-once: transactions

    with capsys.disabled():  # the figures belong in CI's output, pass or fail
        console = Console(width=160)
        console.print(table(report))
        console.print(outputs_table(report))
    assert [c.fault for c in report.checks] == [f for f in FAULTS[BROKERS] for _ in range(2)]
    assert report.problems == []
    for check in report.checks:
        assert check.ledger.lost == 0, check
        assert check.new_duplicates <= check.allowed, check
    outputs = {o.group: o for o in report.outputs}
    assert outputs[bravo].guarantee == "exactly-once"
    assert outputs[bravo].ledger.sent >= SENT
    assert (outputs[bravo].ledger.lost, outputs[bravo].ledger.duplicates) == (0, 0)
    # One broker: bravo's own kills must interrupt it; a cluster's broker faults may do so in any.
    faults = [c for c in report.checks if c.group == bravo and c.fault.startswith("kill")]
    if BROKERS > 1:
        faults = [c for c in report.checks if c.group == bravo]
    interrupted = outputs[bravo].aborted + sum(c.new_duplicates for c in faults)
    assert interrupted > 0, "no fault interrupted a batch in flight"
    assert outputs[zulu].guarantee == "at-least-once"
    assert outputs[zulu].ledger.lost == 0
    bound = len(FAULTS[BROKERS]) * (UNCONFIRMED_MAX - 1 + DRILL_BATCH)
    assert outputs[zulu].ledger.duplicates <= bound
    assert outputs[zulu].aborted == 0

"""Cluster-only checks (`make e2e BROKERS=3`): the topics are replicated like production, both
profiles work on three brokers, and broker failures lose nothing.

The drills, while a fast stream of at least 10,000 transactions flows with the fan-out and the
shared groups reading it: kill (SIGKILL) the broker leading partition 0, then the broker that
coordinates the shared group, each started again once the groups recovered; then a rolling
restart of all three, one at a time, each waiting for a full ISR; a broker cut off the network;
two of three brokers down for 20 s, during which nothing may be reported delivered. After
each, the ledger, per
group: lost = 0, new duplicates at most one batch per member (a commit sent to a coordinator
that died, or a partition moved in a rebalance, repeats at most the batch in flight); every
transaction the producer was told is delivered is in the topic, read back from Kafka, at the
offset reported and only once; and the seconds from the kill to each group's first batch of a
transaction queued after it (docs/cluster.md, "Recovery time").
"""

from __future__ import annotations

import docker
import pytest
from confluent_kafka import Consumer, TopicCollection
from confluent_kafka.admin import (  # type: ignore[attr-defined]
    AdminClient,
    ConfigResource,
)
from rich.console import Console

from chaos.cli import table
from chaos.drills import Drills
from chaos.playground import Playground
from playground import host
from playground.host import wait_until
from playground.kafka import admin_config, consumer_config
from tests.e2e.conftest import BROKERS
from tests.e2e.stack import ADMIN_TIMEOUT_S, Stack
from tests.e2e.test_scenarios import SHARED, wait_committed_to_end, wait_processed
from watch.broker import Broker
from watch.render import as_text

pytestmark = pytest.mark.skipif(BROKERS != 3, reason="cluster only: make e2e BROKERS=3")

SENT = 120
STREAM = 10_000


def min_isr(admin: AdminClient, topic: str) -> str:
    resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
    found = admin.describe_configs([resource])[resource].result(timeout=ADMIN_TIMEOUT_S)
    return str(found["min.insync.replicas"].value)


def test_every_topic_has_three_replicas_and_needs_two_in_sync(stack: Stack) -> None:
    topic = stack.env["TOPIC"]
    stack.up("fanout", PRODUCER_COUNT=str(SENT), PRODUCER_INTERVAL_S="0.02")
    stack.wait_sent(SENT)
    wait_committed_to_end(stack, stack.env["BRAVO_GROUP_ID"])  # __consumer_offsets exists

    topics = [topic, f"{topic}.dlq", "__consumer_offsets"]
    described = stack.admin.describe_topics(TopicCollection(topics), request_timeout=30)
    for name in topics:
        partitions = described[name].result(timeout=ADMIN_TIMEOUT_S).partitions
        assert partitions, name
        for p in partitions:
            assert len(p.replicas) == 3, (name, p)
            assert {n.id for n in p.isr} == {n.id for n in p.replicas}, (name, p)
        assert min_isr(stack.admin, name) == "2", name


def test_the_view_shows_each_partition_s_leader_replicas_and_isr(stack: Stack) -> None:
    stack.up("fanout", PRODUCER_COUNT=str(SENT), PRODUCER_INTERVAL_S="0.02")
    stack.wait_sent(SENT)
    snapshot = Broker(stack.admin, stack.env["TOPIC"]).snapshot()
    for p in snapshot.partitions:
        assert sorted(p.replicas) == [1, 2, 3], p
        assert sorted(p.isr) == [1, 2, 3], p
        assert p.leader in p.replicas, p
    leaders = {p.leader for p in snapshot.partitions}
    assert len(leaders) == 3, "the three partitions' leadership is spread over the brokers"
    assert "under-replicated" not in as_text(snapshot)


def test_both_profiles_process_everything_on_three_brokers(stack: Stack) -> None:
    stack.up("fanout", "shared", PRODUCER_COUNT=str(SENT), PRODUCER_INTERVAL_S="0.02")
    sent = set(stack.wait_sent(SENT))
    for service in ("consumer-bravo", "consumer-zulu"):
        wait_processed(stack, sent, service)
        assert set(stack.processed(service)) == sent
    wait_processed(stack, sent, *SHARED)
    for group in ("BRAVO_GROUP_ID", "ZULU_GROUP_ID", "SHARED_GROUP_ID"):
        wait_committed_to_end(stack, stack.env[group])


@pytest.mark.timeout(900)
def test_broker_drills_lose_nothing_and_repeat_at_most_a_batch_per_member(
    stack: Stack, capsys: pytest.CaptureFixture[str], request: pytest.FixtureRequest
) -> None:
    stack.up_for_drills("fanout", "shared")
    topic = stack.env["TOPIC"]
    kafka = host.kafka_settings(stack.bootstrap_servers, topic)
    client = docker.from_env()
    request.addfinalizer(client.close)
    playground = Playground(
        stack.project,
        client,
        topic,
        lambda: AdminClient(admin_config(kafka, "e2e-cluster-drills")),
        lambda: Consumer(consumer_config(kafka, "e2e-read-back", "e2e-read-back")),
    )
    wait_until(lambda: len(playground.members()) == 4, 60, "the four consumers to run")

    report = Drills(playground).run(count=STREAM, interval_s=0.003, faults="brokers")

    with capsys.disabled():  # the figures belong in CI's output, pass or fail
        Console(width=160).print(table(report))
        print(f"Topic read back: {report.read_back}")
    faults = [
        "kill -9 leader",
        "kill -9 coordinator",
        "rolling restart",
        "cut off",
        "two brokers down",
        "drained",
    ]
    assert [c.fault for c in report.checks] == [f for f in faults for _ in range(3)]
    assert (
        report.problems == []
    )  # among them: a delivery reported, or no stall said, with two brokers down
    for check in report.checks:
        assert check.ledger.lost == 0, check
        assert check.new_duplicates <= check.allowed, check
    for check in report.checks[:6] + report.checks[9:15]:  # the kills, the cut, two down
        assert check.recovery_s is not None, check
    assert report.read_back is not None
    assert report.read_back.delivered >= STREAM
    assert report.read_back.missing == 0
    assert report.read_back.repeated == 0
    # The outage (20 s) is well within message.timeout.ms (300 s): the producer kept every
    # transaction and delivered it once the brokers were back.
    assert report.read_back.failed == 0

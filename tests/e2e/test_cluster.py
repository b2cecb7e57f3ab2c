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

import json
import time
import urllib.request
from collections.abc import Callable
from typing import Any

import docker
import pytest
from confluent_kafka import Consumer, ElectionType, TopicCollection, TopicPartition
from confluent_kafka.admin import (  # type: ignore[attr-defined]
    AdminClient,
    ConfigResource,
)
from rich.console import Console

from chaos.cli import table
from chaos.drills import Drills
from chaos.playground import Playground
from playground import host
from playground.groups import Admin
from playground.host import wait_until
from playground.kafka import admin_config, consumer_config
from tests.e2e.conftest import BROKERS
from tests.e2e.stack import ADMIN_TIMEOUT_S, BROKER_FAULTS, Stack
from tests.e2e.test_scenarios import SHARED, wait_committed_to_end, wait_processed
from watch.broker import Broker
from watch.model import BrokerView
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
    wait_committed_to_end(stack, stack.env["BRAVO_GROUP_ID"])
    group_ids = (stack.env["BRAVO_GROUP_ID"], stack.env["ZULU_GROUP_ID"])
    snapshot = Broker(stack.admin, stack.env["TOPIC"]).snapshot(group_ids)
    assert snapshot.brokers == tuple(BrokerView(b, True) for b in (1, 2, 3))
    for group in snapshot.groups:  # as the admin API names it
        found = stack.admin.describe_consumer_groups([group.group_id])[group.group_id]
        assert group.coordinator == found.result(timeout=ADMIN_TIMEOUT_S).coordinator.id
        assert f"{group.group_id} · Stable · coordinator {group.coordinator}" in as_text(
            snapshot, 200
        )
    assert "brokers: 1 up, 2 up, 3 up" in as_text(snapshot)
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


def offsets_partition(stack: Stack, group: str) -> int:
    """The partition of __consumer_offsets whose leader coordinates `group`: Kafka's
    abs(group.hashCode()) % partitions, with Java's String.hashCode."""
    code = 0
    for unit in group.encode("utf-16-be").hex(" ", 2).split():
        code = (31 * code + int(unit, 16)) & 0xFFFFFFFF
    described = stack.admin.describe_topics(TopicCollection(["__consumer_offsets"]))
    count = len(described["__consumer_offsets"].result(timeout=ADMIN_TIMEOUT_S).partitions)
    return (code & 0x7FFFFFFF) % count


def leader(stack: Stack, topic: str, partition: int) -> int:
    described = stack.admin.describe_topics(TopicCollection([topic]))
    return int(described[topic].result(timeout=ADMIN_TIMEOUT_S).partitions[partition].leader.id)


def test_committed_offsets_are_read_while_the_group_coordinator_moves(stack: Stack) -> None:
    """The coordinator that moved answers NOT_COORDINATOR to a client that still has it
    cached: librdkafka's admin ListConsumerGroupOffsets then dies of SIGSEGV (librdkafka#5040),
    which took CI's pytest down once. The playground's reads must survive it."""
    group = stack.env["BRAVO_GROUP_ID"]
    stack.up("fanout", PRODUCER_COUNT=str(SENT), PRODUCER_INTERVAL_S="0.02")
    stack.wait_sent(SENT)
    wait_committed_to_end(stack, group)  # the client now has the coordinator cached
    expected = stack.committed(group)

    partition = offsets_partition(stack, group)
    old = leader(stack, "__consumer_offsets", partition)
    new = next(b for b in (1, 2, 3) if b != old)
    plan = json.dumps(
        {
            "version": 1,
            "partitions": [
                {
                    "topic": "__consumer_offsets",
                    "partition": partition,
                    "replicas": [new, *(b for b in (1, 2, 3) if b not in (new, old)), old],
                }
            ],
        }
    )
    command = (
        f"echo '{plan}' > /tmp/move.json && kafka-run-class.sh "
        "org.apache.kafka.tools.reassign.ReassignPartitionsCommand "
        "--bootstrap-server kafka:19092 --reassignment-json-file /tmp/move.json"
    )
    kafka = stack.container("kafka")
    done = kafka.exec_run(["bash", "-c", f"{command} --execute"])
    assert done.exit_code == 0, done.output.decode()

    def reassigned() -> bool:
        verified = kafka.exec_run(["bash", "-c", f"{command} --verify"])
        return "is completed" in verified.output.decode()

    wait_until(reassigned, 60, "the reassignment to complete")
    elected = stack.admin.elect_leaders(
        ElectionType.PREFERRED, [TopicPartition("__consumer_offsets", partition)]
    )
    elected.result(timeout=ADMIN_TIMEOUT_S)
    wait_until(
        lambda: leader(stack, "__consumer_offsets", partition) == new,
        60,
        f"broker {new} to lead __consumer_offsets-{partition}",
    )

    assert stack.committed(group) == expected
    found = stack.admin.describe_consumer_groups([group])[group].result(timeout=ADMIN_TIMEOUT_S)
    assert found.coordinator.id == new


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
        lambda: Admin(admin_config(kafka, "e2e-cluster-drills")),
        lambda: Consumer(consumer_config(kafka, "e2e-read-back", "e2e-read-back")),
    )
    wait_until(lambda: len(playground.members()) == 4, 60, "the four consumers to run")

    report = Drills(playground).run(count=STREAM, interval_s=0.003, faults="brokers")

    with capsys.disabled():  # the figures belong in CI's output, pass or fail
        Console(width=160).print(table(report))
        print(f"Topic read back: {report.read_back}")
    assert [c.fault for c in report.checks] == [f for f in BROKER_FAULTS for _ in range(3)]
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


def web_state(stack: Stack, check: Callable[[dict[str, Any]], bool], timeout_s: float) -> Any:
    """The web page's first state (its server-sent events: the model `make watch` draws too)
    for which `check` holds; AssertionError after `timeout_s`. A new stream after each drop:
    the web service restarts by itself if a broker's death aborts it (librdkafka#4605)."""
    deadline = time.monotonic() + timeout_s
    last: dict[str, Any] = {}
    while time.monotonic() < deadline:
        try:
            url = f"http://127.0.0.1:{stack.web_port}/events"
            with urllib.request.urlopen(url, timeout=10) as events:
                for raw in events:
                    line = raw.decode().strip()
                    if line.startswith("data: "):
                        last = json.loads(line[len("data: ") :])
                        if last.get("snapshot") and check(last):
                            return last
                    if time.monotonic() > deadline:
                        break
        except OSError:
            time.sleep(1)  # the web service restarting
    raise AssertionError(f"no page state as wanted within {timeout_s} s; the last: {last}")


def test_the_view_shows_a_broker_down_its_leaderships_moving_and_its_return(
    stack: Stack,
) -> None:
    stack.up("fanout", PRODUCER_INTERVAL_S="0.1")

    def settled(state: dict[str, Any]) -> bool:
        snap = state["snapshot"]
        return (
            [b["up"] for b in snap["brokers"]] == [True] * 3
            and len(snap["groups"]) == 2
            and all(g["coordinator"] is not None for g in snap["groups"])
        )

    snap = web_state(stack, settled, 120)["snapshot"]
    # Kill a broker that leads a partition but coordinates neither group: librdkafka may abort
    # a client whose group request a coordinator's death cuts off (librdkafka#4605).
    coordinators = {g["coordinator"] for g in snap["groups"]}
    leads = {p["leader"] for p in snap["partitions"]}
    victim = min(leads - coordinators)
    service = "kafka" if victim == 1 else f"kafka-{victim}"
    stack.container(service).kill()
    try:

        def moved(state: dict[str, Any]) -> bool:
            snap = state["snapshot"]
            handovers = {(h["kind"], h["of"], h["source"]) for h in snap["handovers"]}
            down = [b["broker_id"] for b in snap["brokers"] if not b["up"]]
            led = [p["partition"] for p in snap["partitions"] if p["leader"] == victim]
            return (
                down == [victim]
                and ("broker", str(victim), None) in handovers
                and any(k == "leader" and s == victim for k, _, s in handovers)
                and not led
            )

        down = web_state(stack, moved, 90)["snapshot"]
        text = [h["text"] for h in down["handovers"]]
        assert f"broker {victim} down" in text
        assert any(f"leader: broker {victim} → broker " in t for t in text), text
    finally:
        stack.compose("up", "-d", "--wait", service)
        stack.reconnect()

    def back(state: dict[str, Any]) -> bool:
        snap = state["snapshot"]
        return any(h["text"] == f"broker {victim} up" for h in snap["handovers"]) and all(
            b["up"] for b in snap["brokers"]
        )

    web_state(stack, back, 120)

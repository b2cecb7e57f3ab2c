"""The shared group scaled with Compose (`--scale consumer-zulu-shared=N`): every replica is a
member of its own, named zulu, zulu-2, ...; Kafka splits the partitions between them and the
members beyond the partition count stay idle."""

from __future__ import annotations

from collections import Counter
from typing import Any

from confluent_kafka import KafkaException

from playground import groups
from playground.groups import Group
from playground.host import wait_until
from playground.records import positions
from tests.e2e.stack import Stack

SENT = 120
SHARED = ("consumer-bravo-shared", "consumer-zulu-shared")


def settled(stack: Stack, members: int, partitions: int) -> Group:
    """The shared group once it is Stable with `members` members owning all `partitions`."""
    group_id = stack.env["SHARED_GROUP_ID"]

    def done() -> Group | None:
        try:
            found = groups.describe(stack.admin, group_id, stack.env["TOPIC"], 5)
        except (KafkaException, TimeoutError):
            return None  # the coordinator may not be up yet
        owned = sorted(found.owners())
        complete = found.state == "Stable" and owned == list(range(partitions))
        return found if complete and len(found.members) == members else None

    return wait_until(done, 90, f"{members} members in {group_id} sharing {partitions} partitions")


def test_six_partitions_go_one_or_two_to_each_of_four_members(stack: Stack) -> None:
    stack.up(
        "shared",
        scale={"consumer-zulu-shared": 3},
        TOPIC_PARTITIONS="6",
        PRODUCER_COUNT=str(SENT),
        PRODUCER_INTERVAL_S="0.02",
    )
    group = settled(stack, members=4, partitions=6)
    owned = {m.client_id: m.partitions for m in group.members}
    assert sorted(owned) == ["bravo", "zulu", "zulu-2", "zulu-3"]
    assert all(1 <= len(p) <= 2 for p in owned.values()), owned
    every = [p for partitions in owned.values() for p in partitions]
    assert sorted(every) == list(range(6)), "disjoint and complete"

    # Together they process everything, once.
    sent = set(stack.wait_sent(SENT))

    def processed() -> list[dict[str, Any]] | None:
        batches = [r for s in SHARED for r in stack.events(s, "batch_processed")]
        done = {p for r in batches for p in positions(r["offsets"])}
        return batches if done >= sent else None

    batches = wait_until(processed, 60, "the four members to process every transaction")
    done = Counter(p for r in batches for p in positions(r["offsets"]))
    assert set(done) == sent, "everything"
    assert max(done.values()) == 1, "once"
    # Each replica logs as itself (which partitions each processed depends on when it
    # joined: the group rebalances as the replicas come up one by one).
    assert {r["client"] for r in batches} <= set(owned)


def test_of_five_members_on_three_partitions_two_are_idle(stack: Stack) -> None:
    stack.up("shared", scale={"consumer-zulu-shared": 4}, PRODUCER_COUNT="3")
    group = settled(stack, members=5, partitions=3)
    owned = {m.client_id: m.partitions for m in group.members}
    assert sorted(owned) == ["bravo", "zulu", "zulu-2", "zulu-3", "zulu-4"]
    assert sorted(len(p) for p in owned.values()) == [0, 0, 1, 1, 1]

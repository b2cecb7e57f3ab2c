"""The two scenarios on the real stack: fan-out duplicates the work, a shared group splits it."""

from __future__ import annotations

from playground.host import wait_until
from playground.records import Position
from tests.e2e.stack import Stack

SENT = 120
SHARED = ("consumer-bravo-shared", "consumer-zulu-shared")


def wait_processed(stack: Stack, positions: set[Position], *services: str) -> None:
    """Wait until the services between them have processed every one of `positions`."""
    wait_until(
        lambda: stack.processed_by(*services) >= positions,
        60,
        f"{' and '.join(services)} to process every transaction sent",
    )


def wait_committed_to_end(stack: Stack, group: str) -> None:
    ends = stack.end_offsets(stack.env["TOPIC"])

    def at_end() -> bool:
        committed = stack.committed(group)
        return all(committed.get(p, 0) == end for p, end in ends.items())

    wait_until(at_end, 30, f"group {group}'s committed offsets to reach {ends}")


def test_fanout_both_consumers_process_every_transaction(stack: Stack) -> None:
    stack.up("fanout", PRODUCER_COUNT=str(SENT), PRODUCER_INTERVAL_S="0.02")
    sent = stack.wait_sent(SENT)
    assert len(set(sent.values())) == SENT, "transaction ids are unique"
    assert {p for p, _ in sent} == {0, 1, 2}, "the key spreads transactions over 3 partitions"

    for service in ("consumer-bravo", "consumer-zulu"):
        wait_processed(stack, set(sent), service)
        assert set(stack.processed(service)) == set(sent)
    for group in (stack.env["BRAVO_GROUP_ID"], stack.env["ZULU_GROUP_ID"]):
        wait_committed_to_end(stack, group)
        assert list(stack.members(group).values()) == [[0, 1, 2]]


def test_shared_group_splits_the_partitions_and_the_work(stack: Stack) -> None:
    group = stack.env["SHARED_GROUP_ID"]
    stack.up("shared", PRODUCER_COUNT=str(SENT), PRODUCER_INTERVAL_S="0.05")

    def split() -> dict[str, list[int]] | None:
        members = stack.members(group)
        return members if len(members) == 2 and all(members.values()) else None

    members = wait_until(split, 60, f"two members in {group}, each owning partitions")
    assert sorted(len(p) for p in members.values()) == [1, 2]
    assert sorted(p for owned in members.values() for p in owned) == [0, 1, 2]

    sent = stack.wait_sent(SENT)
    wait_processed(stack, set(sent), *SHARED)
    bravo = stack.processed("consumer-bravo-shared")
    zulu = stack.processed("consumer-zulu-shared")
    assert bravo, "both members did some of the work"
    assert zulu, "both members did some of the work"
    assert len(bravo) == len(set(bravo)), "nothing twice"
    assert len(zulu) == len(set(zulu)), "nothing twice"
    assert not set(bravo) & set(zulu), "no transaction processed by both"
    assert set(bravo) | set(zulu) == set(sent)
    wait_committed_to_end(stack, group)


def test_both_profiles_run_three_groups_side_by_side(stack: Stack) -> None:
    stack.up("fanout", "shared", PRODUCER_COUNT=str(SENT), PRODUCER_INTERVAL_S="0.02")
    sent = set(stack.wait_sent(SENT))
    for service in ("consumer-bravo", "consumer-zulu"):
        wait_processed(stack, sent, service)
    wait_processed(stack, sent, *SHARED)
    assert not set(stack.processed("consumer-bravo-shared")) & set(
        stack.processed("consumer-zulu-shared")
    )
    for group in ("BRAVO_GROUP_ID", "ZULU_GROUP_ID", "SHARED_GROUP_ID"):
        wait_committed_to_end(stack, stack.env[group])

"""Rebalance behaviour you can choose: incremental protocols and static membership."""

from __future__ import annotations

import pytest

from playground.host import wait_until
from tests.e2e.stack import Stack

BRAVO, ZULU = "consumer-bravo-shared", "consumer-zulu-shared"


def start(stack: Stack, *services: str) -> None:
    stack.compose("--profile", "shared", "up", "-d", "--no-build", *services)


def wait_split(stack: Stack) -> tuple[list[int], list[int]]:
    def split() -> tuple[list[int], list[int]] | None:
        bravo, zulu = stack.owned(BRAVO), stack.owned(ZULU)
        if bravo and zulu and sorted(bravo + zulu) == [0, 1, 2]:
            return bravo, zulu
        return None

    return wait_until(split, 60, "bravo and zulu to split the partitions")


@pytest.mark.parametrize(
    "settings",
    [{"ASSIGNMENT_STRATEGY": "cooperative-sticky"}, {"GROUP_PROTOCOL": "consumer"}],
    ids=["cooperative-sticky", "consumer-protocol"],
)
def test_join_and_leave_move_only_the_partitions_that_must_move(
    stack: Stack, settings: dict[str, str]
) -> None:
    stack.env.update(settings)
    start(stack, BRAVO)
    wait_until(lambda: stack.owned(BRAVO) == [0, 1, 2], 60, "bravo to own every partition")
    alone = len(stack.rebalances(BRAVO))

    start(stack, ZULU)
    _, zulu = wait_split(stack)
    joined = stack.rebalances(BRAVO)[alone:]
    # Bravo gave up exactly what zulu took, and never stopped owning the rest.
    assert all(step["owned"] for step in joined), joined
    assert (
        sorted(p for s in joined if s["event"] == "partitions_revoked" for p in s["partitions"])
        == zulu
    )
    settled = len(stack.rebalances(BRAVO))

    stack.compose("stop", ZULU)
    wait_until(lambda: stack.owned(BRAVO) == [0, 1, 2], 60, "bravo to take zulu's partitions")
    left = stack.rebalances(BRAVO)[settled:]
    assert [s["event"] for s in left] == ["partitions_assigned"], left
    assert left[0]["partitions"] == zulu


def test_a_static_member_restarting_quickly_causes_no_rebalance(stack: Stack) -> None:
    stack.env.update(BRAVO_INSTANCE_ID="bravo-static", ZULU_INSTANCE_ID="zulu-static")
    start(stack, BRAVO, ZULU)
    bravo, zulu = wait_split(stack)
    zulu_steps = len(stack.rebalances(ZULU))

    stack.compose("restart", BRAVO)

    def assigned_after_restart() -> list[int] | None:
        records = stack.records(BRAVO)
        starts = [i for i, r in enumerate(records) if r.get("event") == "consumer_started"]
        after = records[starts[-1] :] if len(starts) == 2 else []
        steps = [r for r in after if r.get("event") == "partitions_assigned"]
        return steps[-1]["owned"] if steps else None

    back = wait_until(assigned_after_restart, 30, "the restarted bravo to be assigned partitions")
    assert back == bravo, "the static member got its own partitions back"
    assert len(stack.rebalances(ZULU)) == zulu_steps, "zulu saw no rebalance"
    assert stack.owned(ZULU) == zulu

"""The live view on the real stack, through `playground-watch --once --json`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from playground.host import wait_until
from tests.e2e.stack import Stack

WATCH = Path(sys.executable).parent / "playground-watch"


def view(stack: Stack) -> dict[str, Any]:
    result = subprocess.run(
        [
            str(WATCH),
            "--once",
            "--json",
            "--interval",
            "0.2",
            "--bootstrap-servers",
            f"localhost:{stack.host_port}",
            "--topic",
            stack.env["TOPIC"],
            "--project",
            stack.project,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def groups(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {g["group_id"]: g for g in data["groups"]}


def owners(group: dict[str, Any]) -> dict[str, list[int]]:
    return {m["client_id"]: m["partitions"] for m in group["members"]}


def split(stack: Stack, group_id: str) -> dict[str, list[int]] | None:
    """The group's members and their partitions once two members own some each."""
    found = groups(view(stack))
    members = owners(found[group_id]) if group_id in found else {}
    return members if len(members) == 2 and all(members.values()) else None


def test_fanout_two_groups_each_member_owns_everything_and_lag_drains(stack: Stack) -> None:
    bravo, zulu = stack.env["BRAVO_GROUP_ID"], stack.env["ZULU_GROUP_ID"]
    stack.up("fanout", PRODUCER_COUNT="60", PRODUCER_INTERVAL_S="0.02")

    def drained() -> dict[str, dict[str, Any]] | None:
        found = groups(view(stack))
        done = set(found) == {bravo, zulu} and all(
            g["lag"] == 0 and sum(o["end_offset"] for o in g["offsets"]) == 60
            for g in found.values()
        )
        return found if done else None

    found = wait_until(drained, 90, "both fan-out groups to show lag 0 after 60 transactions")
    assert owners(found[bravo]) == {"bravo": [0, 1, 2]}
    assert owners(found[zulu]) == {"zulu": [0, 1, 2]}
    for g in found.values():
        assert g["state"] == "Stable"
        assert [o["owner"] for o in g["offsets"]] == [g["members"][0]["client_id"]] * 3


def test_shared_one_group_two_members_split_two_and_one(stack: Stack) -> None:
    shared = stack.env["SHARED_GROUP_ID"]
    stack.up("shared", PRODUCER_INTERVAL_S="0.2")

    members = wait_until(lambda: split(stack, shared), 60, "the shared group to split")
    assert sorted(len(p) for p in members.values()) == [1, 2]
    assert sorted(members["bravo"] + members["zulu"]) == [0, 1, 2]


def test_stopping_one_shared_consumer_shows_the_takeover(stack: Stack) -> None:
    shared = stack.env["SHARED_GROUP_ID"]
    stack.up("shared", PRODUCER_INTERVAL_S="0.2")
    wait_until(lambda: split(stack, shared), 60, "both shared members to own partitions")

    stack.compose("stop", "consumer-bravo-shared")

    seen: dict[str, Any] = {}

    def taken_over() -> list[tuple[str | None, str | None]] | None:
        seen.update(view(stack))
        group = groups(seen).get(shared)
        if not group or owners(group) != {"zulu": [0, 1, 2]}:
            return None
        moves = [
            (m["from"], m["to"])
            for r in seen["rebalances"]
            if r["group_id"] == shared
            for m in r["moves"]
        ]
        return moves if ("bravo", "zulu") in moves else None

    try:
        wait_until(taken_over, 30, "zulu to own all partitions and a rebalance entry bravo → zulu")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; last view: {json.dumps(seen, indent=1)}") from None

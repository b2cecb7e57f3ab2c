"""Starting, stopping and misconfiguring the services on the real stack."""

from __future__ import annotations

import time

import pytest

from playground.host import wait_until
from tests.e2e.stack import Stack


def test_provision_is_idempotent_and_refuses_a_partition_mismatch(stack: Stack) -> None:
    topic = stack.env["TOPIC"]
    stack.up()
    wait_until(lambda: stack.events("provision", "topic_created"), 60, "the topic to be created")

    again = stack.compose("run", "--rm", "--no-deps", "provision", check=False)
    assert again.returncode == 0, again.stderr
    assert '"event": "topic_exists"' in again.stdout
    assert len(stack.admin.list_topics(topic, timeout=10).topics[topic].partitions) == 3

    other = stack.compose(
        "run", "--rm", "--no-deps", "-e", "TOPIC_PARTITIONS=5", "provision", check=False
    )
    assert other.returncode == 1
    assert f"topic '{topic}' exists with 3 partitions, not 5" in other.stderr
    assert len(stack.admin.list_topics(topic, timeout=10).topics[topic].partitions) == 3


@pytest.mark.parametrize(
    ("profile", "service", "group", "survivor"),
    [
        ("fanout", "consumer-bravo", "BRAVO_GROUP_ID", None),
        ("shared", "consumer-bravo-shared", "SHARED_GROUP_ID", "zulu"),
    ],
)
def test_stop_exits_0_in_time_with_the_processed_offsets_committed(
    stack: Stack, profile: str, service: str, group: str, survivor: str | None
) -> None:
    group_id = stack.env[group]
    stack.up(profile, PRODUCER_INTERVAL_S="0.1")
    wait_until(lambda: len(stack.processed(service)) >= 20, 60, f"{service} to process 20")

    started = time.monotonic()
    stack.compose("stop", service)
    elapsed = time.monotonic() - started
    container = stack.container(service)
    assert container.attrs["State"]["ExitCode"] == 0
    assert elapsed < 10, f"stop took {elapsed:.1f} s, past Compose's 10 s grace period"
    assert stack.events(service, "consumer_stopped")

    # The last offset it processed in each partition is committed (as offset + 1), and none
    # beyond: a message is never committed before it was processed.
    last: dict[int, int] = {}
    for partition, offset in stack.processed(service):
        last[partition] = max(last.get(partition, -1), offset)
    committed = stack.committed(group_id)
    if survivor is None:
        assert committed == {p: o + 1 for p, o in last.items()}
    else:
        wait_until(
            lambda: stack.members(group_id) == {survivor: [0, 1, 2]},
            30,
            f"{survivor} to own all three partitions alone",
        )
        assert all(committed.get(p, 0) >= o + 1 for p, o in last.items())


def test_a_bad_setting_stops_the_container_with_exit_code_2(stack: Stack) -> None:
    result = stack.compose(
        "run",
        "--rm",
        "--no-deps",
        "-e",
        "BATCH_SIZE=0",
        "-e",
        "LOG_FORMAT=xml",
        "consumer-bravo",
        check=False,
    )
    assert result.returncode == 2
    assert "BATCH_SIZE='0': must be 1 or more" in result.stderr
    assert "LOG_FORMAT='xml': must be one of: text, json" in result.stderr

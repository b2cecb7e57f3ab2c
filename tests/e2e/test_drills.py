"""Fault drills on the real stack, checked with a ledger: nothing acknowledged is ever lost.

The ledger is built from the producer's delivery reports (what Kafka acknowledged) and the
consumers' batch_processed records (what was processed, repeats included).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from itertools import pairwise

from tests.e2e.stack import Stack, wait_until

SENT = 10_000
BATCH = 50
BRAVO, ZULU = "consumer-bravo-shared", "consumer-zulu-shared"


@dataclass(frozen=True)
class Ledger:
    sent: int
    lost: int
    duplicates: int

    def __str__(self) -> str:
        return f"messages={self.sent} lost={self.lost} duplicates={self.duplicates}"


def ledger(stack: Stack, services: tuple[str, ...], upto: dict[int, int] | None = None) -> Ledger:
    """The ledger of what was sent (below the `upto` end offsets, if given) and processed."""
    sent = {(p, o) for p, o in stack.sent() if upto is None or o < upto.get(p, 0)}
    processed = Counter(p for s in services for p in stack.processed(s))
    return Ledger(
        sent=len(sent),
        lost=len(sent - processed.keys()),
        duplicates=sum(n - 1 for p, n in processed.items() if p in sent and n > 1),
    )


def start_stream(stack: Stack, count: int, **env: str) -> None:
    stack.up(
        "shared",
        PRODUCER_COUNT=str(count),
        PRODUCER_INTERVAL_S="0.003",
        BATCH_SIZE=str(BATCH),
        BATCH_MAX_WAIT_S="0.5",
        PIPELINE="validate,enrich,score",
        # A dead member is noticed after this (the broker's minimum), not the default 45 s.
        SESSION_TIMEOUT_MS="6000",
        **env,
    )
    wait_until(lambda: len(stack.processed(BRAVO)) > 200, 60, "bravo to be busy")


def drain(stack: Stack, count: int) -> Ledger:
    sent = set(stack.wait_sent(count, timeout_s=180))
    wait_until(lambda: stack.processed_by(BRAVO, ZULU) >= sent, 180, "all to be processed")
    return ledger(stack, (BRAVO, ZULU))


def test_kill_9_three_times_then_graceful_restarts_lose_nothing(stack: Stack) -> None:
    start_stream(stack, SENT)
    group = stack.env["SHARED_GROUP_ID"]
    duplicates_before = 0
    for kill in range(1, 4):
        # SIGKILL: no revoke, no final commit; the batch in flight is processed again.
        stack.compose("kill", "-s", "SIGKILL", BRAVO)
        stack.compose("start", BRAVO)
        ends = caught_up(stack, group, (BRAVO, ZULU))
        now = ledger(stack, (BRAVO, ZULU), upto=ends)
        print(f"\nafter kill -9 number {kill}: {now}")
        assert now.lost == 0, f"kill {kill}: {now}"
        assert now.duplicates - duplicates_before <= BATCH, f"kill {kill}: {now}"
        duplicates_before = now.duplicates

    # Graceful stops: the batch in hand is finished and committed, nothing is repeated.
    stack.compose("stop", BRAVO, ZULU)
    stack.compose("start", BRAVO, ZULU)

    final = drain(stack, SENT)
    print(f"\nledger after 3 kills and a graceful restart: {final}")
    assert final.sent == SENT
    assert final.lost == 0
    assert final.duplicates == duplicates_before, "no duplicates from the graceful stops"


def caught_up(stack: Stack, group: str, services: tuple[str, ...]) -> dict[int, int]:
    """Wait until the group has committed everything the topic held when this was called, and
    the logs show it processed: by then anything a fault made it read again was read again."""
    ends = stack.end_offsets(stack.env["TOPIC"])

    def done() -> bool:
        committed = stack.committed(group)
        if not all(committed.get(p, 0) >= end for p, end in ends.items()):
            return False
        before_ends = {(p, o) for p, o in stack.sent() if o < ends.get(p, 0)}
        return stack.processed_by(*services) >= before_ends

    wait_until(done, 90, f"{group} to commit and log up to {ends}")
    return ends


def test_a_paused_consumer_loses_its_partitions_and_its_late_commits_are_refused(
    stack: Stack,
) -> None:
    group = stack.env["SHARED_GROUP_ID"]
    start_stream(stack, 5_000, MAX_POLL_INTERVAL_MS="7000")
    watermarks: list[dict[int, int]] = [stack.committed(group)]

    stack.container(BRAVO).pause()
    try:
        # Silent past session.timeout.ms and max.poll.interval.ms: evicted, zulu takes over.
        wait_until(
            lambda: stack.members(group) == {"zulu": [0, 1, 2]},
            60,
            "zulu to own every partition while bravo is paused",
        )
        watermarks.append(stack.committed(group))
    finally:
        stack.container(BRAVO).unpause()

    def rejoined() -> bool:
        watermarks.append(stack.committed(group))
        members = stack.members(group)
        return len(members) == 2 and all(members.values())

    wait_until(rejoined, 60, "bravo to rejoin the group")
    final = drain(stack, 5_000)
    watermarks.append(stack.committed(group))
    print(f"\nledger after a pause: {final}")
    assert final.lost == 0
    # Whatever bravo tried to commit when it woke up was refused: no committed offset ever
    # went back, although bravo held older offsets than zulu had committed meanwhile.
    for earlier, later in pairwise(watermarks):
        assert all(later.get(p, 0) >= o for p, o in earlier.items()), (earlier, later)
    woke = [r.get("event") for r in stack.records(BRAVO)]
    assert "partitions_lost" in woke or "commit_failed" in woke, "bravo noticed it was fenced"


def test_the_broker_restarting_mid_stream_loses_nothing(stack: Stack) -> None:
    start_stream(stack, 5_000)
    started = {s: stack.container(s).attrs["State"]["StartedAt"] for s in ("producer", BRAVO, ZULU)}

    stack.compose("restart", "kafka")

    final = drain(stack, 5_000)
    print(f"\nledger after a broker restart: {final}")
    assert final.lost == 0
    # Duplicates are expected here (commits fail while the broker is away, and consumers go
    # on processing until it returns); how many is printed, not yet bounded: see issue 3.
    for service, at in started.items():
        assert stack.container(service).attrs["State"]["StartedAt"] == at, (
            f"{service} recovered by itself, without a container restart"
        )

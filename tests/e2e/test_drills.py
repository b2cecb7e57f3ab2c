"""Fault drills on the real stack, checked with a ledger: nothing acknowledged is ever lost.

The ledger is built from the producer's delivery reports (what Kafka acknowledged) and the
consumers' batch_processed records (what was processed, repeats included).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from tests.e2e.stack import Position, Stack, wait_until

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


def processed_all(stack: Stack, services: tuple[str, ...], sent: set[Position]) -> bool:
    return set().union(*(set(stack.processed(s)) for s in services)) >= sent


def test_kill_9_three_times_then_graceful_restarts_lose_nothing(stack: Stack) -> None:
    stack.up(
        "shared",
        PRODUCER_COUNT=str(SENT),
        PRODUCER_INTERVAL_S="0.003",
        # A killed member is noticed after this (the broker's minimum), not the default 45 s.
        SESSION_TIMEOUT_MS="6000",
        BATCH_SIZE=str(BATCH),
        BATCH_MAX_WAIT_S="0.5",
        PIPELINE="validate,enrich,score",
    )
    wait_until(lambda: len(stack.processed(BRAVO)) > 200, 60, "bravo to be busy")

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
        assert now.duplicates - duplicates_before <= 2 * BATCH, f"kill {kill}: {now}"
        duplicates_before = now.duplicates

    # Graceful stops: the batch in hand is finished and committed, nothing is repeated.
    stack.compose("stop", BRAVO, ZULU)
    stack.compose("start", BRAVO, ZULU)

    def everything_sent() -> set[Position] | None:
        sent = set(stack.sent())
        return sent if len(sent) == SENT else None

    sent = wait_until(everything_sent, 120, f"the producer to send {SENT}")
    wait_until(lambda: processed_all(stack, (BRAVO, ZULU), sent), 120, "all to be processed")
    final = ledger(stack, (BRAVO, ZULU))
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
        return processed_all(stack, services, before_ends)

    wait_until(done, 90, f"{group} to commit and log up to {ends}")
    return ends

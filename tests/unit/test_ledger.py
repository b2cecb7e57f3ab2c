"""The chaos ledger: the balance counts what a user expects; share repeats are explained."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import cast

from chaos import ledger
from chaos.drills import Drills, OutputCheck
from chaos.ledger import Ledger
from chaos.playground import Playground

T0 = datetime(2026, 11, 29, 12, tzinfo=UTC)


def test_balance_counts_lost_and_repeats_of_what_was_sent_only() -> None:
    sent = [(0, 0), (0, 1), (1, 0), (1, 1)]
    processed = Counter({(0, 0): 1, (0, 1): 3, (1, 0): 2, (9, 9): 5})  # (9, 9): not ours
    assert ledger.balance(sent, processed) == Ledger(sent=4, lost=1, duplicates=3)


def test_outputs_balance_per_guarantee() -> None:
    """Exactly-once allows no duplicate output; at-least-once its faults' batches in flight;
    neither a lost one."""

    def check(guarantee: str, lost: int, duplicates: int, allowed: int) -> bool:
        return OutputCheck(guarantee, guarantee, Ledger(100, lost, duplicates), allowed, 0).ok

    assert check("exactly-once", 0, 0, 0)
    assert not check("exactly-once", 0, 1, 0)
    assert not check("exactly-once", 1, 0, 0)
    assert check("at-least-once", 0, 150, 200)
    assert not check("at-least-once", 0, 201, 200)
    assert not check("at-least-once", 1, 0, 200)


def test_a_share_record_handled_again_needs_a_kill_or_a_failed_acknowledgement_before() -> None:
    drills = Drills(cast(Playground, None), say=lambda _: None)
    t = [T0 + timedelta(seconds=s) for s in range(10)]
    drills._handled = {
        (0, 1): [(t[0], "bravo", 1, "accept"), (t[3], "zulu", 2, "accept")],  # bravo killed
        (0, 2): [(t[4], "zulu", 1, "accept"), (t[6], "zulu", 1, "accept")],  # ack failed
        (1, 3): [(t[0], "zulu", 1, "reject")],  # rejected once: fine
        (1, 4): [(t[7], "zulu", 1, "accept"), (t[9], "bravo", 2, "accept")],  # unexplained
        (2, 5): [(t[4], "zulu", 1, "reject"), (t[8], "bravo", 2, "reject")],  # again after reject
    }
    drills._kills = {"bravo": [t[1]]}
    drills._ack_failed = {"zulu": [(t[5], 0), (t[8], 2)]}  # partition 0; and 2, not 1
    drills._check_redeliveries("fault")
    drills._check_redeliveries("later")  # each record reported once
    assert [p.split(" handled")[0].split(" delivered")[0] for p in drills.report.problems] == [
        "fault: p1@4",
        "fault: p2@5",
    ]
    assert "after its reject" in drills.report.problems[1]

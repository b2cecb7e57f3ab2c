"""The web page's state, built from the watch's snapshots: lag history, colours, problems."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from confluent_kafka import ConsumerGroupState, Node, TopicPartition
from confluent_kafka.admin import (  # type: ignore[attr-defined]
    ConsumerGroupDescription,
    MemberAssignment,
    MemberDescription,
)

from playground import groups
from playground.host import wait_until
from playground.logs import MARKS, OTHER_MARKS, mark
from tests.unit.test_watch import T0, group, make_snapshot
from watch.broker import view
from watch.model import Move, Rebalance, Snapshot
from web.feed import (
    COLOURS,
    NO_DOCKER,
    Feed,
    Lags,
    clients,
    distinct,
    page_state,
    remember_lags,
)
from web.server import Server

ENDS = {0: 10, 1: 10, 2: 10}


def test_every_terminal_mark_has_a_colour_on_the_page() -> None:
    assert set(COLOURS) == {*MARKS.values(), *OTHER_MARKS}


def test_clients_carry_the_terminal_mark_and_its_colour() -> None:
    snapshot = make_snapshot(T0, ENDS, (group("g", {"bravo": (0, 1), "zulu": (2,)}, {}, ENDS),))
    moved = Rebalance(T0, "g", (Move(2, "alpha", "zulu"),))  # a client gone since
    found = clients(replace(snapshot, rebalances=(moved,)))
    assert found["bravo"] == {"mark": "🟣", "colour": COLOURS["🟣"]}
    assert found["zulu"] == {"mark": "🔵", "colour": COLOURS["🔵"]}
    assert found["alpha"]["mark"] == mark("alpha")


def test_the_lag_history_keeps_the_last_minute_per_group_and_partition() -> None:
    lags: Lags = {}
    for second in range(0, 91):
        lag = {0: second, 1: 0, 2: 0}
        committed = {p: ENDS[p] - lag[p] for p in ENDS}
        snapshot = make_snapshot(
            T0 + timedelta(seconds=second),
            ENDS,
            (group("g", {"bravo": (0, 1, 2)}, committed, ENDS),),
        )
        remember_lags(lags, snapshot)
    series = [lag for _, lag in lags[("g", 0)]]
    assert series == list(range(30, 91))  # 60 s back from 90 s, both ends kept
    remember_lags(lags, make_snapshot(T0 + timedelta(seconds=91), ENDS, ()))
    assert lags == {}  # a group that is gone takes its history with it


def test_problems_are_named_and_go_away_with_their_cause() -> None:
    empty = group("lonely", {}, {0: 5}, ENDS)
    busy = group("busy", {"bravo": (0, 1, 2)}, {0: 5}, ENDS)
    snapshot = make_snapshot(T0, ENDS, (empty, busy))
    state = page_state(snapshot, {}, "Kafka broker unreachable at kafka:19092: down", NO_DOCKER, T0)
    kinds = {e["kind"]: e["text"] for e in state["errors"]}
    assert kinds["broker"] == "Kafka broker unreachable at kafka:19092: down"
    assert kinds["docker"] == "no rebalance history: Docker socket unavailable"
    assert kinds["group"].startswith("group lonely has no members")
    assert state["stale"] is True
    healthy = make_snapshot(T0, ENDS, (busy,))
    assert page_state(healthy, {}, None, None, T0)["errors"] == []
    assert page_state(healthy, {}, None, None, T0)["stale"] is False


def test_the_state_is_json_with_the_snapshot_and_its_sparklines() -> None:
    lags: Lags = {}
    snapshot = make_snapshot(T0, ENDS, (group("g", {"bravo": (0, 1, 2)}, {0: 7}, ENDS),))
    remember_lags(lags, snapshot)
    state = json.loads(json.dumps(page_state(snapshot, lags, None, None, T0)))
    assert state["snapshot"]["groups"][0]["members"][0]["partitions"] == [0, 1, 2]
    assert state["lag_history"] == {"g/0": [3], "g/1": [10], "g/2": [10]}
    assert state["updated"] == T0.isoformat()


def test_static_members_carry_their_instance_id_to_the_page() -> None:
    member = MemberDescription(
        "m-1",
        "bravo",
        "/10.0.0.7",
        MemberAssignment([TopicPartition("transactions", 0)]),
        group_instance_id="bravo-1",
    )
    description = ConsumerGroupDescription(
        "g", False, [member], "range", ConsumerGroupState.STABLE, Node(1, "kafka", 9092)
    )
    found = view(groups.group(description, {}, "transactions"), {0: 1})
    assert found.members[0].instance_id == "bravo-1"
    snapshot = make_snapshot(T0, {0: 1}, (found,))
    assert (
        page_state(snapshot, {}, None, None, T0)["snapshot"]["groups"][0]["members"][0][
            "instance_id"
        ]
        == "bravo-1"
    )


def test_a_rebalance_both_logged_and_seen_is_shown_once() -> None:
    s = timedelta(seconds=1)
    joined = Rebalance(T0, "g", (Move(2, "bravo", "zulu"),))
    seen_too = Rebalance(T0 + 1 * s, "g", joined.moves)  # the page saw it a second later
    other = Rebalance(T0 + 2 * s, "other", joined.moves)
    back = Rebalance(T0 + 3 * s, "g", (Move(2, "zulu", "bravo"),))
    again = Rebalance(T0 + 4 * s, "g", joined.moves)  # a real one: something happened between
    late = Rebalance(T0 + 10 * s, "g", joined.moves)  # and one long after the last
    shown = [back, again, other, joined, seen_too, late]
    assert distinct(shown) == [joined, other, back, again, late]
    snapshot = replace(make_snapshot(T0, ENDS, ()), rebalances=(joined, seen_too))
    assert len(page_state(snapshot, {}, None, None, T0)["snapshot"]["rebalances"]) == 1


def test_the_page_shows_the_latest_chaos_run_s_ledger_rows() -> None:
    from playground import ledgerfeed

    raw = [
        ledgerfeed.encode({"run": "a", "started": True}),
        ledgerfeed.encode({"run": "a", "fault": "kill -9 #1", "group": "g", "lost": 0}),
        b"not a row",
        ledgerfeed.encode({"run": "b", "started": True}),
        ledgerfeed.encode({"run": "b", "fault": "pause", "group": "g", "lost": 0}),
    ]
    rows = [r for m in raw if (r := ledgerfeed.decode(m)) is not None]
    latest = ledgerfeed.latest_run(rows)
    assert [r.get("fault") for r in latest] == [None, "pause"]
    assert ledgerfeed.latest_run([]) == []
    assert ledgerfeed.topic_for("transactions") == "transactions.ledger"
    state = page_state(None, {}, None, None, None, latest)
    assert json.loads(json.dumps(state))["ledger"] == latest


class CountingBroker:
    """Answers every snapshot with the same group, counting how often it was asked."""

    def __init__(self) -> None:
        self.asked = 0

    def snapshot(self, group_ids: tuple[str, ...] = ()) -> Snapshot:
        self.asked += 1
        bravo = group("g", {"bravo": (0, 1, 2)}, ENDS, ENDS)
        return make_snapshot(datetime.now(UTC), ENDS, (bravo,))


@pytest.fixture
def running() -> Iterator[tuple[Feed, CountingBroker]]:
    """A feed stepping every 50 ms while watched, in its own thread, on a counting broker."""
    broker = CountingBroker()
    feed = Feed(cast(Any, lambda: broker), (), lambda: [], interval=0.05, where="test")
    thread = threading.Thread(target=feed.run, daemon=True)
    thread.start()
    yield feed, broker
    feed.stop()
    thread.join(1)
    assert not thread.is_alive(), "the feed did not stop when told"


def test_with_no_page_open_the_feed_asks_the_broker_seldom_and_a_page_wakes_it(
    running: tuple[Feed, CountingBroker],
) -> None:
    feed, broker = running
    wait_until(lambda: broker.asked == 1, 5, "the feed's first step")
    time.sleep(0.5)  # ten intervals: nobody watches, so no step (the next is 10 s away)
    assert broker.asked == 1
    feed.open_stream()
    wait_until(lambda: broker.asked >= 5, 5, "a step every interval while the page is open")
    feed.close_stream()
    assert not feed.watched()


def test_state_asked_with_no_page_open_is_fresh_and_counts_as_watching(
    running: tuple[Feed, CountingBroker],
) -> None:
    feed, broker = running
    wait_until(lambda: broker.asked == 1, 5, "the feed's first step")
    first = json.loads(feed.text)["updated"]
    state = json.loads(feed.state(timeout_s=5))
    assert broker.asked >= 2
    assert state["updated"] > first
    assert feed.watched()
    wait_until(lambda: broker.asked >= 5, 5, "a step every interval after /state")


@pytest.mark.parametrize("gone", [BrokenPipeError, ConnectionResetError])
def test_a_client_gone_before_its_answer_leaves_no_traceback(
    gone: type[OSError], capsys: pytest.CaptureFixture[str]
) -> None:
    feed = Feed(cast(Any, lambda: CountingBroker()), (), lambda: [], interval=1, where="test")
    server = Server(("127.0.0.1", 0), feed)
    try:
        for error in (gone(), ValueError("ours")):
            try:
                raise error
            except (OSError, ValueError):
                server.handle_error(None, ("127.0.0.1", 1))
    finally:
        server.server_close()
    printed = capsys.readouterr().err
    assert gone.__name__ not in printed
    assert "ValueError: ours" in printed  # any other error is still printed

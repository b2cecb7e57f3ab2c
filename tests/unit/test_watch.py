"""The live view's pure parts: rates, ownership moves, the rebalance timeline, the drawing."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from confluent_kafka import ConsumerGroupState, ConsumerGroupType, Node, TopicPartition
from confluent_kafka.admin import (  # type: ignore[attr-defined]
    ConsumerGroupDescription,
    MemberAssignment,
    MemberDescription,
)
from syrupy.assertion import SnapshotAssertion

from playground import groups
from watch.broker import view
from watch.model import (
    BrokerView,
    GroupView,
    Handover,
    MemberView,
    Move,
    OffsetView,
    OutputView,
    PartitionView,
    Rebalance,
    ShareGroupView,
    Snapshot,
    handovers_between,
    moves_between,
    with_rates,
)
from watch.render import as_text
from watch.shares import Activity, members
from watch.timeline import (
    SETTLE_TIMEOUT,
    OwnershipEvent,
    extend,
    from_events,
    observed,
    parse_line,
)

T0 = datetime(2026, 11, 29, 10, 0, 0, tzinfo=UTC)


def group(
    group_id: str,
    owners: dict[str, tuple[int, ...]],
    committed: dict[int, int],
    ends: dict[int, int],
) -> GroupView:
    members = tuple(MemberView(c, f"10.0.0.{i}", ps) for i, (c, ps) in enumerate(owners.items()))
    who = {p: c for c, ps in owners.items() for p in ps}
    offsets = tuple(
        OffsetView(p, committed.get(p), end, end - committed.get(p, 0), who.get(p))
        for p, end in ends.items()
    )
    return GroupView(group_id, "Stable", "Classic", "range", members, offsets)


def make_snapshot(time: datetime, ends: dict[int, int], groups: tuple[GroupView, ...]) -> Snapshot:
    partitions = tuple(PartitionView(p, e) for p, e in ends.items())
    return Snapshot(time, "transactions", partitions, groups)


def test_moves_name_the_old_and_new_owner_of_each_changed_partition() -> None:
    before = {0: "bravo", 1: "bravo", 2: "zulu"}
    after = {0: "zulu", 1: "bravo", 2: "zulu", 3: "bravo"}
    assert moves_between(before, after) == (Move(0, "bravo", "zulu"), Move(3, None, "bravo"))
    assert moves_between(after, after) == ()


def test_rates_come_from_offsets_growing_between_snapshots() -> None:
    ends0, ends1 = {0: 100, 1: 50}, {0: 120, 1: 50}
    g0 = group("g", {"bravo": (0,), "zulu": (1,)}, {0: 90, 1: 50}, ends0)
    g1 = group("g", {"bravo": (0,), "zulu": (1,)}, {0: 110, 1: 50}, ends1)
    rated = with_rates(
        make_snapshot(T0, ends0, (g0,)), make_snapshot(T0 + timedelta(seconds=2), ends1, (g1,))
    )
    assert [p.rate for p in rated.partitions] == [10.0, 0.0]
    assert [m.processed_per_s for m in rated.groups[0].members] == [10.0, 0.0]


def test_the_first_snapshot_has_no_rates() -> None:
    only = make_snapshot(T0, {0: 5}, ())
    assert with_rates(None, only).partitions[0].rate is None


def test_parse_line_reads_json_records_and_text_lines() -> None:
    record = {
        "event": "partitions_assigned",
        "client": "zulu",
        "group_id": "g",
        "partitions": [2],
        "owned": [0, 2],
    }
    from_json = parse_line(T0, json.dumps(record), "ignored", "ignored")
    assert from_json == OwnershipEvent(T0, "g", "zulu", frozenset({0, 2}))
    text = "10:00:00 [client 🟣 BRAVO] 📤 Partitions revoked: [0, 1, 2] (now owns [])"
    assert parse_line(T0, text, "bravo", "g") == OwnershipEvent(T0, "g", "bravo", frozenset())
    assert parse_line(T0, "10:00:00 Received batch of 3 transactions", "bravo", "g") is None
    assert parse_line(T0, '{"event": "batch_processed"}', "bravo", "g") is None


def test_a_rebalance_runs_until_every_partition_has_an_owner_again() -> None:
    s = timedelta(seconds=1)
    events = [
        OwnershipEvent(T0, "g", "bravo", frozenset({0, 1, 2})),  # bravo alone
        OwnershipEvent(T0 + 1 * s, "g", "bravo", frozenset()),  # zulu joins: eager revoke
        OwnershipEvent(T0 + 1 * s, "g", "bravo", frozenset({0, 1})),
        OwnershipEvent(T0 + 2 * s, "g", "zulu", frozenset({2})),
        OwnershipEvent(T0 + 3 * s, "g", "zulu", frozenset()),  # bravo stops: eager revoke
        OwnershipEvent(T0 + 3 * s, "g", "bravo", frozenset()),
        OwnershipEvent(T0 + 4 * s, "g", "zulu", frozenset({0, 1, 2})),
        OwnershipEvent(T0 + 9 * s, "g", "zulu", frozenset()),  # zulu stops: nobody left
    ]
    rebalances = from_events(events, partitions=range(3))
    assert [(r.time - T0).seconds for r in rebalances] == [0, 1, 3, 9]
    assert rebalances[0].moves == tuple(Move(p, None, "bravo") for p in (0, 1, 2))
    assert rebalances[1].moves == (Move(2, "bravo", "zulu"),)
    assert rebalances[2].moves == (Move(0, "bravo", "zulu"), Move(1, "bravo", "zulu"))
    assert rebalances[3].moves == tuple(Move(p, "zulu", None) for p in (0, 1, 2))


def test_events_that_change_nothing_are_no_rebalance() -> None:
    same = [OwnershipEvent(T0, "g", "bravo", frozenset({0, 1, 2}))] * 2
    assert len(from_events(same, partitions=range(3))) == 1


def test_the_view_sees_moves_between_its_own_snapshots() -> None:
    ends = {0: 1, 1: 1, 2: 1}
    before = make_snapshot(T0, ends, (group("g", {"bravo": (0, 1), "zulu": (2,)}, {}, ends),))
    after = make_snapshot(
        T0 + timedelta(seconds=1), ends, (group("g", {"zulu": (0, 1, 2)}, {}, ends),)
    )
    [rebalance] = observed(before, after)
    assert rebalance.moves == (Move(0, "bravo", "zulu"), Move(1, "bravo", "zulu"))
    assert observed(after, after) == []


def test_a_group_that_appears_later_is_seen_taking_its_partitions() -> None:
    ends = {0: 1, 1: 1, 2: 1}
    first = make_snapshot(T0, ends, ())
    later = make_snapshot(
        T0 + timedelta(seconds=1), ends, (group("g", {"bravo": (0, 1, 2)}, {}, ends),)
    )
    [rebalance] = observed(first, later)
    assert rebalance.moves == tuple(Move(p, None, "bravo") for p in (0, 1, 2))
    assert observed(None, later) == []  # what was there before the view started is no news


def test_an_eager_rebalance_seen_in_two_steps_is_one_entry() -> None:
    s = timedelta(seconds=1)
    history = [Rebalance(T0, "g", (Move(2, "bravo", "zulu"),))]  # complete: zulu joined
    # bravo leaves: zulu gives up p2 too, then gets all three back.
    extend(
        history,
        [
            Rebalance(
                T0 + 10 * s,
                "g",
                (Move(0, "bravo", None), Move(1, "bravo", None), Move(2, "zulu", None)),
            )
        ],
    )
    extend(history, [Rebalance(T0 + 11 * s, "other", (Move(0, None, "alpha"),))])
    extend(history, [Rebalance(T0 + 12 * s, "g", tuple(Move(p, None, "zulu") for p in (0, 1, 2)))])
    assert history == [
        Rebalance(T0, "g", (Move(2, "bravo", "zulu"),)),
        Rebalance(T0 + 10 * s, "g", (Move(0, "bravo", "zulu"), Move(1, "bravo", "zulu"))),
        Rebalance(T0 + 11 * s, "other", (Move(0, None, "alpha"),)),
    ]
    # Complete, it takes no more: the next one is an entry of its own.
    extend(history, [Rebalance(T0 + 13 * s, "g", (Move(0, "zulu", "bravo"),))])
    assert len(history) == 4


def test_partitions_left_without_an_owner_for_long_end_the_rebalance() -> None:
    gone = Rebalance(T0, "g", (Move(0, "bravo", None),))
    history = [gone]
    back = Rebalance(T0 + SETTLE_TIMEOUT + timedelta(seconds=1), "g", (Move(0, None, "bravo"),))
    extend(history, [back])
    assert history == [gone, back]


def test_rendering_fanout_and_shared_side_by_side(snapshot: SnapshotAssertion) -> None:
    def groups(committed: dict[str, dict[int, int]], ends: dict[int, int]) -> tuple[GroupView, ...]:
        return (
            group("test_group_bravo", {"bravo": (0, 1, 2)}, committed["bravo"], ends),
            group("test_group_shared", {"bravo": (0, 1), "zulu": (2,)}, committed["shared"], ends),
            group("test_group_zulu", {"zulu": (0, 1, 2)}, committed["zulu"], ends),
        )

    ends0, ends = {0: 1190, 1: 975, 2: 1100}, {0: 1200, 1: 980, 2: 1105}
    before = {"bravo": ends0, "shared": {0: 1180, 1: 975, 2: 1100}, "zulu": ends0}
    after = {
        "bravo": {0: 1200, 1: 975, 2: 1105},
        "shared": {0: 1190, 1: 980, 2: 1100},
        "zulu": {0: 1200, 1: 980, 2: 1101},
    }
    previous = make_snapshot(T0, ends0, groups(before, ends0))
    current = make_snapshot(T0 + timedelta(seconds=5), ends, groups(after, ends))
    shared = "test_group_shared"
    history = from_events(
        [
            OwnershipEvent(T0 - timedelta(minutes=2), shared, "zulu", frozenset({0, 1, 2})),
            OwnershipEvent(T0 - timedelta(minutes=1), shared, "zulu", frozenset({2})),
            OwnershipEvent(T0 - timedelta(minutes=1), shared, "bravo", frozenset({0, 1})),
        ],
        partitions=range(3),
    )
    framed = replace(with_rates(previous, current), rebalances=tuple(history))
    assert as_text(framed, width=130) == snapshot


def description(
    state: ConsumerGroupState, kind: ConsumerGroupType = ConsumerGroupType.CLASSIC
) -> ConsumerGroupDescription:
    """What describe_consumer_groups() returns for a group of bravo and zulu in `state`."""
    member = MemberDescription(
        "m-1",
        "bravo",
        "/10.0.0.7",
        MemberAssignment([TopicPartition("transactions", 0), TopicPartition("other", 5)]),
    )
    return ConsumerGroupDescription(
        "g", False, [member], "range", state, Node(1, "kafka", 9092), type=kind
    )


# Kafka's names for the states (kafka-consumer-groups.sh --describe --state), one per state
# confluent-kafka reports; Assigning and Reconciling (KIP-848) reach it as UNKNOWN.
KAFKA_STATES = {
    ConsumerGroupState.STABLE: "Stable",
    ConsumerGroupState.PREPARING_REBALANCING: "PreparingRebalance",
    ConsumerGroupState.COMPLETING_REBALANCING: "CompletingRebalance",
    ConsumerGroupState.EMPTY: "Empty",
    ConsumerGroupState.DEAD: "Dead",
    ConsumerGroupState.UNKNOWN: "Unknown",
}


def test_every_state_the_client_reports_has_a_kafka_name() -> None:
    assert set(ConsumerGroupState) == set(KAFKA_STATES)


@pytest.mark.parametrize(("state", "name"), KAFKA_STATES.items(), ids=KAFKA_STATES.values())
def test_the_view_shows_each_group_state_by_kafka_s_name(
    state: ConsumerGroupState, name: str
) -> None:
    found = groups.group(description(state), {0: 90}, "transactions")
    ends = {0: 100, 1: 50}
    shown = as_text(make_snapshot(T0, ends, (view(found, ends),)), width=100)
    assert f"g · {name} " in shown
    assert found.members == (groups.Member("bravo", "10.0.0.7", (0,)),)  # our topic's only


def test_a_state_a_later_client_adds_is_spelled_as_kafka_spells_it() -> None:
    assert groups.state_name("ASSIGNING") == "Assigning"
    assert groups.state_name(None) == "Unknown"


def test_the_protocol_is_named_as_kafka_names_it() -> None:
    def protocol(kind: ConsumerGroupType) -> str:
        return groups.group(description(ConsumerGroupState.STABLE, kind), {}).protocol

    assert protocol(ConsumerGroupType.CONSUMER) == "Consumer"
    assert protocol(ConsumerGroupType.CLASSIC) == "Classic"


def test_on_a_cluster_each_partition_shows_leader_replicas_and_isr() -> None:
    time = datetime(2026, 11, 29, 12, tzinfo=UTC)
    partitions = (
        PartitionView(0, 10, leader=2, replicas=(1, 2, 3), isr=(2, 3)),
        PartitionView(1, 20, leader=2, replicas=(2, 3, 1), isr=(2, 3, 1)),
    )
    text = as_text(Snapshot(time, "transactions", partitions, ()))
    rows = [line.split() for line in text.splitlines() if line.strip("│ ")[:1].isdigit()]
    assert rows[0][1:8] == ["0", "10", "-", "2", "1,2,3", "2,3", "under-replicated"]
    assert rows[1][1:8] == ["1", "20", "-", "2", "2,3,1", "2,3,1", "│"]


def test_a_single_broker_shows_no_replication_columns() -> None:
    time = datetime(2026, 11, 29, 12, tzinfo=UTC)
    partitions = (PartitionView(0, 10, leader=1, replicas=(1,), isr=(1,)),)
    assert "in sync" not in as_text(Snapshot(time, "transactions", partitions, ()))


def test_the_output_topic_shows_an_open_transaction_as_a_gap_below_the_high_watermark() -> None:
    time = datetime(2026, 11, 29, 12, tzinfo=UTC)
    output = (OutputView(0, 120, 120), OutputView(1, 95, 140))  # p1: a transaction is open
    snap = Snapshot(time, "transactions", (PartitionView(0, 10),), (), output=output)
    text = as_text(snap, width=130)
    assert "Output transactions.processed" in text
    rows = {line.split()[1]: line.split()[1:] for line in text.splitlines() if "│" in line}
    assert rows["0"][:4] == ["0", "120", "120", "0"]
    assert rows["1"][:6] == ["1", "95", "140", "45", "transaction", "open"]
    assert snap.to_json()["output"][1] == {"partition": 1, "stable_offset": 95, "end_offset": 140}


def test_without_an_output_topic_the_view_has_no_output_panel() -> None:
    time = datetime(2026, 11, 29, 12, tzinfo=UTC)
    snap = Snapshot(time, "transactions", (PartitionView(0, 10),), ())
    assert "Output" not in as_text(snap)


def test_a_share_group_shows_each_member_s_partitions_and_acknowledgements() -> None:
    activity = {c: Activity("test_share_group") for c in ("zulu", "bravo")}
    for client, partition, ack, count in [
        ("bravo", 0, "accept", 1),
        ("bravo", 2, "release", 1),
        ("zulu", 2, "accept", 2),
        ("zulu", 1, "reject", 1),
        ("zulu", 1, "accept", 1),
    ]:
        activity[client].add(
            {
                "event": "record_acknowledged",
                "partition": partition,
                "ack": ack,
                "delivery_count": count,
            }
        )
    activity["zulu"].add({"event": "consumer_started"})
    [bravo, zulu] = members(activity)["test_share_group"]
    assert (bravo.client_id, bravo.partitions, bravo.accepted, bravo.released) == (
        "bravo",
        (0, 2),
        1,
        1,
    )
    assert (zulu.partitions, zulu.accepted, zulu.rejected, zulu.redelivered) == ((1, 2), 2, 1, 1)

    share = ShareGroupView("test_share_group", 5000, 5, (bravo, zulu))
    snap = Snapshot(T0, "transactions", (PartitionView(0, 10),), (), share_groups=(share,))
    text = as_text(snap, width=100)
    assert "test_share_group · share group" in text
    assert "record lock 5,000 ms, delivery count limit 5" in text
    assert "in flight and archived: not told" in text
    assert json.loads(json.dumps(snap.to_json()))["share_groups"][0]["members"][1]["rejected"] == 1


def cluster_snapshot(
    time: datetime, leaders: tuple[int, ...], coordinator: int, down: tuple[int, ...] = ()
) -> Snapshot:
    partitions = tuple(
        PartitionView(p, 10, leader=leader, replicas=(1, 2, 3), isr=(1, 2, 3))
        for p, leader in enumerate(leaders)
    )
    shared = replace(group("shared", {"bravo": (0, 1, 2)}, {}, {0: 10}), coordinator=coordinator)
    brokers = tuple(BrokerView(b, b not in down) for b in (1, 2, 3))
    return Snapshot(time, "transactions", partitions, (shared,), brokers=brokers)


def test_a_broker_s_death_moves_leaders_and_coordinators_and_each_move_is_a_handover() -> None:
    before = cluster_snapshot(T0, leaders=(1, 2, 3), coordinator=1)
    after = cluster_snapshot(T0 + timedelta(seconds=1), (2, 2, -1), coordinator=3, down=(1,))
    assert [str(h) for h in handovers_between(before, after)] == [
        "broker 1 down",
        "partition 0 leader: broker 1 → broker 2",
        "partition 2 leader: broker 3 → none",
        "shared coordinator: broker 1 → broker 3",
    ]
    back = cluster_snapshot(T0 + timedelta(seconds=2), (2, 2, 3), coordinator=3)
    assert [str(h) for h in handovers_between(after, back)] == [
        "broker 1 up",
        "partition 2 leader: none → broker 3",
    ]
    assert handovers_between(None, before) == []
    assert handovers_between(back, back) == []


def test_on_a_cluster_the_view_shows_brokers_coordinators_and_handovers() -> None:
    snapshot = replace(
        cluster_snapshot(T0, leaders=(2, 2, 3), coordinator=3, down=(1,)),
        handovers=(Handover(T0, "leader", "0", 1, 2),),
    )
    text = as_text(snapshot)
    assert "brokers: 1 DOWN, 2 up, 3 up" in text
    assert "shared · Stable · coordinator 3" in text
    assert "10:00:00 cluster partition 0 leader: broker 1 → broker 2" in " ".join(text.split())
    single = make_snapshot(T0, {0: 10}, (group("g", {"bravo": (0,)}, {}, {0: 10}),))
    single = replace(single, brokers=(BrokerView(1, True),))
    assert "brokers:" not in as_text(single)
    assert "coordinator" not in as_text(single)
    assert json.loads(json.dumps(snapshot.to_json()))["handovers"][0]["text"] == (
        "partition 0 leader: broker 1 → broker 2"
    )

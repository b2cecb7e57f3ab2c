from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from environs import Env, ValidationError, validate

from consumer.checkpoint import UNCONFIRMED_MAX
from consumer.pipeline import STEPS
from playground.settings import (
    KafkaSettings,
    LogSettings,
    at_least,
    default_group_id,
    kafka_settings,
    log_settings,
    one_of,
    share_delivery_count_limit,
)

DEFAULT_PIPELINE = ["validate", "enrich", "score", "log"]
GROUP_PROTOCOLS = ("classic", "consumer")
GROUP_TYPES = ("consumer", "share")
ASSIGNMENT_STRATEGIES = ("range", "roundrobin", "cooperative-sticky")
AT_LEAST_ONCE, EXACTLY_ONCE = "at-least-once", "exactly-once"
PROCESSING_GUARANTEES = (AT_LEAST_ONCE, EXACTLY_ONCE)


@dataclass(frozen=True)
class ConsumerSettings:
    kafka: KafkaSettings
    log: LogSettings
    client: str
    group_id: str
    batch_size: int
    batch_max_wait_s: float
    pipeline: tuple[str, ...]
    # How the group shares partitions: the classic protocol with a client-side assignor, or
    # KIP-848's consumer protocol, where the broker assigns. A group instance id makes the
    # member static: a restart within the session timeout keeps its partitions, no rebalance.
    group_protocol: str = "classic"
    assignment_strategy: str | None = "range"
    group_instance_id: str | None = None
    # Poison messages: larger than this, or undecodable, or dropped by a step, go to the
    # dead-letter topic; a dead letter unacknowledged after dlq_timeout_s stops the consumer.
    max_message_bytes: int = 65_536
    dlq_timeout_s: float = 30.0
    # Failure detection: a member silent for session_timeout_ms (classic protocol; the broker
    # sets it for the consumer protocol), or not polling for max_poll_interval_ms, is evicted.
    session_timeout_ms: int | None = None
    max_poll_interval_ms: int | None = None
    # at-least-once: results flushed, then offsets committed (loop.py); exactly-once: results,
    # dead letters and offsets in one Kafka transaction (transactional.py).
    processing_guarantee: str = AT_LEAST_ONCE
    # At-least-once only: False writes no results to the output topic (nothing for the drills'
    # ledger to count); the bench compares us with clients that write none either.
    write_output: bool = True

    @property
    def exactly_once(self) -> bool:
        return self.processing_guarantee == EXACTLY_ONCE

    @property
    def repeat_bound(self) -> int:
        """The most messages a crash of this member can make its group process again: the
        batch in hand, and at-least-once what is not in a commit the broker confirmed
        (loop.py: fewer than UNCONFIRMED_MAX + BATCH_SIZE)."""
        if self.exactly_once or self.group_type == "share":
            return self.batch_size
        return UNCONFIRMED_MAX - 1 + self.batch_size

    # "share": a member of a share group (KIP-932), acknowledging record by record (share.py);
    # the group protocol, assignment strategy, instance id and session timeout do not apply.
    # The delivery count limit is the group's (provision sets it): the loop must know which
    # delivery is the last, to dead-letter rather than release a record the broker would drop.
    group_type: str = "consumer"
    share_delivery_count_limit: int = 5


def known_steps(names: list[str]) -> None:
    unknown = [n for n in names if n not in STEPS]
    if unknown or not names:
        raise ValidationError(
            f"unknown step(s): {', '.join(unknown) or '(none given)'}; "
            f"use a comma-separated list of: {', '.join(STEPS)}"
        )


def classic_only(protocol: str | None, why: str) -> Callable[[object], None]:
    def check(_: object) -> None:
        if protocol == "consumer":
            raise ValidationError(
                f"applies to GROUP_PROTOCOL=classic only: with the consumer protocol {why}; "
                "unset it"
            )

    return check


def consumer_group_only(group_type: str | None) -> Callable[[object], None]:
    def check(value: object) -> None:
        if group_type == "share" and value == EXACTLY_ONCE:
            raise ValidationError(
                "a share group has no offsets to put in a transaction: exactly-once needs "
                "GROUP_TYPE=consumer"
            )

    return check


def output_needed(guarantee: str | None) -> Callable[[object], None]:
    def check(value: object) -> None:
        if guarantee == EXACTLY_ONCE and value is False:
            raise ValidationError(
                "exactly-once writes its results in the batch's transaction: it needs "
                "WRITE_OUTPUT=true"
            )

    return check


def read(env: Env) -> ConsumerSettings:
    protocol = env.str("GROUP_PROTOCOL", "classic", validate=one_of(GROUP_PROTOCOLS))
    group_type = env.str("GROUP_TYPE", "consumer", validate=one_of(GROUP_TYPES))
    strategy = env.str(
        "ASSIGNMENT_STRATEGY",
        None,
        validate=[
            one_of(ASSIGNMENT_STRATEGIES),
            classic_only(protocol, "the broker assigns partitions"),
        ],
    )
    client = env.str(
        "CLIENT",
        "bravo",
        validate=validate.Regexp(
            r"^[a-z0-9][a-z0-9_-]*$", error="must be lower-case letters, digits, '-' or '_'"
        ),
    )
    guarantee = env.str(
        "PROCESSING_GUARANTEE",
        AT_LEAST_ONCE,
        validate=[one_of(PROCESSING_GUARANTEES), consumer_group_only(group_type)],
    )
    return ConsumerSettings(
        kafka=kafka_settings(env),
        log=log_settings(env),
        client=client,
        group_id=env.str("GROUP_ID", default_group_id(client), validate=validate.Length(min=1)),
        batch_size=env.int("BATCH_SIZE", 3, validate=at_least(1)),
        batch_max_wait_s=env.float("BATCH_MAX_WAIT_S", 5.0, validate=at_least(0, inclusive=False)),
        pipeline=tuple(env.list("PIPELINE", DEFAULT_PIPELINE, validate=known_steps) or ()),
        group_protocol=protocol,
        assignment_strategy=strategy or ("range" if protocol == "classic" else None),
        group_instance_id=env.str("GROUP_INSTANCE_ID", None),
        max_message_bytes=env.int("MAX_MESSAGE_BYTES", 65_536, validate=at_least(1)),
        dlq_timeout_s=env.float("DLQ_TIMEOUT_S", 30.0, validate=at_least(0, inclusive=False)),
        session_timeout_ms=env.int(
            "SESSION_TIMEOUT_MS",
            None,
            validate=[
                at_least(1),
                classic_only(protocol, "the broker sets it (group.consumer.session.timeout.ms)"),
            ],
        ),
        max_poll_interval_ms=env.int("MAX_POLL_INTERVAL_MS", None, validate=at_least(1)),
        processing_guarantee=guarantee or AT_LEAST_ONCE,
        write_output=env.bool("WRITE_OUTPUT", True, validate=output_needed(guarantee)),
        group_type=group_type or "consumer",
        share_delivery_count_limit=share_delivery_count_limit(env),
    )

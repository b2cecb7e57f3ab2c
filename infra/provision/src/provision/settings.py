from __future__ import annotations

from dataclasses import dataclass

from environs import Env

from playground.settings import (
    KafkaSettings,
    LogSettings,
    at_least,
    kafka_settings,
    log_settings,
    share_delivery_count_limit,
)

DEFAULT_SHARE_GROUP_ID = "test_share_group"


@dataclass(frozen=True)
class ProvisionSettings:
    kafka: KafkaSettings
    log: LogSettings
    partitions: int
    replication_factor: int
    # None: the broker's default (min.insync.replicas, 1 unless the cluster says otherwise).
    min_insync_replicas: int | None
    wait_s: float
    # The queue profile's share group, and the group configs provision gives it (share groups
    # are configured per group on the broker, not by their members).
    share_group_id: str = DEFAULT_SHARE_GROUP_ID
    share_record_lock_duration_ms: int = 5000
    share_delivery_count_limit: int = 5


def read(env: Env) -> ProvisionSettings:
    return ProvisionSettings(
        kafka=kafka_settings(env),
        log=log_settings(env),
        partitions=env.int("TOPIC_PARTITIONS", 3, validate=at_least(1)),
        replication_factor=env.int("TOPIC_REPLICATION_FACTOR", 1, validate=at_least(1)),
        min_insync_replicas=env.int("TOPIC_MIN_INSYNC_REPLICAS", None, validate=at_least(1)),
        wait_s=env.float("PROVISION_WAIT_S", 60.0, validate=at_least(0)),
        share_group_id=env.str("SHARE_GROUP_ID", DEFAULT_SHARE_GROUP_ID),
        share_record_lock_duration_ms=env.int(
            "SHARE_RECORD_LOCK_DURATION_MS", 5000, validate=at_least(1000)
        ),
        share_delivery_count_limit=share_delivery_count_limit(env),
    )

from __future__ import annotations

from dataclasses import dataclass

from environs import Env

from playground.settings import KafkaSettings, LogSettings, at_least, kafka_settings, log_settings


@dataclass(frozen=True)
class ProducerSettings:
    kafka: KafkaSettings
    log: LogSettings
    client_id: str
    interval_s: float
    count: int | None
    seed: int | None


def read(env: Env) -> ProducerSettings:
    return ProducerSettings(
        kafka=kafka_settings(env),
        log=log_settings(env),
        client_id=env.str("PRODUCER_CLIENT_ID", "producer"),
        interval_s=env.float("PRODUCER_INTERVAL_S", 2.0, validate=at_least(0)),
        count=env.int("PRODUCER_COUNT", None, validate=at_least(1)),
        seed=env.int("PRODUCER_SEED", None),
    )

from __future__ import annotations

from dataclasses import dataclass

from environs import Env, ValidationError, validate

from consumer.pipeline import STEPS
from playground.settings import KafkaSettings, LogSettings, at_least, kafka_settings, log_settings

DEFAULT_PIPELINE = ["validate", "enrich", "score", "log"]


@dataclass(frozen=True)
class ConsumerSettings:
    kafka: KafkaSettings
    log: LogSettings
    client: str
    group_id: str
    batch_size: int
    batch_max_wait_s: float
    pipeline: tuple[str, ...]


def known_steps(names: list[str]) -> None:
    unknown = [n for n in names if n not in STEPS]
    if unknown or not names:
        raise ValidationError(
            f"unknown step(s): {', '.join(unknown) or '(none given)'}; "
            f"use a comma-separated list of: {', '.join(STEPS)}"
        )


def read(env: Env) -> ConsumerSettings:
    client = env.str(
        "CLIENT",
        "bravo",
        validate=validate.Regexp(
            r"^[a-z0-9][a-z0-9_-]*$", error="must be lower-case letters, digits, '-' or '_'"
        ),
    )
    return ConsumerSettings(
        kafka=kafka_settings(env),
        log=log_settings(env),
        client=client,
        group_id=env.str("GROUP_ID", f"test_group_{client}", validate=validate.Length(min=1)),
        batch_size=env.int("BATCH_SIZE", 3, validate=at_least(1)),
        batch_max_wait_s=env.float("BATCH_MAX_WAIT_S", 5.0, validate=at_least(0, inclusive=False)),
        pipeline=tuple(env.list("PIPELINE", DEFAULT_PIPELINE, validate=known_steps) or ()),
    )

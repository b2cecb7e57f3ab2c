"""compose.yaml's default images are the ones infra/images builds stand-ins for."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def versions() -> dict[str, str]:
    lines = (ROOT / "infra/images/versions.env").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if re.match(r"^[A-Z_]+=", line))


def test_compose_defaults_are_the_official_images() -> None:
    compose = (ROOT / "compose.yaml").read_text()
    v = versions()
    assert f"${{KAFKA_IMAGE:-{v['OFFICIAL_KAFKA_IMAGE']}}}" in compose
    assert f"${{PYTHON_IMAGE:-{v['OFFICIAL_PYTHON_IMAGE']}}}" in compose
    assert f"${{APP_IMAGE:-{v['DEFAULT_APP_IMAGE']}}}" in compose


def test_the_local_kafka_is_the_official_version() -> None:
    v = versions()
    assert v["OFFICIAL_KAFKA_IMAGE"].endswith(":" + v["KAFKA_VERSION"])
    assert v["LOCAL_KAFKA_IMAGE"].endswith(":" + v["KAFKA_VERSION"])
    pom = (ROOT / "infra/kafka/pom.xml").read_text()
    assert f"<kafka.version>{v['KAFKA_VERSION']}</kafka.version>" in pom

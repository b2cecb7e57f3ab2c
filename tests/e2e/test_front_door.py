"""What a newcomer meets first, driven as they would drive it: `make play` in a real terminal,
stopped with Ctrl+C, started again and the terminal closed; the README's plain Compose commands
typed as they are written, switching scenarios after a plain `docker compose down`.

These tests run before every other e2e test (see conftest.py): where the project itself
started the Docker engine and nothing else runs on it, the first one stops the engine, so that
`make play` has to start it, exactly as on a fresh host.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import docker
import pexpect
import pytest

from playground import groups
from playground.groups import Admin
from playground.host import free_port, wait_until
from playground.records import positions, records

ROOT = Path(__file__).resolve().parents[2]
DOCKER_PID = Path("/var/run/docker.pid")
STARTED_MARK = Path("/var/run/kafka-playground-dockerd.pid")  # written by ensure-docker.sh
# `make play` may have to start the engine, and (on a first run) build every image.
FIRST_BATCH_S = 900
FANOUT = ("consumer-bravo", "consumer-zulu")
PLAIN_PROJECT = "kafka-playground-e2e-plain"
# What pexpect's expect() takes.
Pattern = (
    re.Pattern[str] | re.Pattern[bytes] | str | bytes | type[pexpect.EOF] | type[pexpect.TIMEOUT]
)


def engine_answers() -> bool:
    return subprocess.run(["docker", "info"], capture_output=True, check=False).returncode == 0


def engine_pid() -> int | None:
    try:
        return int(DOCKER_PID.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


def stop_engine_if_ours() -> int | None:
    """Stop the Docker engine when the project started it and nothing else runs on it.
    Return the stopped engine's pid, or None when it was left alone."""
    pid = engine_pid()
    mark = STARTED_MARK.read_text().strip() if STARTED_MARK.exists() else None
    if pid is None or mark != str(pid):
        return None  # a system-managed engine: not ours to stop
    if docker.from_env().containers.list():
        return None  # someone's containers run on it
    os.kill(pid, signal.SIGTERM)
    # A new dockerd must not start before the old one has exited and removed its pid file.
    wait_until(lambda: not DOCKER_PID.exists(), 60, "the Docker engine to shut down")
    return pid


class Terminal:
    """A command in a pseudo-terminal of its own, as a person runs it in a terminal window."""

    def __init__(self, command: str, env: dict[str, str], cwd: Path = ROOT) -> None:
        self.output = io.StringIO()
        self.child = pexpect.spawn(
            "bash",
            ["-c", command],
            cwd=str(cwd),
            env=env,
            encoding="utf-8",
            codec_errors="replace",
            dimensions=(50, 200),
        )
        self.child.logfile_read = self.output

    def wait_for(self, *patterns: str, timeout_s: float) -> None:
        """Wait until every one of `patterns` (regexes) has appeared, in any order."""
        missing: list[Pattern] = [*patterns]
        while missing:
            try:
                index = self.child.expect(missing, timeout=timeout_s)
            except (pexpect.TIMEOUT, pexpect.EOF):
                raise AssertionError(
                    f"never saw {missing} in the terminal:\n{self.output.getvalue()[-4000:]}"
                ) from None
            missing.pop(index)

    def ctrl_c(self, timeout_s: float = 90) -> int:
        """Press Ctrl+C; wait for the command to end; return its exit status."""
        self.child.sendintr()
        self.child.expect(pexpect.EOF, timeout=timeout_s)
        self.child.close()
        status = self.child.exitstatus
        return status if status is not None else 128 + (self.child.signalstatus or 0)

    def close_window(self) -> None:
        """Close the terminal: its controlling process gets SIGHUP, as when a window closes."""
        self.child.close(force=True)


def new_terminal_env() -> dict[str, str]:
    """The environment a new terminal has: none of the Compose, pytest or make settings this
    test process runs with. MAKEFLAGS too: `make e2e BROKERS=3` passes BROKERS=3 to every make
    below it through MAKEFLAGS, and the terminal's `make play` would start the cluster."""
    unset = ("COMPOSE_", "PYTEST", "BROKERS", "MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")
    return {k: v for k, v in os.environ.items() if not k.startswith(unset)}


def compose_env(project: str, port: int) -> dict[str, str]:
    """A new terminal's environment, with this test's own Compose project and ports (the web
    page's too: another playground may have 8080)."""
    ports = {"KAFKA_HOST_PORT": str(port), "WEB_PORT": str(free_port())}
    return {**new_terminal_env(), "COMPOSE_PROJECT_NAME": project, **ports}


def containers(project: str) -> dict[str, object]:
    found = docker.from_env().containers.list(
        all=True, filters={"label": f"com.docker.compose.project={project}"}
    )
    return {c.labels["com.docker.compose.service"]: c for c in found}


def down(project: str, cwd: Path = ROOT) -> None:
    subprocess.run(
        ["docker", "compose", "--profile", "*", "down", "-v", "--remove-orphans"],
        cwd=cwd,
        env=compose_env(project, 0),
        capture_output=True,
        check=False,
        timeout=300,
    )


@pytest.fixture
def play_project() -> Iterator[str]:
    project = "kafka-playground-e2e-play"
    down(project)
    yield project
    down(project)


def test_ctrl_c_stops_make_play_gracefully_and_never_the_docker_engine(
    play_project: str, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port()
    env = compose_env(play_project, port)
    stopped_engine = stop_engine_if_ours()
    with capsys.disabled():
        print(
            "\n[front door] "
            + (
                f"stopped the project's Docker engine (pid {stopped_engine}): make play starts it"
                if stopped_engine
                else "Docker engine left running (not started by the project, or in use)"
            )
        )

    play = Terminal("make play", env)
    play.wait_for(r"BRAVO\] Received batch", r"ZULU\] Received batch", timeout_s=FIRST_BATCH_S)
    if stopped_engine is not None:
        assert "starting dockerd" in play.output.getvalue()
    engine = engine_pid()
    status = play.ctrl_c()

    screen = play.output.getvalue()
    assert engine_answers(), f"Ctrl+C stopped the Docker engine:\n{screen[-3000:]}"
    assert engine_pid() == engine, "the Docker engine restarted"
    # Ended by the Ctrl+C itself (130, as any command a shell interrupts) or cleanly: either
    # way with no error line from make.
    assert status in (0, 130), f"make play ended with {status}:\n{screen[-3000:]}"
    assert "make: ***" not in screen, screen[-3000:]

    services = containers(play_project)
    for name, container in services.items():
        container.reload()  # type: ignore[attr-defined]
        state = container.attrs["State"]  # type: ignore[attr-defined]
        assert not state["Running"], f"{name} still runs after Ctrl+C"
        # A broker's JVM exits 143 on SIGTERM (a cluster's kafka-2 and kafka-3 too): not ours
        # to judge.
        if not name.startswith("kafka"):
            assert state["ExitCode"] == 0, f"{name} exited with {state['ExitCode']}"
    # The broker again (alone), to read what each group committed.
    subprocess.run(
        ["docker", "compose", "up", "-d", "--wait", "kafka"],
        cwd=ROOT, env=env, capture_output=True, check=True, timeout=300,
    )  # fmt: skip
    for service, group in zip(FANOUT, ("test_group_bravo", "test_group_zulu"), strict=True):
        logs = services[service].logs().decode()  # type: ignore[attr-defined]
        assert f"left group {group}" in logs, f"{service} did not leave its group:\n{logs}"
        # Every batch it processed is committed: whoever reads next starts after it.
        last: dict[int, int] = {}
        for r in records(logs.splitlines()):
            for partition, offset in (
                positions(r["offsets"]) if r["event"] == "batch_processed" else []
            ):
                last[partition] = max(last.get(partition, -1), offset)
        assert last, f"{service} processed nothing"
        admin = Admin({"bootstrap.servers": f"localhost:{port}"})
        committed = groups.committed(admin, group, "transactions")  # compose.yaml's TOPIC
        assert committed == {p: o + 1 for p, o in last.items()}

    # Again, then close the window instead: the engine survives that too.
    again = Terminal("make play", env)
    again.wait_for(r"BRAVO\] Received batch", r"ZULU\] Received batch", timeout_s=300)
    again.close_window()
    assert engine_answers(), "closing the terminal stopped the Docker engine"
    assert engine_pid() == engine


@pytest.fixture
def newcomer_dir(tmp_path: Path) -> Iterator[Path]:
    """A folder holding compose.yaml and the .env that `make images` writes, with a project and
    port of its own: what a user's clone looks like to plain `docker compose`."""
    shutil.copy(ROOT / "compose.yaml", tmp_path)
    images = [
        line
        for line in (ROOT / ".env").read_text().splitlines()
        if re.match(r"(KAFKA|PYTHON|APP)_IMAGE=", line)
    ]
    port = free_port()
    project = PLAIN_PROJECT
    (tmp_path / ".env").write_text(
        "\n".join(
            [
                *images,
                "COMPOSE_PROFILES=fanout,shared,queue",
                f"COMPOSE_PROJECT_NAME={project}",
                f"KAFKA_HOST_PORT={port}",
                f"WEB_PORT={free_port()}",
                "",
            ]
        )
    )
    down(project, tmp_path)
    yield tmp_path
    down(project, tmp_path)


def test_plain_compose_commands_work_as_typed(newcomer_dir: Path) -> None:
    project = PLAIN_PROJECT
    env = new_terminal_env()

    def typed(command: str, timeout_s: float = 300) -> str:
        result = subprocess.run(
            command, shell=True, cwd=newcomer_dir, env=env, capture_output=True, text=True,
            timeout=timeout_s, check=False,
        )  # fmt: skip
        assert result.returncode == 0, f"`{command}` failed:\n{result.stderr}{result.stdout}"
        return result.stdout + result.stderr

    play = Terminal("docker compose --profile fanout up", env, cwd=newcomer_dir)
    play.wait_for(
        r"consumer-bravo-1 .*Received batch", r"consumer-zulu-1 .*Received batch", timeout_s=180
    )
    # "In another terminal": the playground's own services, not just the broker.
    logs = Terminal("docker compose logs -f", env, cwd=newcomer_dir)
    logs.wait_for(
        r"producer-1 +\| .*Sent transaction",
        r"consumer-bravo-1 +\| .*Received batch",
        r"consumer-zulu-1 +\| .*Received batch",
        timeout_s=30,
    )
    logs.close_window()
    assert play.ctrl_c() == 0

    # The Compose habit, then the other scenario.
    typed("docker compose down")
    assert containers(project) == {}, "a plain `docker compose down` left containers behind"
    typed("docker compose --profile shared up -d")

    def shared_consumers_processed() -> bool:
        shared = [c for n, c in containers(project).items() if n.endswith("-shared")]
        return len(shared) == 2 and all(
            "Received batch" in c.logs().decode()  # type: ignore[attr-defined]
            for c in shared
        )

    wait_until(shared_consumers_processed, 120, "both shared-group consumers to process a batch")
    shown = typed("docker compose --profile shared ps --format json")
    running = {json.loads(line)["Service"] for line in shown.splitlines() if line.startswith("{")}
    assert {"consumer-bravo-shared", "consumer-zulu-shared", "producer"} <= running

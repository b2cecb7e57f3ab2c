"""The web page on the real stack, in a real browser: Debian's Chromium, driven by Playwright.

Nothing downloads a browser build: the fixture installs Debian's `chromium` package through
the project's own infra/host/apt-install.sh and Playwright launches that executable.
WEB_SCREENSHOTS=docs/web saves a screenshot of each scenario there (docs/web.md shows them).
"""

from __future__ import annotations

import os
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from chaos.cli import LedgerFeed
from chaos.drills import Check, ReadBack, Report
from chaos.ledger import Ledger
from playground import host
from playground.host import wait_until
from playground.kafka import admin_config
from tests.e2e.stack import ROOT, Stack

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = os.environ.get("WEB_SCREENSHOTS")


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    subprocess.run([str(ROOT / "infra/host/apt-install.sh"), "chromium", "chromium"], check=True)
    with sync_playwright() as playwright:
        # Chromium's sandbox needs user namespaces, which root in a container may not have.
        args = ["--no-sandbox"] if os.geteuid() == 0 else []
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=args)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    yield page
    page.close()


def open_page(stack: Stack, page: Page) -> None:
    """Wait for the web service to answer, then load the page."""
    url = f"http://127.0.0.1:{stack.web_port}"

    def healthy() -> bool:
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as answer:
                return bool(answer.status == 200)
        except OSError:
            return False

    wait_until(healthy, 60, f"the web service at {url}")
    page.goto(url)


def member(group: str, client: str, partitions: str = "") -> str:
    owns = f'[data-partitions="{partitions}"]' if partitions else ""
    return f'#diagram g.member[data-group="{group}"][data-client="{client}"]{owns}'


def screenshot(page: Page, name: str) -> None:
    if SCREENSHOTS:
        page.screenshot(path=str(Path(SCREENSHOTS) / name), full_page=True)


def test_fanout_both_groups_each_own_every_partition(stack: Stack, page: Page) -> None:
    bravo, zulu = stack.env["BRAVO_GROUP_ID"], stack.env["ZULU_GROUP_ID"]
    # bravo a static member, zulu not: the page tells them apart.
    stack.up("fanout", PRODUCER_INTERVAL_S="0.3", BRAVO_INSTANCE_ID="bravo-static")
    open_page(stack, page)

    expect(page.locator(member(bravo, "bravo", "0,1,2"))).to_have_count(1, timeout=60_000)
    expect(page.locator(member(zulu, "zulu", "0,1,2"))).to_have_count(1, timeout=10_000)
    expect(page.locator(member(bravo, "bravo"))).to_contain_text("static (bravo-static)")
    expect(page.locator(member(zulu, "zulu"))).not_to_contain_text("static")
    for group in (bravo, zulu):  # an edge from each partition to the group's one member
        edges = page.locator(f'#diagram path.edge[data-group="{group}"]')
        expect(edges).to_have_count(3)
    expect(page.locator("#errors li")).to_have_count(0)  # the Docker socket reached, no problem
    # Lag history for each group and partition: a sparkline each.
    expect(page.locator("#offsets svg.spark")).to_have_count(6, timeout=10_000)
    screenshot(page, "fanout.png")

    # A group left without members is a problem on the page until a member is back.
    stack.compose("stop", "consumer-zulu")
    alone = page.locator('#errors li[data-kind="group"]')
    expect(alone).to_contain_text(f"group {zulu} has no members", timeout=15_000)
    stack.compose("start", "consumer-zulu")
    expect(alone).to_have_count(0, timeout=30_000)


def shared_split(stack: Stack, page: Page) -> str:
    shared = stack.env["SHARED_GROUP_ID"]
    stack.up("shared", PRODUCER_INTERVAL_S="0.3")
    open_page(stack, page)
    # The range assignor: member ids sort bravo-... before zulu-..., so bravo gets 0 and 1.
    expect(page.locator(member(shared, "bravo", "0,1"))).to_have_count(1, timeout=60_000)
    expect(page.locator(member(shared, "zulu", "2"))).to_have_count(1, timeout=10_000)
    expect(page.locator("#offsets svg.spark")).to_have_count(3, timeout=10_000)
    return shared


def test_shared_the_group_splits_two_and_one(stack: Stack, page: Page) -> None:
    shared = shared_split(stack, page)
    expect(page.locator(f'#diagram path.edge[data-group="{shared}"]')).to_have_count(3)
    screenshot(page, "shared.png")


def test_stopping_a_shared_consumer_shows_the_takeover_and_a_timeline_entry(
    stack: Stack, page: Page
) -> None:
    shared = shared_split(stack, page)
    entries = page.locator(f'#timeline tr[data-group="{shared}"]')
    # Only bravo leaving can move p0 and p1 from bravo to zulu: no earlier entry says so.
    takeover = entries.filter(has_text="p0 bravo → zulu, p1 bravo → zulu")
    expect(takeover).to_have_count(0)

    stack.compose("stop", "consumer-bravo-shared")

    expect(page.locator(member(shared, "zulu", "0,1,2"))).to_have_count(1, timeout=15_000)
    expect(page.locator(member(shared, "bravo"))).to_have_count(0)
    expect(takeover).to_have_count(1, timeout=5_000)
    expect(entries.first).to_contain_text("p0 bravo → zulu, p1 bravo → zulu")  # latest first
    screenshot(page, "rebalance.png")


def test_a_share_group_shows_both_members_and_what_each_accepted(stack: Stack, page: Page) -> None:
    share = stack.env["SHARE_GROUP_ID"]
    stack.up("queue", PRODUCER_INTERVAL_S="0.1")
    open_page(stack, page)
    rows = page.locator(f'#shares tr[data-share-group="{share}"]')
    expect(rows).to_have_count(2, timeout=60_000)
    for client in ("bravo", "zulu"):  # both members were handed records, and accepted them
        row = page.locator(f'#shares tr[data-share-group="{share}"][data-member="{client}"]')
        expect(row).not_to_have_attribute("data-accepted", "0", timeout=60_000)
    expect(rows.first).to_contain_text("lock 5,000 ms, limit 5")
    screenshot(page, "queue.png")


def test_a_kip_848_group_shows_its_protocol_and_real_state(stack: Stack, page: Page) -> None:
    shared = stack.env["SHARED_GROUP_ID"]
    stack.up("shared", PRODUCER_INTERVAL_S="0.3", GROUP_PROTOCOL="consumer")
    open_page(stack, page)

    group = page.locator(f'#diagram g.group[data-group="{shared}"][data-state="Stable"]')
    expect(group).to_contain_text("Consumer, uniform", timeout=60_000)
    # The broker's assignor splits the three partitions between the two members.
    expect(page.locator(f'#diagram path.edge[data-group="{shared}"]')).to_have_count(3)
    for client in ("bravo", "zulu"):
        owns_some = f'{member(shared, client)}:not([data-partitions=""])'
        expect(page.locator(owns_some)).to_have_count(1, timeout=30_000)


def test_the_broker_down_message_appears_and_clears(stack: Stack, page: Page) -> None:
    bravo = stack.env["BRAVO_GROUP_ID"]
    stack.up("fanout", PRODUCER_INTERVAL_S="0.3")
    open_page(stack, page)
    expect(page.locator(member(bravo, "bravo", "0,1,2"))).to_have_count(1, timeout=60_000)
    down = page.locator('#errors li[data-kind="broker"]')
    expect(down).to_have_count(0)

    stack.stop_brokers()  # all of a cluster's: one down shows as such (test_cluster.py)
    try:
        expect(down).to_contain_text("Kafka broker unreachable", timeout=60_000)
        screenshot(page, "broker-down.png")
    finally:
        stack.start_brokers()

    expect(down).to_have_count(0, timeout=90_000)
    expect(page.locator(member(bravo, "bravo", "0,1,2"))).to_have_count(1, timeout=30_000)


def test_without_the_docker_socket_the_page_says_so_and_still_works(
    stack: Stack, page: Page, tmp_path: Path
) -> None:
    bravo = stack.env["BRAVO_GROUP_ID"]
    not_a_socket = tmp_path / "docker.sock"  # a plain file: nothing answers there
    not_a_socket.touch()
    stack.up("fanout", PRODUCER_INTERVAL_S="0.3", DOCKER_SOCKET=str(not_a_socket))
    open_page(stack, page)

    expect(page.locator(member(bravo, "bravo", "0,1,2"))).to_have_count(1, timeout=60_000)
    expect(page.locator('#errors li[data-kind="docker"]')).to_have_text(
        "no rebalance history: Docker socket unavailable", timeout=15_000
    )


def test_a_chaos_run_s_ledger_fills_in_on_the_page(stack: Stack, page: Page) -> None:
    """Rows published the way `make chaos` publishes them (its LedgerFeed, real Check rows)
    show as they come, the latest run only; the page reads them without joining a group."""
    topic = stack.env["TOPIC"]
    stack.up("fanout", PRODUCER_INTERVAL_S="0.3")
    open_page(stack, page)
    expect(page.locator(member(stack.env["BRAVO_GROUP_ID"], "bravo"))).to_have_count(
        1, timeout=60_000
    )
    expect(page.locator("#ledger-section")).to_be_hidden()  # no chaos run yet

    config = admin_config(host.kafka_settings(stack.bootstrap_servers, topic), "e2e-ledger")
    old = LedgerFeed(config, topic)
    old.check(Check("kill -9 #1", "old-run", Ledger(10, 0, 0), 0, 50))
    old.done(Report())
    expect(page.locator('#ledger tr[data-group="old-run"]')).to_have_count(1, timeout=30_000)

    feed = LedgerFeed(config, topic)
    feed.run = f"{old.run}, the next"  # two runs within a second: told apart all the same
    rows = page.locator("#ledger tr[data-fault]")
    feed.check(Check("kill -9 leader", "shared", Ledger(4321, 0, 12), 12, 100, 9.4))
    feed.producer.flush(10)
    expect(page.locator('#ledger tr[data-group="shared"]')).to_have_count(1, timeout=15_000)
    expect(rows).to_have_count(1)  # the old run's row is gone
    expect(page.locator("#ledger")).to_contain_text("the drills are running")
    feed.check(Check("two brokers down", "shared", Ledger(9876, 0, 12), 0, 100, 31.0))
    report = Report(read_back=ReadBack(9876, 0, 0))
    feed.done(report)
    expect(rows).to_have_count(2, timeout=15_000)
    first = page.locator('#ledger tr[data-fault="kill -9 leader"]')
    expect(first).to_contain_text("4,321")
    expect(first.locator("td[data-recovered-s]")).to_have_text("9.4")
    expect(page.locator("#ledger-verdict")).to_have_text(
        "Topic read back: delivered=9876 (without offset: 0) missing=0 repeated=0 failed=0 "
        "(in the topic anyway: 0). "
        "All promises kept."
    )
    listed = stack.admin.list_consumer_groups().result(timeout=30).valid
    assert "playground-web-ledger" not in {g.group_id for g in listed}  # assign(), no group

"""Fixtures for the browser tests: a fresh `peercoach dev`, the Agents Playground and headless Chromium."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.chat import Chat
from tests.browser.harness import CHROMIUM_ARGS, DevBot, Playground, artifact_dir, chromium_path


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Iterator[None]:
    report = yield
    if report.when == "call":
        item.stash[FAILED] = report.failed
    return report


FAILED = pytest.StashKey[bool]()


@pytest.fixture
def dev_bot(tmp_path: Path) -> Iterator[DevBot]:
    bot = DevBot(tmp_path, env={"PEERCOACH_SCHEDULER__ENABLED": "false"})
    yield bot
    bot.stop()


@pytest.fixture
def playground(tmp_path: Path, dev_bot: DevBot) -> Iterator[Playground]:
    pg = Playground(tmp_path, dev_bot.endpoint)
    yield pg
    pg.stop()


@pytest.fixture
async def chat(request: pytest.FixtureRequest, playground: Playground) -> AsyncIterator[Chat]:
    from playwright.async_api import async_playwright

    shots = artifact_dir(request.node.name)
    async with async_playwright() as driver:
        browser = await driver.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS)
        page = await browser.new_page(viewport={"width": 1280, "height": 1000})
        page.set_default_timeout(20_000)
        await page.goto(playground.url)
        chat = Chat(page, shots)
        try:
            yield chat
        finally:
            if request.node.stash.get(FAILED, False):
                path = await chat.shot("FAILED")
                print(f"screenshot of the failure: {path}")
            await browser.close()

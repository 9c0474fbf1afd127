"""A page object for the Agents Playground's chat: what a person types, sees and clicks, nothing else.

Waits are on conditions (Playwright's auto-waiting ``expect``), never fixed sleeps. Every step can save a
numbered screenshot, so a run leaves the pictures of the whole journey behind (and the failing one).
"""

from __future__ import annotations

import re
from pathlib import Path

from playwright.async_api import Locator, Page, expect

STEP_TIMEOUT_MS = 20_000


class Chat:
    def __init__(self, page: Page, shots: Path) -> None:
        self.page = page
        self.shots = shots
        self._step = 0

    async def shot(self, name: str) -> Path:
        self._step += 1
        path = self.shots / f"{self._step:02d}-{name}.png"
        await self.page.screenshot(path=str(path), full_page=True)
        return path

    @property
    def cards(self) -> Locator:
        return self.page.locator(".ac-adaptiveCard")

    async def say(self, text: str) -> None:
        """Type into the compose box and press Enter, as a person does."""
        box = self.page.get_by_role("textbox").last
        await box.click()
        await self.page.keyboard.type(text)
        await self.page.keyboard.press("Enter")

    async def card_with(self, text: str, *, timeout_ms: int = STEP_TIMEOUT_MS) -> Locator:
        """The newest card showing ``text`` (waits until one does)."""
        card = self.cards.filter(has_text=text).last
        await expect(card).to_be_visible(timeout=timeout_ms)
        return card

    async def see(self, text: str | re.Pattern[str], *, timeout_ms: int = STEP_TIMEOUT_MS) -> Locator:
        """The newest element of the conversation showing ``text`` (a card or a plain message)."""
        found = self.page.get_by_text(text, exact=False).last
        await expect(found).to_be_visible(timeout=timeout_ms)
        return found

    @staticmethod
    async def buttons(card: Locator) -> dict[str, bool]:
        """The card's action buttons by title, with whether each can be pressed."""
        result: dict[str, bool] = {}
        for button in await card.locator("button").all():
            title = (await button.inner_text()).strip()
            if title:
                result[title] = await button.is_enabled()
        return result

    @staticmethod
    async def press(card: Locator, title: str) -> None:
        await card.get_by_role("button", name=title, exact=True).click()

    @staticmethod
    async def field(card: Locator, label: str) -> Locator:
        """A card input by its visible label (Adaptive Cards' ``label``, tied by aria-labelledby)."""
        field = card.get_by_label(label, exact=False).first
        await expect(field).to_be_visible()
        return field

    async def choose(self, card: Locator, label: str, option: str) -> None:
        """Pick ``option`` in a card's choice input (a drop-down, radio buttons or a filtered list)."""
        field = await self.field(card, label)
        if await field.evaluate("e => e.tagName") == "SELECT":
            await field.select_option(label=option)
            return
        await field.click()  # the Playground draws compact and filtered choice sets as a combobox
        if await field.evaluate("e => e.tagName") == "INPUT":
            await field.fill(option)
        await self.page.get_by_role("option", name=option, exact=True).click()

    async def count(self, text: str) -> int:
        return await self.page.get_by_text(text, exact=False).count()

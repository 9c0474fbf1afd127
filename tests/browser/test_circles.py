"""A learning circle over a term as its members meet it: `peercoach dev`, the Agents Playground, a real browser.

Beside the dev demo's pairs program an admin creates a circle program with the CLI and enrolls two demo
colleagues from a CSV; the Playground's user joins it through the chat (consent, then the profile card, where
they choose the circle program among the open ones) and, being an admin in dev mode, types `round run` three
times. Each session's intro card must name the members, the session of the term, who facilitates and what the
role asks, and who is next; over three sessions of a circle of three everyone facilitates once (the
Playground's user reads "You facilitate this session." on theirs, and "next time you" on the card before).
Session 1's card is answered ("We met", check-in) and must stay answered while sessions 2 and 3 arrive.
Each step saves a screenshot (test-artifacts/<test name>/); waits are on what the page shows.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.async_api import Locator, expect

from tests.browser.chat import Chat
from tests.browser.harness import DevBot

CIRCLE = "Leadership circle"
DEMO = "Demo: coaching pairs"
ME = "Alex Wilber"
COLLEAGUES = ("Megan Bowen", "Adele Vance")
ROLE = "The facilitator keeps time, opens with the check-in question and makes sure everyone speaks."
CSV = """email,name,department,time_zone,working_hours,languages,skills_offered,skills_wanted,goals
meganb@example.com,Megan Bowen,Marketing,Europe/Berlin,08:00-18:00,en;de,storytelling,negotiation,leadership
adelev@example.com,Adele Vance,Engineering,Europe/London,08:00-18:00,en;de,code review,public speaking,leadership
"""


@pytest.fixture
def dev_bot(dev_bot: DevBot, tmp_path: Path) -> Iterator[DevBot]:
    """The dev bot with a circle program of two demo colleagues beside the demo pairs, before the page opens."""
    created = dev_bot.cli("program", "create", "--name", CIRCLE, "--kind", "circle", "--cadence", "weekly",
                          "--sessions-per-term", "3")
    assert created.returncode == 0, created.stderr
    people = tmp_path / "circle.csv"
    people.write_text(CSV)
    imported = dev_bot.cli("participants", "import", str(people), "--program", CIRCLE)
    assert imported.returncode == 0, imported.stderr + imported.stdout
    yield dev_bot


async def session_card(chat: Chat, session: int) -> Locator:
    card = await chat.card_with(f"Session {session} of 3")
    await expect(card.get_by_text(f"{CIRCLE}: your circle")).to_be_visible()
    for name in COLLEAGUES:  # the others are named; the reader is not listed as their own member
        await expect(card.get_by_text(name, exact=True)).to_be_visible()
    await expect(card.get_by_text(ME)).to_have_count(0)
    await expect(card.get_by_text(ROLE, exact=False)).to_be_visible()
    return card


async def facilitator_of(card: Locator) -> str:
    """Who the card says facilitates this session: the reader (``ME``) or the name it gives."""
    text = await card.inner_text()
    if "You facilitate this session." in text:
        return ME
    found = re.search(r"Facilitator this session: (.+)", text)
    assert found, text
    return found.group(1).strip()


async def next_facilitator_on(card: Locator) -> str | None:
    text = await card.inner_text()
    found = re.search(r"The role rotates each session: next time (.+?)\.", text)
    return None if found is None else (ME if found.group(1) == "you" else found.group(1))


async def test_a_circle_keeps_together_for_a_term_with_a_rotating_facilitator(chat: Chat, dev_bot: DevBot) -> None:
    # Two programs are open: the welcome names both; consent, then the profile asks which one.
    welcome = await chat.card_with("Welcome to peer coaching")
    await expect(welcome.get_by_text(CIRCLE)).to_be_visible()
    await expect(welcome.get_by_text(DEMO)).to_be_visible()
    await chat.shot("welcome-two-programs")
    await chat.press(welcome, "Yes, I want to take part")
    profile = await chat.card_with("your profile")
    await profile.get_by_role("radio", name=CIRCLE).check()
    await (await chat.field(profile, "Working hours")).fill("09:00-17:00")
    await chat.shot("profile-circle-chosen")
    await chat.press(profile, "Join")
    joined = await chat.card_with("You're in!")
    await expect(joined.get_by_text(CIRCLE)).to_be_visible()
    await chat.shot("joined")

    facilitators: list[str] = []
    announced_next: list[str | None] = []
    for session in (1, 2, 3):
        await chat.say(f"round run {CIRCLE}")
        await chat.see(f"{CIRCLE}, term 1, session {session} of 3: 1 circle, 0 unmatched.")
        card = await session_card(chat, session)
        facilitators.append(await facilitator_of(card))
        announced_next.append(await next_facilitator_on(card))
        if session == 1:
            assert await chat.buttons(card) == {"We met": True, "Reschedule": True, "Can't make it": True}
            await chat.shot("session-1-intro")
            await chat.press(card, "We met")
            check_in = await chat.card_with("How did it go?")
            await expect(check_in.get_by_text(f"{CIRCLE}: session 1 of 3")).to_be_visible()
            await (await chat.field(check_in, "What did you learn")).fill("Let the quiet ones start.")
            await chat.choose(check_in, "How useful was it?", "4 - very useful")
            await chat.press(check_in, "Send")
            await chat.card_with("Thank you!")
            await chat.shot("session-1-checked-in")
        else:
            await chat.shot(f"session-{session}-intro")
        # Later sessions never undo earlier answers: session 1's card stays thanked, with no button.
        thanked = chat.cards.filter(has_text="Thank you!")
        await expect(thanked).to_have_count(1)
        assert await chat.buttons(thanked.first) == {}
    thanked_card = chat.cards.filter(has_text="Thank you!").first

    # Everyone of the circle of three facilitates once; each card named the next one truthfully.
    assert sorted(facilitators) == sorted((ME, *COLLEAGUES)), facilitators
    assert announced_next[:2] == facilitators[1:], (announced_next, facilitators)
    assert announced_next[2] is None  # the term's last session: new circles form next time
    last = await chat.card_with("Session 3 of 3")
    await expect(last.get_by_text("This is the last session of the term", exact=False)).to_be_visible()
    await expect(chat.page.get_by_role("button", name="We met")).to_have_count(2)  # sessions 2 and 3 only
    await thanked_card.scroll_into_view_if_needed()
    await chat.shot("after-three-sessions-session-1-still-thanked")

    # A late "We met" on session 2's card (its session is over, a late check-in still counts): the check-in
    # form says which session of which circle it answers, since two sessions' cards are in the chat.
    second = chat.cards.filter(has_text="Session 2 of 3").first
    await chat.press(second, "We met")
    late = await chat.card_with(f"{CIRCLE}: session 2 of 3")
    await expect(late.get_by_text("How did it go?")).to_be_visible()
    await expect(late.get_by_text(re.compile(r"Your session with (Megan Bowen, Adele Vance|Adele Vance, "
                                             r"Megan Bowen)"))).to_be_visible()
    await expect(chat.cards.filter(has_text="Thank you!")).to_have_count(1)  # session 1 stays answered
    assert await chat.buttons(await chat.card_with("Session 3 of 3")) == {
        "We met": True, "Reschedule": True, "Can't make it": True}
    await late.scroll_into_view_if_needed()
    await chat.shot("late-check-in-for-session-2")

    # The Playground's group chat is not shown to be the circle's own chat (the Playground installs the bot
    # there only when it is first opened, and the colleagues were imported without a Teams identity, so no
    # roster can match the circle): it gets the welcome, and nothing that names the circle or its members.
    await chat.page.get_by_text("Group Chat", exact=True).click()
    await chat.card_with("Welcome to peer coaching")
    await expect(chat.page.get_by_text("your circle", exact=False)).to_have_count(0)
    await expect(chat.page.get_by_text("Megan Bowen", exact=False)).to_have_count(0)
    await chat.shot("group-chat-without-circle-posts")

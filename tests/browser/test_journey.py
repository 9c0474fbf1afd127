"""The participant's journey as a person meets it: `peercoach dev`, the Agents Playground, a real browser.

One test walks the whole round the README promises, through the Playground's own web page: first load ->
welcome with consent -> profile with a wrong value, then a right one -> `round run` -> intro card -> We met ->
a booking run (nothing may be booked any more, nothing may change on the card) -> check-in with a missing
answer, then a valid one -> a reminder run -> the thank-you card still shown, no intro button active ->
`my matches`, `progress` -> `hilfe`. Each step saves a screenshot
(test-artifacts/<test name>/); waits are on what the page shows, never fixed sleeps.
"""

from __future__ import annotations

import re

from playwright.async_api import expect

from tests.browser.chat import Chat
from tests.browser.harness import DevBot

DEMO = "Demo: coaching pairs"


async def test_a_participant_goes_through_a_whole_round_in_the_playground(chat: Chat, dev_bot: DevBot) -> None:
    # First load: the Playground installs the app; the welcome asks for consent before anything is stored.
    welcome = await chat.card_with("Welcome to peer coaching")
    await expect(welcome.get_by_text(DEMO)).to_be_visible()
    assert await chat.buttons(welcome) == {"Yes, I want to take part": True}
    await chat.shot("welcome")

    # Consent -> the profile card; a wrong value is named beside its field and what was typed stays.
    await chat.press(welcome, "Yes, I want to take part")
    profile = await chat.card_with("your profile")
    hours = await chat.field(profile, "Working hours")
    await hours.fill("9 to 5")
    department = await chat.field(profile, "Department")
    await department.fill("Finance")
    await chat.press(profile, "Join")
    await expect(profile.get_by_text("HH:MM")).to_be_visible()
    await expect(department).to_have_value("Finance")
    await chat.shot("profile-refused")
    await hours.fill("09:00-17:00")
    await chat.press(profile, "Join")
    joined = await chat.card_with("You're in!")
    assert await chat.buttons(joined) == {}
    await chat.shot("profile-accepted")

    # The Playground's user is an admin in dev mode: a round starts from the chat.
    await chat.say("round run")
    await chat.see(f"Round 1 of {DEMO}")
    intro = await chat.card_with("meet your match")
    assert await chat.buttons(intro) == {"We met": True, "Reschedule": True, "Can't make it": True}
    await chat.shot("intro")

    # We met -> the check-in form takes the intro card's place.
    await chat.press(intro, "We met")
    check_in = await chat.card_with("How did it go?")
    learned = await chat.field(check_in, "What did you learn")
    await learned.fill("Ask for the outcome first.")
    await chat.shot("check-in-open")

    # A booking run after "we met": nothing is booked for this pair (`my matches` shows it below), and the
    # form stays as typed. (The demo-only pair may or may not be booked yet: its colleagues answer on a tick.)
    booked = dev_bot.cli("round", "book")
    assert booked.returncode == 0, booked.stderr
    await expect(learned).to_have_value("Ask for the outcome first.")
    assert await chat.count("meet your match") == 0  # the intro never came back
    await chat.shot("after-booking-run")

    # Send without saying how useful it was: the card says what is missing; then a valid answer.
    await chat.press(check_in, "Send")
    await expect(check_in.get_by_text("Tell us how useful it was")).to_be_visible()
    await expect(learned).to_have_value("Ask for the outcome first.")  # what was typed stays
    await chat.shot("check-in-refused")
    await chat.choose(check_in, "How useful was it?", "4 - very useful")
    await chat.press(check_in, "Send")
    thanks = await chat.card_with("Thank you!")
    assert await chat.buttons(thanks) == {}
    await chat.shot("check-in-accepted")

    # A reminder run later: the thank-you card stays, no intro button comes back.
    reminded = dev_bot.cli("round", "remind")
    assert reminded.returncode == 0, reminded.stderr
    await expect(chat.page.get_by_role("button", name="We met")).to_have_count(0)
    await expect(chat.cards.filter(has_text="Thank you!").last).to_be_visible()
    await chat.shot("after-reminder-run")

    await chat.say("my matches")
    await chat.see(re.compile(r"(Megan Bowen|Adele Vance|Isaiah Langer) \(peer\); meeting: not booked; checked in"))
    await chat.say("progress")
    await chat.see("Sessions you met: 1")
    await chat.shot("my-matches-and-progress")

    # Commands in every shipped language: `hilfe` is help. (The Playground 0.2.28 sends every activity with
    # locale en-US whatever its machine's language, so German replies are checked at the HTTP level in
    # tests/bot/test_words.py; here the German command must be understood in the chat a person uses.)
    await chat.say("hilfe")
    await chat.see("Here is what I understand")
    await expect(chat.page.get_by_text("my matches").last).to_be_visible()
    await chat.shot("hilfe")

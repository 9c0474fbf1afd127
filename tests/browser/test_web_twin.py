"""Acceptance (issue 18): an email-only person answers a rubric review on its web twin in headless Chromium.

The bot's real web app serves the twin on a real port and sends the review request through its own SMTP mailer
to a local SMTP server (aiosmtpd). The email's HTML is opened in the browser and its link clicked; the card is
rendered by the vendored Adaptive Cards renderer; an invalid review comes back as the card saying what to fix,
a valid one counts (read back through the service); a replayed action, another browser session and an expired
or changed link are refused with a page or message that says so. Screenshots go to the test's artifact folder.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest

from teams_app.domain.assessment.lifecycle import ReviewStatus
from tests.bot.twin_support import EmailPair, TwinApp, email_pair, link_in, start_twin_app
from tests.browser.harness import CHROMIUM_ARGS, artifact_dir, chromium_path
from tests.fixtures.smtp import Inbox


@pytest.fixture
async def twin(tmp_path: Path, plain_smtp: tuple[Inbox, int]) -> AsyncIterator[TwinApp]:
    t = await start_twin_app(tmp_path, None, smtp={"host": "127.0.0.1", "port": plain_smtp[1], "starttls": False,
                                                   "sender": "coaching@example.com"})
    try:
        yield t
    finally:
        await t.close()


def body_of(message: EmailMessage, kind: str) -> str:
    part = message.get_body((kind,))
    assert part is not None, f"no {kind} part"
    return str(part.get_content())  # type: ignore[attr-defined]


async def review_status(twin: TwinApp, pair: EmailPair) -> ReviewStatus:
    return (await twin.app.assessment.get_task(pair.review_of(pair.ada), pair.ada.id)).review.status


async def test_an_email_only_reviewer_answers_on_the_web_twin_and_nobody_else_can(
        request: pytest.FixtureRequest, twin: TwinApp, plain_smtp: tuple[Inbox, int]) -> None:
    from playwright.async_api import async_playwright

    shots = artifact_dir(request.node.name)
    pair = await email_pair(twin)
    mail = plain_smtp[0].find("ada@example.com", "Please review Ben Becker")
    link = link_in(body_of(mail, "plain"))
    assert link in body_of(mail, "html")
    async with async_playwright() as driver:
        browser = await driver.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS)
        try:
            ada = await browser.new_context(viewport={"width": 900, "height": 1100})
            page = await ada.new_page()
            page.set_default_timeout(20_000)
            problems: list[str] = []
            # Script errors and CSP violations; refused requests (404/409/410 below) are meant to be refused.
            page.on("console", lambda m: problems.append(m.text) if m.type == "error"
                    and not m.text.startswith("Failed to load resource") else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            await page.set_content(body_of(mail, "html"))
            await page.screenshot(path=str(shots / "01-review-request-email.png"))
            await page.get_by_role("link", name="Open the review").click()
            await page.wait_for_selector(".ac-adaptiveCard")
            await page.get_by_text("Peer review of Ben Becker").wait_for()
            await page.screenshot(path=str(shots / "02-twin-review-card.png"), full_page=True)

            # Invalid: one level only. The bot's handler answers with the card saying what to fix.
            await page.locator('input[type="radio"][value="3"]').first.check()
            await page.get_by_role("button", name="Submit review").click()
            await page.get_by_text("Please check the fields marked below.").wait_for()
            await page.get_by_text("Choose a level for 'Powerful questions'").wait_for()
            await page.screenshot(path=str(shots / "03-twin-invalid-review.png"), full_page=True)
            assert await review_status(twin, pair) is not ReviewStatus.SUBMITTED

            # Valid: a level for every criterion and a comment. The review counts.
            levels = page.locator('input[type="radio"][value="3"]')
            for i in range(await levels.count()):
                await levels.nth(i).check()
            await page.locator("textarea").last.fill("Clear, open questions")
            async with page.expect_request(lambda r: r.url.endswith("/action")) as sent:
                await page.get_by_role("button", name="Submit review").click()
            spent_body = (await sent.value).post_data
            await page.get_by_text("Thank you: your review is saved.").wait_for()
            await page.screenshot(path=str(shots / "04-twin-review-saved.png"), full_page=True)
            task = await twin.app.assessment.get_task(pair.review_of(pair.ada), pair.ada.id)
            assert task.review.status is ReviewStatus.SUBMITTED and task.review.comment == "Clear, open questions"
            assert set(task.review.ratings.values()) == {3}

            # A spent action cannot be replayed: withdraw, then send the saved submission again.
            await page.get_by_role("button", name="Withdraw review").click()
            await page.get_by_text("Your review was withdrawn.").wait_for()
            replay = await page.evaluate(
                "async ([url, body]) => { const r = await fetch(url, {method: 'POST', body, headers: "
                "{'Content-Type': 'application/json'}}); return [r.status, await r.json()]; }",
                [f"{link}/action", spent_body])
            assert replay[0] == 409 and replay[1]["title"] == "Already sent"
            assert await review_status(twin, pair) is ReviewStatus.WITHDRAWN
            await page.get_by_role("button", name="Submit review").click()
            await page.get_by_text("Thank you: your review is saved.").wait_for()
            assert await review_status(twin, pair) is ReviewStatus.SUBMITTED

            # Someone else's browser session with the same link can look, but cannot act for Ada.
            other = await browser.new_context(viewport={"width": 900, "height": 1100})
            intruder = await other.new_page()
            intruder.set_default_timeout(20_000)
            await intruder.goto(link)
            await intruder.get_by_role("button", name="Withdraw review").click()
            await intruder.get_by_text("This link is in use elsewhere").wait_for()
            await intruder.screenshot(path=str(shots / "05-other-session-refused.png"))
            assert await intruder.get_by_text("This link is in use elsewhere").is_visible()
            assert await review_status(twin, pair) is ReviewStatus.SUBMITTED

            # A changed link, and an expired one, answer with a page that says so.
            body, mac = link.rsplit("/", 1)[1].split(".")
            await page.goto(f"{link.rsplit('/', 1)[0]}/{body}.{mac[::-1]}")
            await page.get_by_text("This link is not valid").wait_for()
            await page.screenshot(path=str(shots / "06-link-not-valid.png"))
            twin.clock.advance(timedelta(hours=49))
            await page.goto(link)
            await page.get_by_text("This link has expired").wait_for()
            await page.screenshot(path=str(shots / "07-link-expired.png"))
            assert problems == [], f"console errors (CSP or script): {problems}"
        finally:
            await browser.close()


async def test_match_and_feedback_twins_render_in_the_persons_language(
        request: pytest.FixtureRequest, twin: TwinApp, plain_smtp: tuple[Inbox, int]) -> None:
    """Ben (German) sees his intro card (markdown rendered, no raw asterisks), answers the check-in on the page,
    and opens his released feedback from the feedback email."""
    from playwright.async_api import async_playwright

    from teams_app.domain.notifications import TwinCard

    shots = artifact_dir(request.node.name)
    pair = await email_pair(twin)
    match_id = (await twin.app.service.my_matches(pair.ben.id))[0].match.id
    for review in pair.opened.reviews:
        await twin.app.assessment.submit_review(review.id, review.reviewer_id, {
            "active-listening": 3, "powerful-questions": 2, "goal-setting": 4, "giving-feedback": 3},
            comment="Klare Fragen")
    twin.clock.advance(timedelta(days=4))
    await twin.app.assessment.release_results(pair.opened.assessment.id)
    await twin.sender.drain(timeout_s=20)
    feedback_mail = plain_smtp[0].find("ben@example.com", "Dein Peer-Feedback")
    intro = twin.app.card_links.link(pair.ben.id, TwinCard.INTRO, match_id)
    assert intro is not None
    async with async_playwright() as driver:
        browser = await driver.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS)
        try:
            page = await (await browser.new_context(viewport={"width": 900, "height": 1000},
                                                    locale="de-DE")).new_page()
            page.set_default_timeout(20_000)
            await page.goto(intro)
            await page.get_by_text("Ada Lovelace").first.wait_for()
            card_text = await page.locator("#twin-host").inner_text()
            assert "**" not in card_text, "markdown is rendered, not shown"
            await page.screenshot(path=str(shots / "08-intro-twin-de.png"), full_page=True)
            await page.get_by_role("button", name="Wir haben uns getroffen").click()
            await page.get_by_text("Wie war es?").wait_for()
            await page.get_by_role("button", name="Senden").click()
            await page.get_by_text("Bitte korrigiere die unten markierten Felder.").wait_for()
            await page.screenshot(path=str(shots / "09-check-in-twin-what-to-fix-de.png"), full_page=True)
            page = await page.context.new_page()  # the email on a blank page (not under the twin page's CSP)
            page.set_default_timeout(20_000)
            await page.set_content(body_of(feedback_mail, "html"))
            await page.screenshot(path=str(shots / "10-feedback-email-de.png"))
            await page.get_by_role("link", name="Dein Feedback öffnen").click()
            await page.get_by_text("Klare Fragen").wait_for()
            await page.screenshot(path=str(shots / "11-feedback-twin-de.png"), full_page=True)
        finally:
            await browser.close()

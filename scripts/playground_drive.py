"""Drive the Microsoft 365 Agents Playground the way its web UI does, to check the local flow end to end.

Start the bot (``PEERCOACH_BOT__DEV_MODE=true peercoach serve``) with a program and one more enrolled person,
and the Playground (``npx @microsoft/m365agentsplayground -e http://127.0.0.1:3978/api/messages -c msteams``),
then run ``python scripts/playground_drive.py``. It installs the app, joins with the profile card, runs a
round as the admin (the Playground's user alexw@example.com must be in PEERCOACH_BOT__ADMINS), and answers
the intro card and the check-in card. Each step prints what the Playground showed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

import aiohttp

PROFILE = {"department": "Finance", "time_zone": "Europe/Berlin", "working_hours": "09:00-17:00",
           "languages": "en", "skills_offered": "SQL", "skills_wanted": "public speaking",
           "goals": "speak at the all-hands", "enrolling": True}


class Playground:
    def __init__(self, session: aiohttp.ClientSession, base: str, conversation: str, user: str) -> None:
        self.session, self.base, self.conversation, self.user = session, base, conversation, user
        self.messages: list[dict[str, Any]] = []

    async def listen(self) -> None:
        async with self.session.ws_connect(self.base.replace("http", "ws", 1)
                                           + "/_ws_conversation/v1/conversations/stream") as ws:
            async for frame in ws:
                if frame.type == aiohttp.WSMsgType.TEXT:
                    data = json.loads(frame.data)
                    if data.get("action") == "createMessage" and data.get("actionConversationId") == self.conversation:
                        self.messages.append(data["message"])

    async def wait_for(self, predicate: Any, after: int, seconds: float = 20.0) -> dict[str, Any]:
        for _ in range(int(seconds * 10)):
            for message in self.messages[after:]:
                if predicate(message):
                    return message
            await asyncio.sleep(0.1)
        raise TimeoutError("the bot did not answer in time")

    async def install(self) -> None:
        async with self.session.post(f"{self.base}/_debug/conversation/{self.conversation}/installation",
                                     json={}) as response:
            response.raise_for_status()

    async def say(self, text: str) -> None:
        async with self.session.post(f"{self.base}/_conversation/v1/conversations/{self.conversation}/messages",
                                     json={"from": {"id": self.user}, "text": text, "textFormat": "plain"}) as r:
            r.raise_for_status()

    async def act(self, message_id: str, verb: str, data: dict[str, Any]) -> dict[str, Any]:
        body = {"name": "adaptiveCard/action", "from": {"id": self.user}, "conversation": {"id": self.conversation},
                "replyToId": message_id,
                "value": {"action": {"type": "Action.Execute", "verb": verb, "data": data}}}
        async with self.session.post(f"{self.base}/_conversation/v1/invoke", json=body) as response:
            response.raise_for_status()
            result: dict[str, Any] = await response.json(content_type=None)
            return result


def card(message: dict[str, Any]) -> dict[str, Any]:
    attachments = message.get("attachments") or []
    return attachments[0]["content"] if attachments else {}


def verbs(content: dict[str, Any]) -> list[str]:
    return [a.get("verb", "") for a in content.get("actions", [])]


def invoke_card(result: dict[str, Any]) -> dict[str, Any]:
    """The card in an invoke answer (the Playground wraps the bot's body)."""
    for key in ("value", "body"):
        if isinstance(result.get(key), dict):
            inner = result[key]
            return inner.get("value", inner) if inner.get("type") != "AdaptiveCard" else inner
    return result


def first_text(content: dict[str, Any]) -> str:
    return next((b.get("text", "") for b in content.get("body", []) if b.get("type") == "TextBlock"), "")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--playground", default="http://localhost:56150")
    parser.add_argument("--program", default="Pairs")
    args = parser.parse_args()
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{args.playground}/_internal/v1/config") as response:
            config = (await response.json())["config"]
        pg = Playground(session, args.playground, config["personalChat"]["id"], config["currentUser"]["id"])
        listener = asyncio.create_task(pg.listen())
        await asyncio.sleep(1)

        mark = len(pg.messages)
        await pg.install()
        await pg.say("join")
        welcome = await pg.wait_for(lambda m: "consent.accept" in verbs(card(m)), mark)
        print("1. welcome card:", first_text(card(welcome)), verbs(card(welcome)))

        form = invoke_card(await pg.act(welcome["messageId"], "consent.accept", {"consent": True}))
        print("2. consent -> profile card:", first_text(form), verbs(form))
        done = invoke_card(await pg.act(welcome["messageId"], "profile.submit", PROFILE))
        print("3. profile submitted:", first_text(done), "| actions left:", verbs(done))

        mark = len(pg.messages)
        await pg.say(f"round run {args.program}")
        reply = await pg.wait_for(lambda m: "Round" in (m.get("text") or ""), mark)
        print("4. admin round run:", reply["text"])
        intro = await pg.wait_for(lambda m: "match.met" in verbs(card(m)), mark, seconds=30)
        print("5. intro card:", first_text(card(intro)), verbs(card(intro)))

        match_id = card(intro)["actions"][0]["data"]["match_id"]
        checkin = invoke_card(await pg.act(intro["messageId"], "match.met", {"match_id": match_id}))
        print("6. we met -> check-in card:", first_text(checkin), verbs(checkin))
        thanks = invoke_card(await pg.act(intro["messageId"], "checkin.submit", {
            "match_id": match_id, "met": "yes", "usefulness": "5", "learned": "listen first", "next_step": "try"}))
        print("7. check-in submitted:", first_text(thanks), "| actions left:", verbs(thanks))
        listener.cancel()


if __name__ == "__main__":
    asyncio.run(main())

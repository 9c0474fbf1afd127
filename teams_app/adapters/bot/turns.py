"""Small helpers every part of the conversation uses: replying (Teams card, text, or email HTML), the
person's language, and choosing a program by name."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from botbuilder.core import CardFactory, MessageFactory, TurnContext
from botbuilder.schema import Activity, ActivityTypes

from teams_app.adapters.email.templates import Block, compose
from teams_app.domain.model import Participant, Program
from teams_app.i18n import Translate, translator
from teams_app.service.use_cases import CoachingService


def is_email(turn_context: TurnContext) -> bool:
    return bool(turn_context.activity.channel_id == "email")


def translate(turn_context: TurnContext, person: Participant | None, default_locale: str) -> Translate:
    return translator(turn_context.activity.locale or (person.locale if person else "") or default_locale)


async def say(turn_context: TurnContext, text: str, card: dict[str, Any] | None = None, subject: str = "", *,
              default_locale: str = "en") -> None:
    """Reply: an Adaptive Card (Teams), plain text, or HTML with a subject (the email channel)."""
    if is_email(turn_context):
        locale = turn_context.activity.locale or default_locale
        _ = translator(locale)
        # The same layout as notification emails: chat markdown becomes HTML, and plain text in the text part.
        blocks: list[Block] = []
        for paragraph in text.split("\n\n"):
            items = paragraph.strip().splitlines()
            if items and all(line.startswith("- ") for line in items):
                if blocks and isinstance(blocks[-1], list):  # "- a\n\n- b": one list, as chat shows it
                    blocks[-1].extend(line[2:] for line in items)
                else:
                    blocks.append([line[2:] for line in items])
            elif paragraph.strip():
                blocks.append(paragraph.strip())
        title, body, plain_text = compose(subject or _("Peer coaching"), blocks, locale=locale)
        reply = Activity(type=ActivityTypes.message, text=plain_text, channel_data={
            "htmlBody": body, "subject": title, "importance": "normal"})
    elif card is not None:
        reply = MessageFactory.attachment(CardFactory.adaptive_card(card))
    else:
        reply = MessageFactory.text(text)
    await turn_context.send_activity(reply)


async def open_programs(service: CoachingService) -> list[Program]:
    return [p for p in await service.list_programs() if p.active]


async def enrolled_programs(service: CoachingService, person: Participant) -> list[Program]:
    ids = set((await service.progress(person.id)).programs)
    return [p for p in await service.list_programs() if p.id in ids]


def choose(programs: Sequence[Program], args: tuple[str, ...]) -> Program | None:
    """The program named in ``args`` (name or id), or the only one."""
    wanted = " ".join(args).strip().lower()
    if wanted:
        for program in programs:
            if wanted in (program.name.lower(), program.id):
                return program
        return None
    return programs[0] if len(programs) == 1 else None

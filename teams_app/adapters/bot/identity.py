"""Who is talking: the sender's participant record, email (from the Teams roster), admin rights, tenant, and
the stored conversation reference that proactive messages need (refreshed when it changes, or hourly)."""

from __future__ import annotations

import logging
import time
from typing import Any

from botbuilder.core import TurnContext
from botbuilder.core.teams import TeamsInfo
from botbuilder.schema import Activity, ChannelAccount

from teams_app.adapters.bot.store import ConversationStore
from teams_app.adapters.bot.turns import is_email
from teams_app.config import BotSettings
from teams_app.domain.model import Participant, stable_id
from teams_app.service.ports import Clock
from teams_app.service.use_cases import CoachingService, ParticipantInput

logger = logging.getLogger(__name__)

REFRESH_S = 3600.0
MAX_CACHED = 100_000


def tenant_of(activity: Activity) -> str:
    if activity.conversation is not None and activity.conversation.tenant_id:
        return str(activity.conversation.tenant_id)
    data = activity.channel_data if isinstance(activity.channel_data, dict) else {}
    tenant = data.get("tenant")
    return str(tenant.get("id") or "") if isinstance(tenant, dict) else ""


def safe(value: str) -> str:
    return "".join(ch for ch in value if ch.isalnum())[:40] or "someone"


class Identity:
    def __init__(self, service: CoachingService, conversations: ConversationStore, settings: BotSettings,
                 clock: Clock) -> None:
        self._service = service
        self._conversations = conversations
        self._clock = clock
        self._admins = {a.strip().lower() for a in settings.admins if a.strip()}
        self._saved: dict[str, tuple[tuple[Any, ...], float]] = {}  # conversation -> (what was stored, when)
        self._emails: dict[str, tuple[str, str]] = {}  # aad object id -> (email, name) from the roster

    # -- the conversation reference -------------------------------------------------------------------
    async def remember(self, turn_context: TurnContext) -> None:
        activity = turn_context.activity
        if not activity.service_url or activity.conversation is None or not activity.conversation.id:
            return
        reference = TurnContext.get_conversation_reference(activity).serialize()
        sender = activity.from_property or ChannelAccount()
        channel_data = activity.channel_data if isinstance(activity.channel_data, dict) else {}
        conversation_type = activity.conversation.conversation_type or "personal"
        # Written when something a proactive send needs changed, or hourly; otherwise the stored one is current.
        fingerprint = (activity.service_url, activity.locale, sender.id, sender.aad_object_id, tenant_of(activity))
        key = f"{activity.channel_id}/{activity.conversation.id}"
        seen = self._saved.get(key)
        if seen is not None and seen[0] == fingerprint and time.monotonic() - seen[1] < REFRESH_S:
            return
        user_key = (sender.id or "").lower() if activity.channel_id == "email" else (sender.id or "")
        team = channel_data.get("team")
        ref_id = await self._conversations.save(
            channel_id=activity.channel_id or "", conversation_id=activity.conversation.id,
            conversation_type=conversation_type, tenant_id=tenant_of(activity),
            aad_object_id=sender.aad_object_id or "" if conversation_type == "personal" else "",
            user_key=user_key if conversation_type == "personal" else "",
            team_id=str(team.get("id") or "") if isinstance(team, dict) else "", service_url=activity.service_url,
            locale=activity.locale or "", reference=reference, now=self._clock.now())
        self._saved[key] = (fingerprint, time.monotonic())
        if len(self._saved) > MAX_CACHED:
            self._saved.clear()
        if conversation_type == "groupChat":
            await self._save_roster(turn_context, ref_id)

    async def remember_roster(self, turn_context: TurnContext) -> None:
        """Read a group chat's roster again (people were added or removed): a circle's posts go to a group chat
        only while its roster is exactly the circle."""
        activity = turn_context.activity
        if activity.conversation is None or activity.conversation.conversation_type != "groupChat":
            return
        await self._save_roster(turn_context, stable_id("conversation", activity.channel_id or "",
                                                        activity.conversation.id))

    async def _save_roster(self, turn_context: TurnContext, ref_id: str) -> None:
        try:
            members = await TeamsInfo.get_members(turn_context)
        except Exception as exc:  # without the roster the chat gets no circle posts, which is the safe side
            logger.info("could not read the group chat's roster: %s", type(exc).__name__)
            return
        await self._conversations.save_members(ref_id, [m.aad_object_id or "" for m in members])

    async def refresh_reference(self, turn_context: TurnContext) -> None:
        activity = turn_context.activity
        if activity.conversation is not None:
            self._saved.pop(f"{activity.channel_id}/{activity.conversation.id}", None)
        await self.remember(turn_context)

    # -- the sender ------------------------------------------------------------------------------------
    async def identity(self, turn_context: TurnContext) -> tuple[str, str, str]:
        """(aad object id, email, display name) of the sender; email from the Teams roster when needed."""
        sender = turn_context.activity.from_property or ChannelAccount()
        if is_email(turn_context):
            return "", (sender.id or "").lower(), sender.name or ""
        aad = sender.aad_object_id or ""
        if aad in self._emails:
            email, name = self._emails[aad]
            return aad, email, name
        email, name = "", sender.name or ""
        try:
            member = await TeamsInfo.get_member(turn_context, sender.id)
            email = (member.email or member.user_principal_name or "").lower()
            name = member.name or name
        except Exception as exc:  # the roster is optional (e.g. a connector without it)
            logger.info("could not read the sender's roster entry: %s", type(exc).__name__)
        if "@" not in email:
            email = f"{aad or safe(sender.id or 'someone')}@teams.invalid"  # never mailed: see sender
        if aad:
            self._emails[aad] = (email, name)
            if len(self._emails) > MAX_CACHED:
                self._emails.clear()
        return aad, email, name

    async def person(self, turn_context: TurnContext) -> Participant | None:
        sender = turn_context.activity.from_property or ChannelAccount()
        if is_email(turn_context):
            return await self._service.find_participant(email=sender.id or "")
        person = None
        if sender.aad_object_id:
            person = await self._service.find_participant(aad_object_id=sender.aad_object_id)
        if person is None:
            aad, email, _name = await self.identity(turn_context)
            person = await self._service.find_participant(email=email)
            if person is not None and aad and not person.aad_object_id:
                # An imported person talks to the bot for the first time: link their Teams identity.
                person = await self._service.register(ParticipantInput(
                    email=person.email, display_name=person.display_name, profile=person.profile,
                    aad_object_id=aad, tenant_id=tenant_of(turn_context.activity), locale=person.locale,
                    manager_email=person.manager_email))
        return person

    def is_admin(self, turn_context: TurnContext, person: Participant | None) -> bool:
        sender = turn_context.activity.from_property or ChannelAccount()
        keys = {(sender.aad_object_id or "").lower()}
        if is_email(turn_context):
            keys.add((sender.id or "").lower())
        if person is not None:
            keys.add(person.email.lower())
        return bool(self._admins & (keys - {""}))

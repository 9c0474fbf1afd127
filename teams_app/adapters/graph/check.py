"""Setup check: can peercoach get an app-only token, and does it hold each permission it needs?

The token's ``roles`` claim lists the application permissions an admin has consented to. Holding a role
is not always enough (Exchange "RBAC for Applications" or an application access policy can scope the
app to some mailboxes), so with a probe mailbox we also call getSchedule for real.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from teams_app.adapters.graph.client import GraphError, GraphGateway, RetryPolicy, build_graph_client
from teams_app.adapters.graph.credentials import CredentialError, graph_scope

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Permission:
    name: str
    satisfied_by: tuple[str, ...]
    reason: str
    required: bool = True


PERMISSIONS = (
    Permission("Calendars.ReadBasic", ("Calendars.ReadBasic", "Calendars.Read", "Calendars.ReadWrite"),
               "read free/busy with getSchedule to find a common slot"),
    Permission("Calendars.ReadWrite", ("Calendars.ReadWrite",),
               "create, move and cancel the Teams meeting in the organizer's calendar"),
    Permission("Mail.Send", ("Mail.Send",), "send program email from the program mailbox (sendMail)"),
    Permission("TeamsAppInstallation.ReadWriteSelfForUser.All", ("TeamsAppInstallation.ReadWriteSelfForUser.All",),
               "install the bot for people so it can message them first (optional: otherwise they add it)",
               required=False),
)


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    required: bool
    detail: str


def token_roles(token: str) -> list[str]:
    """The ``roles`` claim of an access token (not verified: we only read what we were given)."""
    try:
        claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise ValueError(f"the access token is not a JWT: {exc}") from None
    roles = claims.get("roles") or []
    return [str(r) for r in roles] if isinstance(roles, list) else []


async def check_graph(credential: Any, base_url: str, *, probe_mailbox: str = "", need_mail: bool = True,
                      now: datetime | None = None) -> list[CheckResult]:
    results: list[CheckResult] = []
    try:
        token = await credential.get_token(graph_scope(base_url))
    except CredentialError as exc:
        return [CheckResult("credentials", False, True, str(exc))]
    except Exception as exc:  # azure-identity raises its own ClientAuthenticationError and friends
        return [CheckResult("credentials", False, True, f"{type(exc).__name__}: {exc}")]
    results.append(CheckResult("credentials", True, True, "app-only token issued"))
    try:
        roles = set(token_roles(token.token))
    except ValueError as exc:
        return [*results, CheckResult("token", False, True, str(exc))]
    for permission in PERMISSIONS:
        required = permission.required and (need_mail or permission.name != "Mail.Send")
        held = sorted(roles.intersection(permission.satisfied_by))
        if held:
            detail = f"granted ({', '.join(held)}): {permission.reason}"
        else:
            detail = (f"missing: add the application permission {permission.name} in Entra ID and grant admin "
                      f"consent; needed to {permission.reason}")
            if permission.name != "TeamsAppInstallation.ReadWriteSelfForUser.All":
                detail += (" (granted through Exchange RBAC for Applications instead? Those grants are not in "
                           "the token: confirm with --mailbox)")
        results.append(CheckResult(permission.name, bool(held), required, detail))
    if probe_mailbox:
        results.append(await _probe(credential, base_url, probe_mailbox, now or datetime.now(UTC)))
    return results


async def _probe(credential: Any, base_url: str, mailbox: str, now: datetime) -> CheckResult:
    from msgraph.generated.models.date_time_time_zone import DateTimeTimeZone
    from msgraph.generated.users.item.calendar.get_schedule.get_schedule_post_request_body import (
        GetSchedulePostRequestBody,
    )

    gateway = GraphGateway(build_graph_client(credential, base_url), policy=RetryPolicy(max_attempts=2))
    start = now.replace(minute=0, second=0, microsecond=0)
    body = GetSchedulePostRequestBody(
        schedules=[mailbox], availability_view_interval=60,
        start_time=DateTimeTimeZone(date_time=start.strftime("%Y-%m-%dT%H:%M:%S"), time_zone="UTC"),
        end_time=DateTimeTimeZone(date_time=(start + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S"),
                                  time_zone="UTC"))
    builder = gateway.client.users.by_user_id(mailbox).calendar.get_schedule
    name = f"getSchedule on {mailbox}"
    try:
        response = await gateway.call("getSchedule", mailbox, lambda: builder.post(body))
    except GraphError as exc:
        hint = ""
        if exc.status == 403:
            hint = " (an application access policy or RBAC for Applications may exclude this mailbox)"
        elif exc.mailbox_missing:
            hint = " (no Exchange Online mailbox with this address)"
        return CheckResult(name, False, True, f"{exc}{hint}")
    errors = [info.error.message for info in (response.value if response else None) or [] if info.error]
    if errors:
        return CheckResult(name, False, True, f"Graph answered, but: {errors[0]}")
    return CheckResult(name, True, True, "free/busy read")

"""Setup check: can peercoach get an app-only token, and does it hold each permission it needs?

The token's ``roles`` claim lists the application permissions an admin has consented to. Holding a role
is not always enough (Exchange "RBAC for Applications" or an application access policy can scope the
app to some mailboxes), so with a probe mailbox we also call getSchedule for real.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from teams_app.adapters.graph.client import GraphError, GraphGateway, RetryPolicy, build_graph_client
from teams_app.adapters.graph.credentials import CredentialError, graph_scope
from teams_app.graph_permissions import GRAPH_APPLICATION_PERMISSIONS


@dataclass(frozen=True)
class Permission:
    name: str
    satisfied_by: tuple[str, ...]
    reason: str
    required: bool = True


# Higher permissions that also let the call through (getSchedule accepts any calendar read permission).
_ALSO_SATISFIED_BY = {"Calendars.ReadBasic": ("Calendars.Read", "Calendars.ReadWrite")}

PERMISSIONS = tuple(
    Permission(p.name, (p.name, *_ALSO_SATISFIED_BY.get(p.name, ())), f"{p.used_for} ({p.endpoint})", p.required)
    for p in GRAPH_APPLICATION_PERMISSIONS
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
            if permission.name.startswith(("Calendars.", "Mail.")):  # Exchange permissions
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

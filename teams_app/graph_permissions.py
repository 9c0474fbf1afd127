"""The Microsoft Graph application permissions peercoach asks an admin to grant, and why.

One list for the admin guide (a test checks that ``docs/admin.md`` names every entry) and for the Graph
adapter, which should never call an endpoint needing a permission that is not listed here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GraphPermission:
    name: str
    used_for: str
    endpoint: str
    required: bool
    least_privilege_note: str


GRAPH_APPLICATION_PERMISSIONS: tuple[GraphPermission, ...] = (
    GraphPermission(
        name="Calendars.ReadBasic",
        used_for="find common free time of a match before booking",
        endpoint="POST /users/{id}/calendar/getSchedule",
        required=True,
        least_privilege_note="basic event properties only: no bodies, attachments or extensions",
    ),
    GraphPermission(
        name="Calendars.ReadWrite",
        used_for="book the meeting (Teams online meeting) in the organiser's calendar, idempotently",
        endpoint="POST /users/{organizer}/events with transactionId",
        required=True,
        least_privilege_note="limit to the organiser mailboxes with Exchange RBAC for Applications",
    ),
    GraphPermission(
        name="Mail.Send",
        used_for="send program email (invitations, reminders, digests) from the program mailbox",
        endpoint="POST /users/{sender}/sendMail",
        required=True,
        least_privilege_note="scope to the one sender mailbox with Exchange RBAC for Applications",
    ),
    GraphPermission(
        name="TeamsAppInstallation.ReadWriteSelfForUser.All",
        used_for="install the app for enrolled people who never opened the bot (proactive install)",
        endpoint="POST /users/{id}/teamwork/installedApps",
        required=False,
        least_privilege_note="only if proactive install is wanted; 'Self' means it can install only this app",
    ),
)

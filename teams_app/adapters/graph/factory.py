"""Build the Calendar and Mailer the settings ask for (used by ``bootstrap``).

- Graph configured: :class:`GraphCalendar`; mail through Graph ``sendMail`` when a sender mailbox is set,
  else SMTP when a host is set.
- Graph not configured: :class:`IcsCalendar` (proposal from working hours + ICS invitation) and SMTP mail.
- Neither SMTP nor a Graph sender: ``.eml`` files in ``smtp.folder`` when set (the dev stack), else no mailer.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from teams_app.adapters.email.calendar import IcsCalendar
from teams_app.adapters.email.folder import FolderMailer
from teams_app.adapters.email.smtp import SmtpMailer
from teams_app.adapters.graph.calendar import GraphCalendar, GraphMailer
from teams_app.adapters.graph.client import GraphGateway, RetryPolicy, build_graph_client
from teams_app.adapters.graph.credentials import make_credential
from teams_app.config import GraphSettings, SmtpSettings

logger = logging.getLogger(__name__)


@dataclass
class CalendarAndMail:
    calendar: GraphCalendar | IcsCalendar
    mailer: GraphMailer | SmtpMailer | FolderMailer | None
    gateway: GraphGateway | None = None
    credential: Any = None

    async def close(self) -> None:
        if self.gateway is not None:
            http = getattr(self.gateway.client.request_adapter, "_http_client", None)
            if http is not None:
                await http.aclose()
        close = getattr(self.credential, "close", None)
        if close is not None:
            await close()


def smtp_mailer(smtp: SmtpSettings) -> SmtpMailer | FolderMailer | None:
    if not smtp.host:
        return FolderMailer(smtp.folder, sender=smtp.sender) if smtp.folder is not None else None
    return SmtpMailer(smtp.host, smtp.port, sender=smtp.sender, starttls=smtp.starttls, use_tls=smtp.use_tls,
                      username=smtp.username, password=smtp.password.get_secret_value())


def build_calendar_and_mail(graph: GraphSettings, smtp: SmtpSettings) -> CalendarAndMail:
    if not graph.configured:
        logger.info("Graph not configured: meetings are proposed by ICS invitation")
        return CalendarAndMail(IcsCalendar(), smtp_mailer(smtp))
    credential = make_credential(
        tenant_id=graph.tenant_id, client_id=graph.client_id, client_secret=graph.client_secret.get_secret_value(),
        certificate_path=graph.certificate_path, authority_host=graph.authority_host, token_url=graph.token_url,
        managed_identity_client_id=graph.managed_identity_client_id)
    gateway = GraphGateway(build_graph_client(credential, graph.base_url),
                           policy=RetryPolicy(max_attempts=graph.max_attempts))
    mailer: GraphMailer | SmtpMailer | FolderMailer | None = (
        GraphMailer(gateway, graph.sender_mailbox) if graph.sender_mailbox else smtp_mailer(smtp))
    return CalendarAndMail(GraphCalendar(gateway, organizer=graph.organizer), mailer, gateway, credential)

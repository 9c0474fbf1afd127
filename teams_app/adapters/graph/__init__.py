"""Microsoft Graph adapter: app-only client, Calendar and Mailer ports. msgraph types stay in here."""

from teams_app.adapters.graph.calendar import BookingRequest, GraphCalendar, GraphMailer, schedule_link, transaction_id
from teams_app.adapters.graph.client import GraphError, GraphGateway, MailboxLimiter, RetryPolicy, build_graph_client
from teams_app.adapters.graph.credentials import ClientCredentialsTokenCredential, CredentialError, make_credential

__all__ = [
    "BookingRequest",
    "ClientCredentialsTokenCredential",
    "CredentialError",
    "GraphCalendar",
    "GraphError",
    "GraphGateway",
    "GraphMailer",
    "MailboxLimiter",
    "RetryPolicy",
    "build_graph_client",
    "make_credential",
    "schedule_link",
    "transaction_id",
]

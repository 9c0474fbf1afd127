"""PostgreSQL sign-in with a Microsoft Entra token of the managed identity (Azure Database for PostgreSQL).

With ``PEERCOACH_DB__ENTRA_AUTH=true`` the database URL carries the role name and no password
(``postgresql+asyncpg://peercoach-id@server.postgres.database.azure.com/peercoach?ssl=require``): every new
connection gets a fresh token as its password from SQLAlchemy's ``do_connect`` hook. asyncpg accepts a
coroutine function as the password and awaits it per connection, so the token request never blocks the loop,
and the provider's cache means one request an hour, not one per connection.

The role must exist first; an Entra administrator of the server runs, once, in the ``postgres`` database::

    SELECT * FROM pgaadauth_create_principal_with_oid('peercoach-id', '<principal (object) id>', 'service',
                                                      false, false);

and then, in the application database, ``GRANT ALL ON SCHEMA public TO "peercoach-id";`` (docs/deploy.md).
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

logger = logging.getLogger(__name__)

POSTGRES_SCOPE = "https://ossrdbms-aad.database.windows.net/.default"


class TokenProvider(Protocol):
    async def get_token(self) -> str: ...


def install_entra_auth(engine: AsyncEngine, provider: TokenProvider) -> None:
    """Give every new connection of ``engine`` a fresh Entra token as its password (PostgreSQL only)."""
    if engine.dialect.name != "postgresql":
        raise ValueError("Entra token sign-in applies to PostgreSQL only (PEERCOACH_DB__ENTRA_AUTH)")

    @event.listens_for(engine.sync_engine, "do_connect")
    def _token_as_password(dialect: Any, conn_rec: Any, cargs: Any, cparams: dict[str, Any]) -> None:
        cparams["password"] = provider.get_token  # awaited by asyncpg for each new connection


def entra_auth_from_settings(engine: AsyncEngine, *, enabled: bool, client_id: str, endpoint: str = "") -> Any:
    """Install Entra sign-in when enabled; returns the provider (to close it) or None."""
    if not enabled:
        return None
    from teams_app.adapters.identity import ManagedIdentityTokenProvider

    provider = ManagedIdentityTokenProvider(client_id, POSTGRES_SCOPE, endpoint=endpoint)
    install_entra_auth(engine, provider)
    logger.info("PostgreSQL sign-in with Entra tokens of managed identity %s", client_id)
    return provider

"""App-only credentials for Microsoft Graph.

Production uses azure-identity's ``ManagedIdentityCredential`` (a user-assigned managed identity, the
deployment kit's default), ``ClientSecretCredential`` or ``CertificateCredential`` (with an authority host
for national clouds). azure-identity insists on an https authority, so tests (and private
endpoints behind a plain token URL) use :class:`ClientCredentialsTokenCredential`: the same OAuth 2.0
client-credentials request, made over real HTTP to a configurable token endpoint, with caching.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from azure.core.credentials import AccessToken

logger = logging.getLogger(__name__)

DEFAULT_SCOPE = "https://graph.microsoft.com/.default"


class CredentialError(Exception):
    """The token endpoint refused the credentials (or, with ``unreachable``, could not be reached)."""

    def __init__(self, message: str, *, unreachable: bool = False) -> None:
        super().__init__(message)
        self.unreachable = unreachable


def graph_scope(base_url: str) -> str:
    """The '.default' scope for a Graph base URL (national clouds have their own host)."""
    parts = urlsplit(base_url)
    if parts.scheme == "https" and parts.hostname:
        return f"https://{parts.hostname}/.default"
    return DEFAULT_SCOPE


class ClientCredentialsTokenCredential:
    """An ``AsyncTokenCredential`` doing the client-credentials grant against ``token_url``."""

    def __init__(self, token_url: str, client_id: str, client_secret: str, *, timeout_s: float = 30.0) -> None:
        if not token_url or not client_id or not client_secret:
            raise ValueError("token_url, client_id and client_secret are all required")
        self._token_url = token_url
        self._client_id = client_id
        self._secret = client_secret
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._cache: dict[str, AccessToken] = {}
        self._lock = asyncio.Lock()

    async def get_token(self, *scopes: str, claims: str | None = None, tenant_id: str | None = None,
                        enable_cae: bool = False, **kwargs: Any) -> AccessToken:
        scope = " ".join(scopes) or DEFAULT_SCOPE
        async with self._lock:
            cached = self._cache.get(scope)
            if cached is not None and cached.expires_on - 300 > time.time():
                return cached
            form = {"grant_type": "client_credentials", "client_id": self._client_id,
                    "client_secret": self._secret, "scope": scope}
            try:
                async with aiohttp.ClientSession(timeout=self._timeout) as session, \
                        session.post(self._token_url, data=form) as response:
                    payload = await response.json(content_type=None)
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                raise CredentialError(f"token endpoint {self._token_url} unreachable: {exc}",
                                      unreachable=True) from exc
            if response.status != 200 or "access_token" not in payload:
                description = payload.get("error_description") or payload.get("error") or response.reason
                raise CredentialError(f"token request refused ({response.status}): {description}")
            token = AccessToken(payload["access_token"], int(time.time()) + int(payload.get("expires_in", 3600)))
            self._cache[scope] = token
            return token

    async def close(self) -> None:
        self._cache.clear()

    async def __aenter__(self) -> ClientCredentialsTokenCredential:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()


def make_credential(*, tenant_id: str, client_id: str, client_secret: str = "",
                    certificate_path: Path | None = None, authority_host: str = "", token_url: str = "",
                    managed_identity_client_id: str = "") -> Any:
    """The credential for the configured identity: managed identity, else the app's secret or certificate."""
    if managed_identity_client_id:
        from azure.identity.aio import ManagedIdentityCredential

        # azure-identity finds the platform's endpoint itself (IDENTITY_ENDPOINT/IDENTITY_HEADER, else IMDS).
        return ManagedIdentityCredential(client_id=managed_identity_client_id)
    if token_url:
        return ClientCredentialsTokenCredential(token_url, client_id, client_secret)
    from azure.identity.aio import CertificateCredential, ClientSecretCredential

    options: dict[str, Any] = {"authority": authority_host} if authority_host else {}
    if certificate_path is not None:
        return CertificateCredential(tenant_id, client_id, str(certificate_path), **options)
    if client_secret:
        return ClientSecretCredential(tenant_id, client_id, client_secret, **options)
    raise ValueError("Graph needs a client secret or a certificate (PEERCOACH_GRAPH__CLIENT_SECRET or "
                     "PEERCOACH_GRAPH__CERTIFICATE_PATH)")

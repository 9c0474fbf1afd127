"""A local stand-in for the managed identity endpoints (App Service's IDENTITY_ENDPOINT protocol and IMDS).

Real HTTP on a loopback port: checks what the real endpoints check (the secret header or ``Metadata: true``,
the api-version, a known client id) and answers with the real shapes, so the provider and azure-identity's
``ManagedIdentityCredential`` are exercised end to end. Failures can be scripted per request.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

APP_SERVICE_PATH = "/msi/token"
IMDS_PATH = "/metadata/identity/oauth2/token"


@dataclass
class TokenServer:
    header_secret: str = "identity-header-secret"
    client_ids: set[str] = field(default_factory=lambda: {"mi-client-id"})
    lifetime_s: int = 3600
    delay_s: float = 0.0
    scripted: list[tuple[int, dict[str, str]]] = field(default_factory=list)  # answered before any token
    requests: list[dict[str, Any]] = field(default_factory=list)
    # Where tokens come from (e.g. a local Graph server's token endpoint); default: opaque test tokens.
    upstream: Callable[[str], Awaitable[str]] | None = None
    server: TestServer | None = None
    _ids: Any = field(default_factory=lambda: itertools.count(1))

    def url(self, path: str) -> str:
        assert self.server is not None
        return str(self.server.make_url(path))

    async def start(self) -> TokenServer:
        app = web.Application()
        app.router.add_get(APP_SERVICE_PATH, self.app_service)
        app.router.add_get(IMDS_PATH, self.imds)
        self.server = TestServer(app, host="127.0.0.1")
        await self.server.start_server()
        return self

    async def close(self) -> None:
        if self.server is not None:
            await self.server.close()

    def tokens_for(self, resource: str) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["resource"] == resource]

    async def _answer(self, request: web.Request, protocol: str) -> web.Response:
        query = request.query
        self.requests.append({"protocol": protocol, "resource": query.get("resource", ""),
                              "client_id": query.get("client_id", ""), "api_version": query.get("api-version", "")})
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self.scripted:
            status, headers = self.scripted.pop(0)
            return web.json_response({"error": "scripted", "error_description": f"scripted {status}"},
                                     status=status, headers=headers)
        if not query.get("resource"):
            return web.json_response({"error": "invalid_request", "error_description": "resource missing"},
                                     status=400)
        if query.get("client_id") not in self.client_ids:
            return web.json_response({"error": "invalid_request",
                                      "error_description": "Identity not found"}, status=400)
        expires_on = int(time.time()) + self.lifetime_s
        token = (await self.upstream(query["resource"]) if self.upstream is not None
                 else f"token-{next(self._ids)}-for-{query['resource']}")
        body: dict[str, Any] = {"access_token": token, "expires_on": str(expires_on), "resource": query["resource"],
                                "token_type": "Bearer", "client_id": query["client_id"]}
        if protocol == "imds":
            body["expires_in"] = str(self.lifetime_s)
        return web.json_response(body)

    async def app_service(self, request: web.Request) -> web.Response:
        if request.headers.get("X-IDENTITY-HEADER") != self.header_secret:
            return web.json_response({"error": "unauthorized"}, status=401)
        if request.query.get("api-version") != "2019-08-01":
            return web.json_response({"error": "invalid api-version"}, status=400)
        return await self._answer(request, "app_service")

    async def imds(self, request: web.Request) -> web.Response:
        if request.headers.get("Metadata") != "true":
            return web.json_response({"error": "invalid_request", "error_description": "Metadata header"},
                                     status=400)
        if request.query.get("api-version") != "2018-02-01":
            return web.json_response({"error": "invalid api-version"}, status=400)
        return await self._answer(request, "imds")

"""A small local LRS stand-in (aiohttp) whose answers a test can script, for failure paths ralph won't show.

Default behaviour follows the xAPI spec the way ralph does: stores statements by id, 200 with the ids,
204 when everything is already stored identically, 409 for the same id with different content, 422 for
a statement whose actor mbox has no "@". ``script`` overrides the next answers (status, body, headers).
"""

from __future__ import annotations

import base64
import json
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class FakeLrs:
    username: str = "relay"
    password: str = "s3cret"
    versions: list[str] = field(default_factory=lambda: ["1.0.3", "1.0.2"])
    about_status: int = 200
    token_ttl_s: int = 3600
    script: deque[tuple[int, str, dict[str, str]]] = field(default_factory=deque)
    stored: dict[str, dict[str, Any]] = field(default_factory=dict)
    raw_stored: dict[str, str] = field(default_factory=dict)
    posts: list[bytes] = field(default_factory=list)
    post_headers: list[dict[str, str]] = field(default_factory=list)
    tokens_issued: list[str] = field(default_factory=list)
    revoked_tokens: set[str] = field(default_factory=set)
    get_requests: list[str] = field(default_factory=list)
    page_size: int = 2
    name_refused_positions: bool = True  # False: a 422 without detail.loc (as Learning Locker answers)
    base_url: str = ""
    _runner: web.AppRunner | None = None

    @property
    def endpoint(self) -> str:
        return f"{self.base_url}/xAPI/"

    @property
    def token_url(self) -> str:
        return f"{self.base_url}/oauth/token"

    def _authorized(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            token = header[7:]
            return token in self.tokens_issued and token not in self.revoked_tokens
        expected = "Basic " + base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        return header == expected

    async def _token(self, request: web.Request) -> web.Response:
        expected = "Basic " + base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        form = await request.post()
        if request.headers.get("Authorization") != expected or form.get("grant_type") != "client_credentials":
            return web.json_response({"error": "invalid_client"}, status=401)
        token = f"tok{len(self.tokens_issued)}"
        self.tokens_issued.append(token)
        return web.json_response(
            {"access_token": token, "token_type": "Bearer", "expires_in": self.token_ttl_s})

    async def _about(self, request: web.Request) -> web.Response:
        if self.about_status != 200:
            return web.json_response({"detail": "nope"}, status=self.about_status)
        return web.json_response({"version": self.versions})

    async def _post(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.posts.append(body)
        self.post_headers.append(dict(request.headers))
        if not self._authorized(request):
            return web.json_response({"detail": "Invalid authentication credentials"}, status=401)
        if self.script:
            status, text, headers = self.script.popleft()
            return web.Response(status=status, text=text, headers=headers)
        statements = json.loads(body)
        if isinstance(statements, dict):
            statements = [statements]
        refused = [i for i, st in enumerate(statements) if "@" not in st.get("actor", {}).get("mbox", "mailto:x@y")]
        if refused:
            if not self.name_refused_positions:
                return web.json_response({"message": "not a valid email address"}, status=422)
            detail = [{"loc": ["body", i, "actor", "mbox"], "msg": "not a valid email address"} for i in refused]
            return web.json_response({"detail": detail}, status=422)
        new: dict[str, dict[str, Any]] = {}
        for st in statements:
            old = self.stored.get(st["id"])
            if old is not None and old != st:
                message = f"Differing statements already exist with the same ID: {st['id']}"
                return web.json_response({"detail": message}, status=409)
            if old is None:
                new[st["id"]] = st
        if not new:
            return web.Response(status=204)
        self.stored.update(new)
        return web.json_response(list(new))

    async def _get(self, request: web.Request) -> web.Response:
        self.get_requests.append(str(request.rel_url))
        if request.headers.get("X-Experience-API-Version") != "1.0.3":
            return web.json_response({"detail": "missing version header"}, status=400)
        if not self._authorized(request):
            return web.json_response({"detail": "Invalid authentication credentials"}, status=401)
        if "statementId" in request.query:
            st = self.stored.get(request.query["statementId"])
            return web.json_response(st) if st else web.json_response({"detail": "not found"}, status=404)
        items = list(self.stored.values())
        if "verb" in request.query:
            items = [s for s in items if s["verb"]["id"] == request.query["verb"]]
        start = int(request.query.get("offset", "0"))
        page = items[start:start + self.page_size]
        answer: dict[str, Any] = {"statements": page}
        if start + self.page_size < len(items):
            query = dict(request.query)
            query["offset"] = str(start + self.page_size)
            answer["more"] = "/xAPI/statements?" + "&".join(f"{k}={v}" for k, v in query.items()
                                                              if k in ("offset", "verb"))
        return web.json_response(answer)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/oauth/token", self._token)
        app.router.add_get("/xAPI/about", self._about)
        app.router.add_post("/xAPI/statements", self._post)
        app.router.add_get("/xAPI/statements", self._get)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base_url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

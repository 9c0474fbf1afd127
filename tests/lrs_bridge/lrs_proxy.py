"""A recording reverse proxy in front of a real LRS (ralph): counts every POSTed statement id and can
hold the LRS's answer back, so a test can kill the relay after the LRS stored a batch but before the
relay learned that it did."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web


@dataclass
class LrsProxy:
    upstream: str  # e.g. http://127.0.0.1:8100 (no path)
    posted_ids: Counter[str] = field(default_factory=Counter)
    answers: list[int] = field(default_factory=list)
    hold: bool = False
    forwarded: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    base_url: str = ""
    _runner: web.AppRunner | None = None
    _session: aiohttp.ClientSession | None = None

    @property
    def endpoint(self) -> str:
        return f"{self.base_url}/xAPI/"

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        if request.method == "POST":
            for st in json.loads(body):
                self.posted_ids[st["id"]] += 1
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")}
        assert self._session is not None
        async with self._session.request(request.method, self.upstream + str(request.rel_url),
                                         data=body or None, headers=headers) as resp:
            text = await resp.read()
            status = resp.status
            content_type = resp.headers.get("Content-Type")
        if request.method == "POST":
            self.answers.append(status)
            if self.hold:
                # The LRS has stored the batch; the relay does not know yet.
                self.forwarded.set()
                await self.release.wait()
        response = web.Response(status=status, body=text)
        if content_type:
            response.headers["Content-Type"] = content_type
        return response

    async def start(self) -> None:
        self._session = aiohttp.ClientSession()
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._forward)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base_url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        self.release.set()
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

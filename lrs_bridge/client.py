"""An async xAPI client (aiohttp): POST arrays of statements, GET /statements with ``more`` paging, /about.

Authentication is HTTP Basic or OAuth2 client credentials (token fetched from ``token_url`` and cached
until shortly before it expires; a 401 refreshes it once). Every request carries
``X-Experience-API-Version: 1.0.3``. POST returns the status and body instead of raising so the relay
can decide what each answer means; connection failures and timeouts raise :class:`LrsConnectionError`.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urljoin

import aiohttp

from lrs_bridge.retry import parse_retry_after
from lrs_bridge.vocabulary import XAPI_VERSION

logger = logging.getLogger(__name__)

SUPPORTED_AUTH = ("basic", "oauth2")


class LrsError(Exception):
    """Base class for LRS client failures."""


class LrsConnectionError(LrsError):
    """The LRS could not be reached or did not answer in time."""


class LrsHttpError(LrsError):
    """The LRS answered with an unexpected status."""

    def __init__(self, status: int, reason: str, url: str) -> None:
        super().__init__(f"{url} answered {status}: {reason[:500]}")
        self.status = status
        self.reason = reason
        self.url = url


class LrsAuthError(LrsHttpError):
    """The LRS (or the token endpoint) refused our credentials."""


@dataclass(frozen=True)
class PostResult:
    status: int
    body: str
    retry_after_s: float | None = None

    @property
    def ok(self) -> bool:
        return self.status in (200, 204)


def _basic(username: str, password: str) -> str:
    # Encoded by hand: aiohttp.BasicAuth is deprecated in 3.14 and encode_basic_auth is missing before it.
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode("ascii")



class LrsClient:
    """One LRS endpoint, e.g. ``https://lrs.example/xAPI/``. Use as ``async with LrsClient(...)``."""

    def __init__(
        self,
        endpoint: str,
        *,
        username: str = "",
        password: str = "",
        auth: str = "basic",
        token_url: str = "",
        timeout_s: float = 30.0,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        if not endpoint.startswith(("http://", "https://")):
            raise ValueError(f"LRS endpoint must be an http(s) URL, got {endpoint!r}")
        if auth not in SUPPORTED_AUTH:
            raise ValueError(f"LRS auth must be one of {SUPPORTED_AUTH}, got {auth!r}")
        if auth == "oauth2" and not token_url:
            raise ValueError("LRS auth=oauth2 needs token_url")
        self.endpoint = endpoint.rstrip("/") + "/"
        self.statements_url = urljoin(self.endpoint, "statements")
        self.about_url = urljoin(self.endpoint, "about")
        self._username = username
        self._password = password
        self._auth = auth
        self._token_url = token_url
        self.timeout_s = timeout_s
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session = session
        self._own_session = session is None
        self._token: str | None = None
        self._token_expires = 0.0
        self._token_lock = asyncio.Lock()

    async def __aenter__(self) -> LrsClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session

    # -- authentication ---------------------------------------------------------------------------

    async def _fetch_token(self) -> str:
        form = {"grant_type": "client_credentials"}
        try:
            async with self._http().post(
                self._token_url, data=form, headers={"Authorization": _basic(self._username, self._password)},
                timeout=self._timeout,
            ) as resp:
                text = await resp.text()
                if resp.status != 200:
                    raise LrsAuthError(resp.status, text, self._token_url)
                try:
                    body = json.loads(text)
                    token = str(body["access_token"])
                except (ValueError, KeyError, TypeError) as exc:
                    raise LrsAuthError(resp.status, "token response has no access_token",
                                       self._token_url) from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise LrsConnectionError(f"token endpoint {self._token_url} unreachable: {exc!r}") from exc
        expires_in = float(body.get("expires_in", 300))
        self._token = token
        self._token_expires = time.monotonic() + max(0.0, expires_in - 30.0)
        logger.debug("fetched an OAuth2 token valid for %ss", expires_in)
        return token

    async def _auth_headers(self, refresh: bool = False) -> dict[str, str]:
        if self._auth == "basic":
            if not self._username:
                return {}
            return {"Authorization": _basic(self._username, self._password)}
        async with self._token_lock:
            if refresh or self._token is None or time.monotonic() >= self._token_expires:
                await self._fetch_token()
        return {"Authorization": f"Bearer {self._token}"}

    async def _request(
        self, method: str, url: str, *, data: bytes | None = None, params: dict[str, str] | None = None,
        authenticated: bool = True,
    ) -> tuple[int, str, dict[str, str]]:
        headers = {"X-Experience-API-Version": XAPI_VERSION}
        if data is not None:
            headers["Content-Type"] = "application/json"
        for attempt in (1, 2):
            if authenticated:
                headers.update(await self._auth_headers(refresh=attempt == 2))
            try:
                async with self._http().request(method, url, data=data, params=params, headers=headers,
                                                timeout=self._timeout) as resp:
                    text = await resp.text()
                    status = resp.status
                    resp_headers = {k: v for k, v in resp.headers.items()}
            except (aiohttp.ClientError, TimeoutError) as exc:
                raise LrsConnectionError(f"{method} {url} failed: {exc!r}") from exc
            # An expired OAuth2 token: fetch a new one and try once more.
            if status == 401 and self._auth == "oauth2" and authenticated and attempt == 1:
                continue
            return status, text, resp_headers
        raise AssertionError("unreachable")

    # -- statements -------------------------------------------------------------------------------

    async def post_statements(self, payloads: Sequence[str]) -> PostResult:
        """POST already serialized statements as one JSON array; the bytes are the stored text."""
        body = ("[" + ",".join(payloads) + "]").encode("utf-8")
        status, text, headers = await self._request("POST", self.statements_url, data=body)
        return PostResult(status=status, body=text, retry_after_s=parse_retry_after(headers.get("Retry-After")))

    async def about(self) -> dict[str, Any]:
        """GET /about (no authentication needed by the spec). Raises LrsHttpError on a non-200 answer."""
        status, text, _ = await self._request("GET", self.about_url, authenticated=False)
        if status != 200:
            raise LrsHttpError(status, text, self.about_url)
        try:
            body = json.loads(text)
        except ValueError as exc:
            raise LrsHttpError(status, "about is not JSON", self.about_url) from exc
        if not isinstance(body, dict):
            raise LrsHttpError(status, "about is not a JSON object", self.about_url)
        return body

    async def _get_json(self, url: str, params: dict[str, str] | None = None) -> dict[str, Any]:
        status, text, _ = await self._request("GET", url, params=params)
        if status in (401, 403):
            raise LrsAuthError(status, text, url)
        if status != 200:
            raise LrsHttpError(status, text, url)
        try:
            body = json.loads(text)
        except ValueError as exc:
            raise LrsHttpError(status, "answer is not JSON", url) from exc
        if not isinstance(body, dict):
            raise LrsHttpError(status, "answer is not a JSON object", url)
        return body

    async def get_statement(self, statement_id: uuid.UUID) -> dict[str, Any] | None:
        """One statement by id, or None when the LRS does not have it."""
        try:
            body = await self._get_json(self.statements_url, {"statementId": str(statement_id)})
        except LrsHttpError as exc:
            if exc.status == 404:
                return None
            raise
        if "id" not in body and isinstance(body.get("statements"), list):
            # Some LRSs (ralph 5.1) answer with a StatementResult instead of the statement itself.
            wanted = str(statement_id)
            matches = [s for s in body["statements"] if isinstance(s, dict) and s.get("id") == wanted]
            return matches[0] if matches else None
        return body

    async def get_voided_statement(self, statement_id: uuid.UUID) -> dict[str, Any] | None:
        """A voided statement by id (``voidedStatementId``), or None when the LRS does not have it."""
        try:
            body = await self._get_json(self.statements_url, {"voidedStatementId": str(statement_id)})
        except LrsHttpError as exc:
            if exc.status in (400, 404):  # 400: an LRS that does not implement the parameter
                return None
            raise
        return body if body.get("id") == str(statement_id) else None

    async def get_statements(
        self,
        *,
        agent: dict[str, Any] | None = None,
        verb: str | None = None,
        activity: str | None = None,
        registration: uuid.UUID | None = None,
        related_activities: bool | None = None,
        related_agents: bool | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = None,
        ascending: bool | None = None,
        max_pages: int | None = None,
    ) -> AsyncIterator[dict[str, Any]]:
        """Yield every matching statement, following ``more`` links page by page."""
        params: dict[str, str] = {}
        if agent is not None:
            params["agent"] = json.dumps(agent, separators=(",", ":"))
        if verb:
            params["verb"] = verb
        if activity:
            params["activity"] = activity
        if registration is not None:
            params["registration"] = str(registration)
        if related_activities is not None:
            params["related_activities"] = str(related_activities).lower()
        if related_agents is not None:
            params["related_agents"] = str(related_agents).lower()
        for name, value in (("since", since), ("until", until)):
            if value is not None:
                if value.tzinfo is None:
                    raise ValueError(f"{name} needs a time zone")
                params[name] = value.isoformat()
        if limit is not None:
            params["limit"] = str(limit)
        if ascending is not None:
            params["ascending"] = str(ascending).lower()

        url: str | None = self.statements_url
        query: dict[str, str] | None = params
        pages = 0
        seen_more: set[str] = set()
        while url is not None:
            body = await self._get_json(url, query)
            pages += 1
            statements = body.get("statements", [])
            if not isinstance(statements, list):
                raise LrsHttpError(200, "statements is not a list", url)
            for statement in statements:
                yield statement
            more = body.get("more") or ""
            if not more or not statements or (max_pages is not None and pages >= max_pages):
                return
            if more in seen_more:  # a server repeating itself would loop forever
                raise LrsHttpError(200, f"the LRS returned the same 'more' link twice: {more}", url)
            seen_more.add(more)
            # ``more`` is relative to the LRS host (spec 2.1.3); the query string is already in it.
            url, query = urljoin(self.endpoint, more), None

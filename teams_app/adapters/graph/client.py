"""The Graph client with peercoach's throttling rules: retries, per-mailbox concurrency, JSON ``$batch``.

msgraph-sdk's ``GraphServiceClient`` builds every request (typed request bodies, URL templates) and its
request adapter sends it, with authentication from an azure-identity credential. We replace kiota's
RetryHandler with our own policy so that retries are bounded, counted, and end in a clear
:class:`GraphError`:

- 429, 503 and 504 are retried; ``Retry-After`` is honoured (also per item inside a 200 ``$batch``
  envelope), otherwise exponential backoff with full jitter;
- at most ``mailbox_concurrency`` (4, Exchange's limit per app and mailbox) requests are in flight per
  mailbox, counting the requests inside a ``$batch``;
- ``$batch`` carries up to 20 requests and at most 4 per mailbox.

The batch envelope is serialised here rather than with msgraph-core's ``BatchRequestContent`` because
that class (msgraph-core 1.5) writes ``depends_on`` instead of ``dependsOn``, keeps absolute URLs and
decodes JSON response bodies as bytes; the envelope still goes through the SDK's request adapter.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
from azure.core.exceptions import AzureError, ClientAuthenticationError
from kiota_abstractions.api_error import APIError
from kiota_abstractions.headers_collection import HeadersCollection
from kiota_abstractions.method import Method
from kiota_abstractions.request_information import RequestInformation
from kiota_abstractions.serialization import ParsableFactory
from kiota_authentication_azure.azure_identity_authentication_provider import AzureIdentityAuthenticationProvider
from kiota_http.kiota_client_factory import KiotaClientFactory
from kiota_http.middleware import (
    HeadersInspectionHandler,
    ParametersNameDecodingHandler,
    RedirectHandler,
    UrlReplaceHandler,
    UserAgentHandler,
)
from msgraph import GraphRequestAdapter, GraphServiceClient
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph_core import GraphClientFactory

from lrs_bridge.retry import Backoff, parse_retry_after
from teams_app.adapters.graph.credentials import CredentialError, graph_scope

logger = logging.getLogger(__name__)

T = TypeVar("T")
RETRYABLE = frozenset({429, 503, 504})
BATCH_LIMIT = 20
MAILBOX_CONCURRENCY = 4
ERROR_MAP: dict[str, type[ParsableFactory]] = {"XXX": ODataError}  # type: ignore[dict-item]


class GraphError(Exception):
    """A Graph call failed for good; ``str()`` is written for an admin reading ``status``."""

    def __init__(self, operation: str, status: int, code: str, message: str, attempts: int = 1) -> None:
        where = f"HTTP {status}" if status else "no response"
        tries = f" after {attempts} attempts" if attempts > 1 else ""
        super().__init__(f"Graph {operation} failed{tries}: {where} {code}: {message}".strip())
        self.operation, self.status, self.code, self.message, self.attempts = operation, status, code, message, attempts

    @property
    def permanent(self) -> bool:
        """Repeating the request cannot help (bad request, missing mailbox, no permission)."""
        return 400 <= self.status < 500 and self.status not in (401, 408, 429)

    @property
    def mailbox_missing(self) -> bool:
        return self.status == 404 and self.code in ("ErrorInvalidUser", "MailboxNotEnabledForRESTAPI",
                                                    "ResourceNotFound", "Request_ResourceNotFound")


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    base_delay_s: float = 0.5
    max_delay_s: float = 30.0
    max_retry_after_s: float = 120.0

    def delay(self, attempt: int, retry_after: str | None, rng: random.Random) -> float:
        """Seconds to wait before attempt ``attempt + 1``: the shared back-off, never sooner than Retry-After."""
        backoff = Backoff(base_s=self.base_delay_s, cap_s=self.max_delay_s, retry_after_cap_s=self.max_retry_after_s)
        return backoff.delay(attempt, parse_retry_after(retry_after), rng)


class MailboxLimiter:
    """At most ``limit`` requests in flight per mailbox; a batch takes one slot per request it carries."""

    def __init__(self, limit: int = MAILBOX_CONCURRENCY) -> None:
        self.limit = limit
        self._used: Counter[str] = Counter()
        self.max_seen: Counter[str] = Counter()
        self._changed = asyncio.Condition()

    @asynccontextmanager
    async def hold(self, counts: Mapping[str, int]) -> AsyncIterator[None]:
        if any(n > self.limit for n in counts.values()):
            raise ValueError(f"a single request group needs more than {self.limit} slots for one mailbox")
        async with self._changed:
            await self._changed.wait_for(lambda: all(self._used[m] + n <= self.limit for m, n in counts.items()))
            for mailbox, n in counts.items():
                self._used[mailbox] += n
                self.max_seen[mailbox] = max(self.max_seen[mailbox], self._used[mailbox])
        try:
            yield
        finally:
            async with self._changed:
                for mailbox, n in counts.items():
                    self._used[mailbox] -= n
                self._changed.notify_all()


@dataclass(frozen=True)
class BatchOp:
    """One request to send inside ``$batch``; ``mailbox`` is the user in its path."""

    id: str
    mailbox: str
    request: RequestInformation
    operation: str


@dataclass
class BatchResult:
    status: int
    body: dict[str, Any] | None = None
    attempts: int = 1
    error: GraphError | None = None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300 and self.error is None


def build_graph_client(credential: Any, base_url: str = "https://graph.microsoft.com/v1.0",
                       timeout_s: float = 60.0) -> GraphServiceClient:
    """A GraphServiceClient on ``base_url`` (national clouds, tests) without kiota's own retry handler."""
    host = httpx.URL(base_url).host
    auth = AzureIdentityAuthenticationProvider(credential, scopes=[graph_scope(base_url)], allowed_hosts=[host])
    http = KiotaClientFactory.get_default_client()
    http.timeout = httpx.Timeout(timeout_s, connect=10.0)
    middleware = [RedirectHandler(), ParametersNameDecodingHandler(), UrlReplaceHandler(), UserAgentHandler(),
                  HeadersInspectionHandler()]
    http = GraphClientFactory.create_with_custom_middleware(middleware=middleware, client=http)  # type: ignore[arg-type]
    adapter = GraphRequestAdapter(auth, client=http)
    adapter.base_url = base_url.rstrip("/")
    return GraphServiceClient(request_adapter=adapter)


def _header(headers: Any, name: str) -> str | None:
    if headers is None:
        return None
    if isinstance(headers, HeadersCollection):
        values = headers.get(name)
        return next(iter(values), None) if values else None
    if isinstance(headers, Mapping) or hasattr(headers, "get"):
        for key in (name, name.lower(), name.title()):
            value = headers.get(key)
            if value:
                return str(value)
    return None


def _api_error(operation: str, exc: APIError, attempts: int) -> GraphError:
    code, message = "Error", str(exc.message or exc)
    inner = getattr(exc, "error", None)
    if inner is not None:
        code = getattr(inner, "code", None) or code
        message = getattr(inner, "message", None) or message
    return GraphError(operation, int(exc.response_status_code or 0), code, message, attempts)


@dataclass
class GraphGateway:
    """Sends Graph requests with the retry policy, the mailbox limiter and batching."""

    client: GraphServiceClient
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    limiter: MailboxLimiter = field(default_factory=MailboxLimiter)
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    max_parallel_batches: int = 4
    rng: random.Random = field(default_factory=random.Random)
    requests: Counter[str] = field(default_factory=Counter)  # HTTP requests sent, by operation

    async def call(self, operation: str, mailbox: str, send: Callable[[], Awaitable[T]]) -> T:
        """One request (not batched), retried per the policy."""
        return await self._call_counted(operation, {mailbox.lower(): 1} if mailbox else {}, send)

    async def batch(self, ops: Sequence[BatchOp]) -> dict[str, BatchResult]:
        """Send ``ops`` in ``$batch`` envelopes; retry throttled items; every op gets a result."""
        results: dict[str, BatchResult] = {}
        attempts: Counter[str] = Counter()
        pending = list(ops)
        while pending:
            groups = _compose(pending)
            pending = []
            waits: list[float] = []
            gate = asyncio.Semaphore(self.max_parallel_batches)

            async def run(group: list[BatchOp], gate: asyncio.Semaphore = gate) -> list[tuple[BatchOp, int, Any]]:
                async with gate:
                    return await self._send_envelope(group)

            for outcome in await asyncio.gather(*(run(group) for group in groups)):
                for op, status, payload in outcome:
                    attempts[op.id] += 1
                    if isinstance(payload, GraphError):
                        results[op.id] = BatchResult(payload.status, None, attempts[op.id], payload)
                        continue
                    body = payload.get("body") if isinstance(payload, dict) else None
                    if status in RETRYABLE and attempts[op.id] < self.policy.max_attempts:
                        pending.append(op)
                        waits.append(self.policy.delay(attempts[op.id], _header(payload.get("headers") or {},
                                                                                "Retry-After"), self.rng))
                        continue
                    error = None
                    if status >= 400:
                        inner = (body or {}).get("error") or {}
                        error = GraphError(op.operation, status, str(inner.get("code", "Error")),
                                           str(inner.get("message", "")), attempts[op.id])
                    results[op.id] = BatchResult(status, body if isinstance(body, dict) else None,
                                                 attempts[op.id], error)
            if pending:
                wait = max(waits)
                logger.info("Graph $batch: %s throttled requests retried in %.1fs", len(pending), wait)
                await self.sleep(wait)
        return results

    async def _send_envelope(self, group: list[BatchOp]) -> list[tuple[BatchOp, int, Any]]:
        adapter = self.client.request_adapter
        base = adapter.base_url.rstrip("/")
        items = []
        for op in group:
            url = str(op.request.url)
            item: dict[str, Any] = {"id": op.id, "method": op.request.http_method.value,  # type: ignore[union-attr]
                                    "url": url[len(base):] if url.startswith(base) else url}
            if op.request.content:
                item["headers"] = {"Content-Type": "application/json"}
                item["body"] = json.loads(op.request.content)
            items.append(item)
        info = RequestInformation()
        info.http_method = Method.POST
        info.url = f"{base}/$batch"
        info.headers.try_add("Content-Type", "application/json")
        info.headers.try_add("Accept", "application/json")
        info.content = json.dumps({"requests": items}).encode()
        counts = Counter(op.mailbox.lower() for op in group)

        async def send() -> bytes:
            raw: Any = await adapter.send_primitive_async(info, "bytes", ERROR_MAP)  # type: ignore[func-returns-value]
            if not raw:
                raise GraphError("$batch", 200, "EmptyResponse", "the batch response had no body")
            return raw  # type: ignore[no-any-return]

        try:
            raw = await self._call_counted("$batch", counts, send)
            responses = {r["id"]: r for r in json.loads(raw).get("responses", [])}
        except GraphError as exc:
            return [(op, exc.status, exc) for op in group]
        except (ValueError, KeyError, TypeError) as exc:
            error = GraphError("$batch", 200, "BadBatchResponse", str(exc))
            return [(op, 200, error) for op in group]
        out: list[tuple[BatchOp, int, Any]] = []
        for op in group:
            response = responses.get(op.id)
            if response is None:
                out.append((op, 0, GraphError(op.operation, 0, "MissingBatchResponse", "no response for this item")))
            else:
                out.append((op, int(response.get("status", 0)), response))
        return out

    async def _call_counted(self, operation: str, counts: Mapping[str, int],
                            send: Callable[[], Awaitable[T]]) -> T:
        attempt = 0
        while True:
            attempt += 1
            retry_after: str | None = None
            async with self.limiter.hold(counts):
                self.requests[operation] += 1
                try:
                    return await send()
                except APIError as exc:
                    status = int(exc.response_status_code or 0)
                    if status not in RETRYABLE or attempt >= self.policy.max_attempts:
                        raise _api_error(operation, exc, attempt) from None
                    retry_after = _header(exc.response_headers, "Retry-After")
                except (CredentialError, ClientAuthenticationError) as exc:
                    if not (isinstance(exc, CredentialError) and exc.unreachable):  # a wrong secret stays wrong
                        raise GraphError(operation, 401, "InvalidCredentials", str(exc).splitlines()[0],
                                         attempt) from None
                    if attempt >= self.policy.max_attempts:
                        raise GraphError(operation, 0, "TokenEndpointUnreachable", str(exc), attempt) from None
                except (httpx.TransportError, TimeoutError, AzureError) as exc:
                    if attempt >= self.policy.max_attempts:
                        message = (str(exc) or "no response").splitlines()[0]
                        raise GraphError(operation, 0, type(exc).__name__, message, attempt) from None
            wait = self.policy.delay(attempt, retry_after, self.rng)
            logger.info("Graph %s retry %s in %.1fs", operation, attempt, wait)
            await self.sleep(wait)


def _compose(ops: Sequence[BatchOp]) -> list[list[BatchOp]]:
    """First-fit into envelopes of at most 20 requests and at most 4 per mailbox."""
    groups: list[list[BatchOp]] = []
    counts: list[Counter[str]] = []
    for op in ops:
        key = op.mailbox.lower()
        for group, count in zip(groups, counts, strict=True):
            if len(group) < BATCH_LIMIT and count[key] < MAILBOX_CONCURRENCY:
                group.append(op)
                count[key] += 1
                break
        else:
            groups.append([op])
            counts.append(Counter({key: 1}))
    return groups

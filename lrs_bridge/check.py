"""``lrs check``: can we reach the LRS, does it speak xAPI 1.0.x, and does it accept our credentials?

Each step explains a failure in words an administrator can act on.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from lrs_bridge.client import LrsAuthError, LrsClient, LrsConnectionError, LrsHttpError
from lrs_bridge.vocabulary import XAPI_VERSION

logger = logging.getLogger(__name__)


@dataclass
class CheckResult:
    ok: bool = True
    versions: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)

    def fail(self, message: str) -> None:
        self.ok = False
        self.lines.append(f"FAIL  {message}")

    def warn(self, message: str) -> None:
        self.lines.append(f"WARN  {message}")

    def good(self, message: str) -> None:
        self.lines.append(f"ok    {message}")


def _speaks_1_0(versions: list[str]) -> bool:
    return any(v == "1.0" or v.startswith("1.0.") for v in versions)


async def check_lrs(client: LrsClient) -> CheckResult:
    """Run the checks against ``client``'s endpoint; never raises for LRS-side problems."""
    result = CheckResult()
    try:
        about = await client.about()
    except LrsConnectionError as exc:
        result.fail(f"cannot reach {client.about_url}: {exc}. Is the endpoint right and the LRS running?")
        return result
    except LrsHttpError as exc:
        if exc.status == 404:
            result.warn(f"{client.about_url} answered 404: this LRS does not implement the /about resource "
                        "xAPI requires (ralph does not); its xAPI version could not be checked")
        else:
            result.fail(f"{client.about_url} answered {exc.status}: {exc.reason[:200]}")
            return result
    else:
        raw = about.get("version")
        versions = [str(v) for v in raw] if isinstance(raw, list) else []
        result.versions = versions
        if not versions:
            result.fail(f"{client.about_url} lists no xAPI versions (got {about!r:.200})")
            return result
        if not _speaks_1_0(versions):
            result.fail(f"the LRS speaks xAPI {', '.join(versions)}; peercoach sends {XAPI_VERSION}")
            return result
        result.good(f"reached {client.about_url}; xAPI versions {', '.join(versions)}")

    try:
        async for _ in client.get_statements(limit=1, max_pages=1):
            break
    except LrsAuthError as exc:
        result.fail(f"the LRS refused our credentials ({exc.status} at {exc.url}); check the LRS username "
                    f"and password (or OAuth2 client id, secret and token URL)")
        return result
    except LrsConnectionError as exc:
        result.fail(f"cannot read statements: {exc}")
        return result
    except LrsHttpError as exc:
        result.fail(f"reading statements failed with {exc.status}: {exc.reason[:200]} "
                    "(is the endpoint the xAPI base URL, ending before /statements?)")
        return result
    result.good(f"credentials accepted at {client.statements_url}")
    return result

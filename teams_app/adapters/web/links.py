"""Signed, expiring links to a card's web twin, and the page-session proofs its actions carry.

A link is ``<base>/twin/<token>``; the token is ``base64url(json) "." base64url(HMAC-SHA256)`` over
``[version, person id, card, subject, expiry (unix s), nonce]``. Person and subject ids are random uuids (new ones
start with their creation time, see ``new_id``), so the URL carries no personal data. The key from settings is
never used directly: one key is derived for links and another for page proofs, so a value signed for one purpose
is never accepted for the other.

A page proof binds an action to the link (its nonce), to the browser session that opened the page (a cookie)
and to one rendered card (an action nonce that is spent when used): a POST with only the URL, or from another
session, or replayed, is refused.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from teams_app.domain.notifications import TwinCard
from teams_app.service.ports import Clock

logger = logging.getLogger(__name__)

TOKEN_VERSION = 1
MAX_TOKEN_CHARS = 600  # a real token is about 200 characters; anything longer is not ours
TWIN_PATH = "/twin"


class LinkInvalid(Exception):
    """The token was not made by us, was changed, or names something we do not know."""


class LinkExpired(Exception):
    """The token is ours and intact, but its time is up."""

    def __init__(self, claims: LinkClaims) -> None:
        super().__init__("link expired")
        self.claims = claims


@dataclass(frozen=True)
class LinkClaims:
    person_id: str
    card: TwinCard
    subject: str
    expires_at: datetime
    nonce: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    if not text or any(ch not in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_" for ch in text):
        raise LinkInvalid("not base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except ValueError as exc:
        raise LinkInvalid("not base64url") from exc


def _derive(key: bytes, purpose: str) -> bytes:
    return hmac.new(key, f"peercoach web twin/{purpose}".encode(), hashlib.sha256).digest()


class LinkSigner:
    """The :class:`~teams_app.service.ports.CardLinks` of a configured web twin: makes and checks links."""

    def __init__(self, key: str, base_url: str, clock: Clock, *, ttl: timedelta) -> None:
        if len(key) < 32:
            raise ValueError("the web twin signing key needs at least 32 characters")
        if not base_url.startswith(("https://", "http://")):
            raise ValueError("the web twin base URL must start with https:// (or http:// for local use)")
        raw = key.encode("utf-8")
        self._link_key = _derive(raw, "link")
        self._page_key = _derive(raw, "page")
        self._base = base_url.rstrip("/")
        self._clock = clock
        self.ttl = ttl

    # -- links ---------------------------------------------------------------------------------------
    def link(self, person_id: str, card: TwinCard, subject: str = "") -> str | None:
        return f"{self._base}{TWIN_PATH}/{self.token(person_id, card, subject)}"

    def token(self, person_id: str, card: TwinCard, subject: str = "", *, expires_at: datetime | None = None) -> str:
        expiry = expires_at or self._clock.now() + self.ttl
        body = json.dumps([TOKEN_VERSION, person_id, card.value, subject, int(expiry.timestamp()),
                           secrets.token_urlsafe(12)], separators=(",", ":")).encode()
        return f"{_b64(body)}.{_b64(hmac.new(self._link_key, body, hashlib.sha256).digest())}"

    def verify(self, token: str) -> LinkClaims:
        """The claims of an intact token; :class:`LinkExpired` when its time is up, :class:`LinkInvalid` else."""
        if len(token) > MAX_TOKEN_CHARS or token.count(".") != 1:
            raise LinkInvalid("malformed")
        body_text, mac_text = token.split(".")
        body, mac = _unb64(body_text), _unb64(mac_text)
        if not hmac.compare_digest(mac, hmac.new(self._link_key, body, hashlib.sha256).digest()):
            raise LinkInvalid("bad signature")
        try:
            version, person_id, card, subject, expiry, nonce = json.loads(body)
            claims = LinkClaims(str(person_id), TwinCard(card), str(subject),
                                datetime.fromtimestamp(int(expiry), UTC), str(nonce))
        except (ValueError, TypeError) as exc:  # signed by us but not a shape we make (an old version)
            raise LinkInvalid("unknown shape") from exc
        if version != TOKEN_VERSION or not claims.person_id or not claims.nonce:
            raise LinkInvalid("unknown version")
        if self._clock.now() >= claims.expires_at:
            raise LinkExpired(claims)
        return claims

    # -- page proofs ---------------------------------------------------------------------------------
    @staticmethod
    def new_session() -> str:
        return secrets.token_urlsafe(24)

    @staticmethod
    def new_action() -> str:
        return secrets.token_urlsafe(18)

    def page_proof(self, claims: LinkClaims, session: str, action: str) -> str:
        """What the page echoes with an action: binds link, browser session and the rendered card."""
        message = "\x1f".join((claims.nonce, claims.person_id, claims.card.value, claims.subject, session, action))
        return _b64(hmac.new(self._page_key, message.encode(), hashlib.sha256).digest())

    def check_proof(self, claims: LinkClaims, session: str, action: str, proof: str) -> bool:
        if not session or not action or not proof:
            return False
        return hmac.compare_digest(self.page_proof(claims, session, action).encode(), proof.encode())

    def session_tag(self, session: str) -> str:
        """A session cookie as stored (a keyed hash: the table never holds a usable cookie)."""
        return _b64(hmac.new(self._page_key, b"session\x1f" + session.encode(), hashlib.sha256).digest())[:43]

"""The web twins' HTTP side: ``GET /twin/<token>`` (the page), ``POST /twin/<token>/action`` (its actions) and
the page's own static files (the vendored Adaptive Cards renderer, the page script and style; no CDN).

The page sets a session cookie and embeds a proof (:meth:`LinkSigner.page_proof`) for the card it shows; an
action must come with that cookie, the proof and the card's action nonce. The first session that acts with a
link owns it, and each action nonce is spent once, so a POST with only the URL, from another browser, or
replayed, is refused. Pages carry a strict Content-Security-Policy (scripts and styles from this app only), no
referrer (the token must not leak to links the card opens) and are never cached.
"""

from __future__ import annotations

import html
import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from teams_app.adapters.web.links import TWIN_PATH, LinkClaims, LinkExpired, LinkInvalid, LinkSigner
from teams_app.adapters.web.twin import WebTwin
from teams_app.adapters.web.uses import Claim, TwinUses
from teams_app.domain.model import Participant
from teams_app.i18n import Translate, translator

logger = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
STATIC_FILES = {  # URL name -> (file, content type)
    "adaptivecards.min.js": (STATIC / "vendor" / "adaptivecards.min.js", "text/javascript"),
    "twin.js": (STATIC / "twin.js", "text/javascript"),
    "twin.css": (STATIC / "twin.css", "text/css"),
}
COOKIE = "peercoach_twin"
MAX_ACTION_BYTES = 64 * 1024  # a rubric with long comments is far below this
SESSION_SHAPE = re.compile(r"^[A-Za-z0-9_-]{32}$")
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
           "Cache-Control": "no-store", "X-Frame-Options": "DENY"}


@dataclass(frozen=True)
class TwinPages:
    signer: LinkSigner
    uses: TwinUses
    twin: WebTwin
    default_locale: str = "en"
    secure_cookie: bool = True

    def install(self, web_app: web.Application) -> None:
        assets = {name: (path.read_bytes(), kind) for name, (path, kind) in STATIC_FILES.items()}

        async def static(request: web.Request) -> web.Response:
            found = assets.get(request.match_info["name"])
            if found is None:
                raise web.HTTPNotFound()
            body, kind = found
            return web.Response(body=body, content_type=kind, charset="utf-8", headers={
                "X-Content-Type-Options": "nosniff", "Cache-Control": "public, max-age=3600"})

        web_app.router.add_get(f"{TWIN_PATH}/static/{{name}}", static)
        web_app.router.add_get(f"{TWIN_PATH}/{{token}}", self.page)
        web_app.router.add_post(f"{TWIN_PATH}/{{token}}/action", self.action)

    # -- helpers ---------------------------------------------------------------------------------------
    def _visitor_language(self, request: web.Request) -> Translate:
        """For pages shown before we know whose link it is: the browser's first language."""
        first = request.headers.get("Accept-Language", "").split(",")[0].split(";")[0].strip()
        return translator(first or self.default_locale)

    @staticmethod
    def _session(request: web.Request) -> str:
        value = request.cookies.get(COOKIE, "")
        return value if SESSION_SHAPE.match(value) else ""

    def _message_page(self, _: Translate, title: str, text: str, status: int) -> web.Response:
        body = (f"<main class=\"twin-message\"><h1>{html.escape(title)}</h1><p>{html.escape(text)}</p></main>")
        return web.Response(text=_document(_, title, body), status=status, content_type="text/html",
                            charset="utf-8", headers=HEADERS)

    def _not_valid(self, _: Translate) -> tuple[str, str]:
        return _("This link is not valid"), _(
            "The link may have been changed or cut off. Open it again from the email, or write to me (reply to "
            "any of my emails, or chat with me in Teams) and say 'help'.")

    def _expired(self, _: Translate) -> tuple[str, str]:
        return _("This link has expired"), _(
            "Links to cards work for a limited time. For a new one, write to me (reply to any of my emails, or "
            "chat with me in Teams) and say 'help'.")

    def _gone(self, _: Translate) -> tuple[str, str]:
        return _("This card is not available"), _(
            "It is no longer yours to answer, or it was removed. Say 'help' to me to see what you can do.")

    async def _read(self, token: str, request: web.Request) -> tuple[LinkClaims, Participant] | web.Response:
        try:
            claims = self.signer.verify(token)
        except LinkExpired as expired:
            owner = await self.twin.person(expired.claims.person_id)
            _ = translator(owner.locale) if owner is not None and owner.locale else self._visitor_language(request)
            return self._message_page(_, *self._expired(_), status=410)
        except LinkInvalid as exc:
            logger.info("web twin: refused a link (%s)", exc)
            _ = self._visitor_language(request)
            return self._message_page(_, *self._not_valid(_), status=404)
        person = await self.twin.person(claims.person_id)
        if person is None:  # erased since the link was made
            _ = self._visitor_language(request)
            return self._message_page(_, *self._gone(_), status=410)
        return claims, person

    # -- GET: the page -----------------------------------------------------------------------------------
    async def page(self, request: web.Request) -> web.Response:
        found = await self._read(request.match_info["token"], request)
        if isinstance(found, web.Response):
            return found
        claims, person = found
        _ = translator(person.locale or self.default_locale)
        card = await self.twin.current(claims.card, claims.subject, person, _)
        if card is None:
            return self._message_page(_, *self._gone(_), status=410)
        session = self._session(request) or self.signer.new_session()
        action = self.signer.new_action()
        proof = self.signer.page_proof(claims, session, action)
        post = f"{request.match_info['token']}/action"  # relative: the page also works behind a path prefix
        note = html.escape(_("Peer coaching · this page is for you only: do not forward its link."))
        sending = html.escape(_("Sending…"))
        failed = html.escape(_("That did not get through. Check your connection and try again."))
        body = (
            f"<main id=\"twin\" data-post=\"{html.escape(post)}\" data-action=\"{action}\" data-proof=\"{proof}\" "
            f"data-sending=\"{sending}\" data-failed=\"{failed}\">"
            f"<div id=\"twin-status\" role=\"status\" aria-live=\"polite\"></div>"
            f"<div id=\"twin-host\"></div>"
            f"<noscript>{html.escape(_('This page needs JavaScript to show the card.'))}</noscript>"
            f"<p class=\"twin-note\">{note}</p></main>"
            f"<script type=\"application/json\" id=\"twin-card\">{_json_for_script(card)}</script>"
            f"<script src=\"static/adaptivecards.min.js\"></script><script src=\"static/twin.js\"></script>")
        response = web.Response(text=_document(_, _("Peer coaching"), body), content_type="text/html",
                                charset="utf-8", headers=HEADERS)
        if session != self._session(request):
            response.set_cookie(COOKIE, session, path=TWIN_PATH, httponly=True, samesite="Lax",
                                secure=self.secure_cookie)
        return response

    # -- POST: an action from the page -------------------------------------------------------------------
    async def action(self, request: web.Request) -> web.Response:
        token = request.match_info["token"]
        try:
            claims = self.signer.verify(token)
        except LinkExpired:
            return _refusal(*self._expired(self._visitor_language(request)), status=410)
        except LinkInvalid:
            return _refusal(*self._not_valid(self._visitor_language(request)), status=404)
        if request.content_length is not None and request.content_length > MAX_ACTION_BYTES:
            _ = self._visitor_language(request)
            return _refusal(_("That did not work"), _("The page sent something I cannot read. Reload it and try "
                                                      "again."), status=413)
        try:
            raw = await request.content.read(MAX_ACTION_BYTES + 1)
            body = json.loads(raw) if len(raw) <= MAX_ACTION_BYTES else None
        except (ValueError, UnicodeDecodeError):
            body = None
        person = await self.twin.person(claims.person_id)
        _ = translator(person.locale if person else self.default_locale)
        if person is None:
            return _refusal(*self._gone(_), status=410)
        if not isinstance(body, dict) or not isinstance(body.get("verb"), str) \
                or not isinstance(body.get("data", {}), dict):
            return _refusal(_("That did not work"), _("The page sent something I cannot read. Reload it and try "
                                                      "again."), status=400)
        session, action, proof = self._session(request), str(body.get("action") or ""), str(body.get("proof") or "")
        if not self.signer.check_proof(claims, session, action, proof):
            logger.info("web twin: an action without this page's session proof was refused")
            return _refusal(_("This page cannot act"), _(
                "Actions work only in the browser where the link was opened. Open the link from your email "
                "again."), status=403)
        tag = self.signer.session_tag(session)
        if await self.uses.claim(claims.nonce, tag, person.id, claims.expires_at) is Claim.TAKEN:
            logger.info("web twin: link %s… is used by another browser session", claims.nonce[:4])
            return _refusal(_("This link is in use elsewhere"), _(
                "Someone already answered with this link in another browser. If that was not you, tell your "
                "program administrator; for a new link, say 'help' to me."), status=403)
        if not await self.uses.spend(action, tag, person.id, claims.expires_at):
            current = await self.twin.current(claims.card, claims.subject, person, _)
            return self._answer(claims, session, current, status=409, message=(
                _("Already sent"), _("This card was sent already; here it is as it is now.")))
        data: Mapping[str, Any] = body.get("data") or {}
        card = await self.twin.act(claims.card, claims.subject, person, body["verb"], data, _)
        return self._answer(claims, session, card)

    def _answer(self, claims: LinkClaims, session: str, card: dict[str, Any] | None, *, status: int = 200,
                message: tuple[str, str] | None = None) -> web.Response:
        action = self.signer.new_action()
        payload: dict[str, Any] = {"action": action, "proof": self.signer.page_proof(claims, session, action)}
        if card is not None:
            payload["card"] = card
        if message is not None:
            payload["title"], payload["message"] = message
        return web.json_response(payload, status=status, headers={"Cache-Control": "no-store"})


def _refusal(title: str, message: str, *, status: int) -> web.Response:
    return web.json_response({"title": title, "message": message}, status=status,
                             headers={"Cache-Control": "no-store"})


def _json_for_script(value: Any) -> str:
    """JSON inside <script type="application/json">: no sequence can end the element or open a comment."""
    text = json.dumps(value, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _document(_: Translate, title: str, body: str) -> str:
    lang = html.escape(getattr(_, "language", "") or "en")
    return (f"<!doctype html><html lang=\"{lang}\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<meta name=\"robots\" content=\"noindex, nofollow\">"
            f"<title>{html.escape(title)}</title>"
            f"<link rel=\"stylesheet\" href=\"static/twin.css\"></head>"
            f"<body>{body}</body></html>")

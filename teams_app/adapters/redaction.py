"""Secrets out of anything printed or logged: passwords and tokens inside URLs, in URLs embedded in text.

``redact_url("https://user:s3cret@lrs.example/xapi/?token=abc")`` gives
``https://user:***@lrs.example/xapi/?token=***``. User info without a password (``https://ghp_x@host``) is
treated as a token and hidden whole. Query parameters whose name says secret (password, token, key, sig,
secret, code, auth, credential) are hidden. :class:`RedactingFilter` applies the same to log records.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import parse_qsl, urlencode

MASK = "***"

# scheme://userinfo@rest. Greedy up to the last "@" before whitespace: a password may itself hold "@", "/" or
# ":", and over-hiding a path that contains "@" is the safe mistake.
_URL_RE = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)(?P<body>[^\s'\"<>]+)")
_SECRET_PARAM = re.compile(r"pass|secret|token|key|sig|code|auth|credential|pwd", re.IGNORECASE)


def redact_url(url: str) -> str:
    """``url`` with the password (or a bare user token) and secret query parameters replaced by ``***``."""
    match = _URL_RE.fullmatch(url.strip())
    if match is None:
        return url
    return match.group("scheme") + _redact_body(match.group("body"))


def redact_text(text: str) -> str:
    """Every URL inside ``text`` redacted (for error messages that quote an endpoint)."""
    return _URL_RE.sub(lambda m: m.group("scheme") + _redact_body(m.group("body")), text)


def _redact_body(body: str) -> str:
    at = body.rfind("@")
    first_slash = body.find("/")
    # An "@" counts as the end of user info only if a ":" (user:password) or nothing but a host comes before it.
    if at != -1 and (first_slash == -1 or first_slash > at or ":" in body[:first_slash]):
        userinfo, rest = body[:at], body[at + 1:]
        user, colon, _password = userinfo.partition(":")
        body = f"{user}:{MASK}@{rest}" if colon else f"{MASK}@{rest}"
    base, question, query = body.partition("?")
    if not question:
        return body
    query, hash_, fragment = query.partition("#")
    pairs = parse_qsl(query, keep_blank_values=True)
    if not pairs:
        return body
    cleaned = [(k, MASK if _SECRET_PARAM.search(k) else v) for k, v in pairs]
    return f"{base}?{urlencode(cleaned, safe='*')}{hash_}{fragment}"


class RedactingFilter(logging.Filter):
    """Rewrites each record's message with :func:`redact_text` (installed on the CLI's log handlers)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact_text(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True

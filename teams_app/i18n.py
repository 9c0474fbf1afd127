"""Message catalogs: every user-facing string goes through :func:`translator` (gettext via Babel).

Catalogs are ``teams_app/locales/<lang>/LC_MESSAGES/peercoach.po``, read with Babel at first use (no
compile step, so a checkout works as installed). Extract new strings with
``pybabel extract -F babel.cfg -o teams_app/locales/peercoach.pot .``.
"""

from __future__ import annotations

import gettext
import logging
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_time, get_timezone_name
from babel.messages.pofile import read_po

logger = logging.getLogger(__name__)

LOCALES = Path(__file__).resolve().parent / "locales"
DOMAIN = "peercoach"
SUPPORTED = ("en", "de")



class Translate(Protocol):
    """``_("text")`` translates; ``_.ngettext("1 match", "{n} matches", n)`` picks the plural form."""

    language: str

    def __call__(self, message: str) -> str: ...
    def ngettext(self, singular: str, plural: str, n: int) -> str: ...


class _CatalogTranslations(gettext.NullTranslations):
    def __init__(self, language: str, messages: dict[str, str], plurals: dict[str, tuple[str, ...]],
                 plural_expr: str = "(n != 1)") -> None:
        super().__init__()
        self.language = language
        self._messages = messages
        self._plurals = plurals
        self._plural = gettext.c2py(plural_expr)

    def gettext(self, message: str) -> str:
        return self._messages.get(message) or message

    def ngettext(self, msgid1: str, msgid2: str, n: int) -> str:
        forms = self._plurals.get(msgid1)
        index = self._plural(n)
        if forms and index < len(forms) and forms[index]:
            return forms[index]
        return msgid1 if n == 1 else msgid2


class _Translator:
    """The ``Translate`` of one language: callable for gettext, with ``ngettext`` for plurals."""

    def __init__(self, translations: _CatalogTranslations) -> None:
        self.language = translations.language
        self._translations = translations

    def __call__(self, message: str) -> str:
        return self._translations.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self._translations.ngettext(singular, plural, n)


def normalize_locale(locale: str | None, default: str = "en") -> str:
    """'de-DE', 'de_AT' -> 'de'; unsupported -> ``default``."""
    if not locale:
        return default
    language = locale.replace("_", "-").split("-")[0].lower()
    return language if language in SUPPORTED else default


@lru_cache(maxsize=16)
def _translations(language: str) -> _CatalogTranslations:
    path = LOCALES / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    if not path.is_file():
        return _CatalogTranslations(language, {}, {})
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=language)
    messages: dict[str, str] = {}
    plurals: dict[str, tuple[str, ...]] = {}
    for m in catalog:
        if not m.id or m.fuzzy:
            continue
        if isinstance(m.id, tuple | list):
            forms = tuple(str(f) for f in m.string) if isinstance(m.string, tuple | list) else ()
            if any(forms):
                plurals[str(m.id[0])] = forms
        elif m.string:
            messages[str(m.id)] = str(m.string)
    logger.debug("loaded %s messages and %s plurals for %s", len(messages), len(plurals), language)
    return _CatalogTranslations(language, messages, plurals, plural_expr=catalog.plural_expr)


@lru_cache(maxsize=16)
def _translator(language: str) -> Translate:
    return _Translator(_translations(language))


def translator(locale: str | None) -> Translate:
    """The translations for a person's locale (from their Teams activity or profile)."""
    return _translator(normalize_locale(locale))


def babel_locale(locale: str | None) -> Locale:
    """Babel's locale for a Teams/BCP 47 tag ('de-DE' -> de_DE); English when unknown."""
    try:
        return Locale.parse((locale or "en").replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        return Locale.parse("en")


def zone(time_zone: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(time_zone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def format_when(moment: datetime, time_zone: str | None, locale: str | None) -> str:
    """A moment as the reader reads it: their zone, their locale's full date and short time, the zone by name.

    "Tuesday, December 1, 2026 9:00 AM (Central European Standard Time)",
    "Dienstag, 1. Dezember 2026 09:00 (Mitteleuropäische Normalzeit)": the zone's name at that moment, so
    summer time reads as summer time.
    """
    if moment.tzinfo is None:
        raise ValueError("a moment to show must be timezone-aware")
    where = zone(time_zone)
    local = moment.astimezone(where)
    babel = babel_locale(locale)
    text = f"{format_date(local, 'full', locale=babel)} {format_time(local, 'short', locale=babel)}"
    return f"{text} ({get_timezone_name(local, 'long', locale=babel)})"


def N_(message: str) -> str:
    """Mark a string for extraction without translating it now (translated where it is shown)."""
    return message

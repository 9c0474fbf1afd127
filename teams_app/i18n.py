"""Message catalogs: every user-facing string goes through :func:`translator` (gettext via Babel).

Catalogs are ``teams_app/locales/<lang>/LC_MESSAGES/peercoach.po``, read with Babel at first use (no
compile step, so a checkout works as installed). Extract new strings with
``pybabel extract -F babel.cfg -o teams_app/locales/peercoach.pot .``.
"""

from __future__ import annotations

import gettext
import logging
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

from babel.messages.pofile import read_po

logger = logging.getLogger(__name__)

LOCALES = Path(__file__).resolve().parent / "locales"
DOMAIN = "peercoach"
SUPPORTED = ("en", "de")

Translate = Callable[[str], str]


class _CatalogTranslations(gettext.NullTranslations):
    def __init__(self, messages: dict[str, str]) -> None:
        super().__init__()
        self._messages = messages

    def gettext(self, message: str) -> str:
        return self._messages.get(message) or message


def normalize_locale(locale: str | None, default: str = "en") -> str:
    """'de-DE', 'de_AT' -> 'de'; unsupported -> ``default``."""
    if not locale:
        return default
    language = locale.replace("_", "-").split("-")[0].lower()
    return language if language in SUPPORTED else default


@lru_cache(maxsize=16)
def _translations(language: str) -> gettext.NullTranslations:
    path = LOCALES / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    if not path.is_file():
        return gettext.NullTranslations()
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=language)
    messages = {str(m.id): str(m.string) for m in catalog if m.id and m.string and not m.fuzzy}
    logger.debug("loaded %s messages for %s", len(messages), language)
    return _CatalogTranslations(messages)


def translator(locale: str | None) -> Translate:
    """The gettext function for a person's locale (from their Teams activity or profile)."""
    return _translations(normalize_locale(locale)).gettext


def N_(message: str) -> str:
    """Mark a string for extraction without translating it now (translated where it is shown)."""
    return message

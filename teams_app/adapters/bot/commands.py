"""Text commands: parsing what people type into a command name and arguments (pure)."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from datetime import date

# Longest first, so "my matches" wins over a hypothetical "my".
COMMANDS = ("program list", "program create", "round run", "my matches", "status", "join", "profile", "pause",
            "resume", "leave", "progress", "help", "my reviews", "my feedback")
ADMIN_COMMANDS = frozenset({"program list", "program create", "round run", "status"})
_MENTION = re.compile(r"<at>[^<]*</at>", re.IGNORECASE)
_ALIASES = {"matches": "my matches", "hello": "help", "hi": "help", "start": "join", "?": "help",
            "programs": "program list", "stop": "leave",
            # assessment (issue 18)
            "reviews": "my reviews", "feedback": "my feedback"}
# The commands in every shipped language other than English (German): word(s) -> the command's name.
# ``help`` lists them in the reader's language (the German catalog's help lines use these words).
LOCAL_COMMANDS = {
    "hilfe": "help", "beitreten": "join", "teilnehmen": "join", "profil": "profile", "pause": "pause",
    "pausieren": "pause", "fortsetzen": "resume", "weiter": "resume", "verlassen": "leave", "austreten": "leave",
    "meine matches": "my matches", "fortschritt": "progress", "programm liste": "program list",
    "programme": "program list", "programm anlegen": "program create", "runde starten": "round run",
    "meine bewertungen": "my reviews", "meine einschätzungen": "my reviews", "mein feedback": "my feedback",
}


@dataclass(frozen=True)
class Command:
    name: str  # "" when the text is not a command
    args: tuple[str, ...] = ()
    text: str = ""


def parse(text: str | None) -> Command:
    """'pause until 2026-12-01' -> Command('pause', ('until', '2026-12-01')). Mentions and case are ignored."""
    raw = _MENTION.sub(" ", text or "")
    first_line = next((line for line in raw.strip().splitlines() if line.strip()), "")
    cleaned = " ".join(first_line.strip().rstrip(".!").split())
    lowered = cleaned.lower()
    if lowered in _ALIASES:
        return Command(_ALIASES[lowered], (), cleaned)
    for word in sorted(LOCAL_COMMANDS, key=len, reverse=True):  # longest first: "meine matches"
        if lowered == word or lowered.startswith(word + " "):
            rest = cleaned[len(word):].strip()
            return Command(LOCAL_COMMANDS[word], _split(rest), cleaned)
    for name in COMMANDS:
        if lowered == name or lowered.startswith(name + " "):
            rest = cleaned[len(name):].strip()
            return Command(name, _split(rest), cleaned)
    return Command("", (), cleaned)


def _split(rest: str) -> tuple[str, ...]:
    try:
        return tuple(shlex.split(rest))
    except ValueError:  # an unbalanced quote: fall back to whitespace
        return tuple(rest.split())


def pause_until(args: tuple[str, ...]) -> date | None:
    """'until 2026-12-01' or '2026-12-01' -> the date; no argument -> None (open-ended pause)."""
    values = [a for a in args if a.lower() not in ("until", "bis")]
    if not values:
        return None
    return date.fromisoformat(values[0])  # ValueError is reported to the person by the caller

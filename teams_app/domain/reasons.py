"""Why a match was made, as values: an English template (the catalog msgid) and its parameters.

The matching code says *what* made a match good ("Ana offers SQL, which Bo wants"); the adapters say it in the
reader's language and to the reader ("You offer SQL, which Bo wants."). So a :class:`Reason` keeps the template
with its ``{placeholders}`` and the values apart, and ``str()`` gives the English sentence for logs and the
CLI. ``N_``/``Nn_`` only mark templates for catalog extraction (babel.cfg keywords); the domain never
translates. Matches stored before reasons were values hold plain English strings, which stay as they are.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger(__name__)

ParamValue = str | int | tuple[str, ...]


def N_(message: str) -> str:
    """Marks ``message`` as a catalog msgid; translated where it is shown."""
    return message


def Nn_(singular: str, plural: str) -> tuple[str, str]:
    """Marks a singular/plural msgid pair; ``count`` picks the form where it is shown."""
    return singular, plural


def english_list(items: Sequence[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


@dataclass(frozen=True)
class Reason:
    """One reason: ``template`` is the English msgid (``plural`` its plural form, picked by ``count``)."""

    template: str
    params: tuple[tuple[str, ParamValue], ...] = ()
    plural: str = ""

    def __post_init__(self) -> None:
        # sorted by name: equal reasons compare equal whatever order a store (PostgreSQL JSONB) gives back
        object.__setattr__(self, "params", tuple(sorted(self.params, key=lambda item: item[0])))

    @classmethod
    def of(cls, template: str | tuple[str, str], **params: ParamValue) -> Reason:
        """``Reason.of(OFFERS, giver="Ana", skills=("SQL",), taker="Bo")``; a pair from ``Nn_`` needs ``count``."""
        if isinstance(template, tuple):
            if not isinstance(params.get("count"), int):
                raise ValueError(f"a plural reason needs an int count: {template[0]!r}")
            return cls(template[0], tuple(params.items()), template[1])
        return cls(template, tuple(params.items()))

    @property
    def values(self) -> dict[str, ParamValue]:
        return dict(self.params)

    def text(self, template: str, join: Callable[[Sequence[str]], str] = english_list,
             extra: Mapping[str, ParamValue] | None = None) -> str:
        """``template`` (this reason's, translated or a reader's form of it) filled with the values; lists
        are joined with ``join``."""
        values = {**self.values, **(extra or {})}
        return template.format(**{k: join(v) if isinstance(v, tuple) else v for k, v in values.items()})

    def pick(self, count: int | None = None) -> str:
        """The English template for these values: the plural form unless ``count`` is 1."""
        n = self.values.get("count") if count is None else count
        return self.plural if self.plural and n != 1 else self.template

    def __str__(self) -> str:
        return self.text(self.pick())

    def to_json(self) -> dict[str, Any]:
        """{"t": template, "p": {...}} (with "pl" for a plural form): how a reason is stored."""
        out: dict[str, Any] = {"t": self.template,
                               "p": {k: list(v) if isinstance(v, tuple) else v for k, v in self.params}}
        if self.plural:
            out["pl"] = self.plural
        return out

    @staticmethod
    def from_json(value: object) -> Reason | str:
        """A stored reason; a plain string (stored before reasons were values) stays as it is."""
        if isinstance(value, str):
            return value
        if isinstance(value, Mapping) and isinstance(value.get("t"), str) and isinstance(value.get("p", {}), Mapping):
            params: list[tuple[str, ParamValue]] = []
            for key, raw in value.get("p", {}).items():
                params.append((str(key), tuple(str(x) for x in raw) if isinstance(raw, list | tuple)
                               else raw if isinstance(raw, int) and not isinstance(raw, bool) else str(raw)))
            return Reason(value["t"], tuple(params), str(value.get("pl") or ""))
        logger.warning("a stored match reason has an unknown shape (%s); shown as text", type(value).__name__)
        return str(value)


MatchReason = Reason | str  # str: rows stored before reasons were values


def reason_json(reason: MatchReason) -> dict[str, Any] | str:
    """What is stored for one reason (a plain string from an older row is stored as it was)."""
    return reason.to_json() if isinstance(reason, Reason) else reason

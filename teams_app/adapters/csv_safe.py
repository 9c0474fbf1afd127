"""CSV cells a spreadsheet will not run: OWASP's defence against formula (CSV) injection.

A text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is prefixed with a single
quote, so Excel, LibreOffice and Google Sheets show it as text instead of evaluating it (``=HYPERLINK(...)``
typed as a department must not become a link in the report). Numbers stay numbers; quoting of separators
and quotes is left to :mod:`csv`. Every CSV the project writes goes through :func:`safe_cell` (the export, the
report's CSV, the assessment exports).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """``value`` unchanged unless it is text a spreadsheet would read as a formula; then ``'`` + value."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def safe_values(values: Iterable[Any]) -> list[Any]:
    """A row for ``csv.writer``, every cell through :func:`safe_cell`."""
    return [safe_cell(v) for v in values]


def safe_rows(rows: Iterable[Mapping[str, Any]]) -> Iterator[dict[str, Any]]:
    """Rows for ``csv.DictWriter``, every cell through :func:`safe_cell` (the keys are ours, not escaped)."""
    for row in rows:
        yield {key: safe_cell(value) for key, value in row.items()}

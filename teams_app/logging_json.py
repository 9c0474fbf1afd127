"""Logs as JSON lines (``PEERCOACH_SERVER__LOG_FORMAT=json``): one object per record, for log collectors.

Fields: ``time`` (UTC, ISO 8601), ``level``, ``logger``, ``message`` (the %-formatted message), ``process``,
plus ``exception`` (the formatted traceback) when there is one and any ``extra=`` values that are JSON-able.
Azure App Service and Container Apps ship stdout to Log Analytics; JSON lines arrive there as fields.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "process": record.process,
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in entry:
                try:
                    json.dumps(value)
                except (TypeError, ValueError):
                    value = repr(value)
                entry[key] = value
        return json.dumps(entry, ensure_ascii=False)


def use_json_logs(level: str | int | None = None) -> None:
    """Switch every root handler (or a new stderr handler) to JSON lines."""
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.StreamHandler())
    for handler in root.handlers:
        handler.setFormatter(JsonFormatter())
    if level is not None:
        root.setLevel(level)


def apply_log_format(log_format: str, level: str | int | None = None) -> None:
    """Apply the configured format ('text' keeps what ``logging.basicConfig`` set up)."""
    if str(log_format) == "json":
        use_json_logs(level)

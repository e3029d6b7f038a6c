"""Structured JSON logs, one object a line, with every NIK masked before it is written.

A NIK is 16 digits; in logs it becomes its first four digits (province and regency), ten asterisks and its
last two: ``1809**********01``. The mask is applied to the rendered line, so NIKs in messages, arguments,
extras, tracebacks and uvicorn's access lines (a NIK in a query string) are all covered.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import sys
from typing import Any

__all__ = ["JsonFormatter", "configure_logging", "mask_niks"]

_NIK = re.compile(r"(?<!\d)(\d{4})\d{10}(\d{2})(?!\d)")
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}


def mask_niks(text: str) -> str:
    """Replace every 16-digit run in ``text`` by its masked form."""
    return _NIK.sub(r"\1**********\2", text)


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, extras; NIKs masked."""

    def __init__(self, service: str = "") -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if self.service:
            entry["service"] = self.service
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return mask_niks(json.dumps(entry, default=str, ensure_ascii=False))


class _MaskingTextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return mask_niks(super().format(record))


def configure_logging(*, service: str = "", level: str = "INFO", json_lines: bool = True) -> None:
    """Send the root logger (and uvicorn's) to stderr through the masking formatter."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter(service)
        if json_lines
        else _MaskingTextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_ektp", False):
            root.removeHandler(old)
    handler._ektp = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers = []
        logger.propagate = True

"""Printer states (IPP words where IPP has them) and the transitions allowed between them.

``registered`` → ``commissioning`` → ``ready`` ⇄ ``stopped`` (reasons; it comes back by itself when they
clear) and ``ready``/``stopped`` ⇄ ``paused`` (an operator). Any state but ``removed`` → ``removed``;
commissioning again after a move is allowed from any state but ``removed``.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType

__all__ = ["RUNNING", "TRANSITIONS", "PrinterLifecycle"]


class PrinterLifecycle(StrEnum):
    REGISTERED = "registered"
    COMMISSIONING = "commissioning"
    READY = "ready"
    PAUSED = "paused"
    STOPPED = "stopped"
    REMOVED = "removed"


P = PrinterLifecycle

TRANSITIONS: Mapping[PrinterLifecycle, frozenset[PrinterLifecycle]] = MappingProxyType(
    {
        P.REGISTERED: frozenset({P.COMMISSIONING, P.REMOVED}),
        P.COMMISSIONING: frozenset({P.READY, P.REGISTERED, P.REMOVED}),
        P.READY: frozenset({P.STOPPED, P.PAUSED, P.COMMISSIONING, P.REMOVED}),
        P.STOPPED: frozenset({P.READY, P.PAUSED, P.COMMISSIONING, P.REMOVED}),
        P.PAUSED: frozenset({P.READY, P.COMMISSIONING, P.REMOVED}),
        P.REMOVED: frozenset(),
    }
)

# States in which the gateway keeps a link to the printer and polls it (and, when ready, prints).
RUNNING = frozenset({P.READY, P.STOPPED, P.PAUSED})

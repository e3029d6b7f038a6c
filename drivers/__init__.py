"""Card-printer drivers: the Evolis-style wire protocol, an async pyserial transport, the driver API.

    from drivers import CardPrinter
    async with CardPrinter.open("socket://127.0.0.1:9101") as printer:
        status = await printer.status()

The software printer to test against lives in ``drivers.emulator``.
"""

from drivers.driver import CardPrinter, Identity, JobOutcome, JobStatus, PrinterStatus, Supplies
from drivers.errors import (
    BadParameters,
    CardJam,
    CommandRejected,
    CoverOpen,
    DriverError,
    FeederEmpty,
    HopperFull,
    LinkDown,
    LinkError,
    NeedsCleaning,
    NoAnswer,
    NotSupported,
    OutcomeUnknown,
    PrinterError,
    PrinterTimedOut,
    ProtocolError,
    RibbonError,
)
from drivers.protocol import (
    PANEL_HEIGHT,
    PANEL_WIDTH,
    PANELS,
    Extension,
    Frame,
    FrameParser,
    Reply,
    panel_size,
)
from drivers.states import ErrorWord, PrinterState, Reason
from drivers.transport import Reconnect, SerialTransport, Timeouts

__all__ = [
    "PANELS",
    "PANEL_HEIGHT",
    "PANEL_WIDTH",
    "BadParameters",
    "CardJam",
    "CardPrinter",
    "CommandRejected",
    "CoverOpen",
    "DriverError",
    "ErrorWord",
    "Extension",
    "FeederEmpty",
    "Frame",
    "FrameParser",
    "HopperFull",
    "Identity",
    "JobOutcome",
    "JobStatus",
    "LinkDown",
    "LinkError",
    "NeedsCleaning",
    "NoAnswer",
    "NotSupported",
    "OutcomeUnknown",
    "PrinterError",
    "PrinterState",
    "PrinterStatus",
    "PrinterTimedOut",
    "ProtocolError",
    "Reason",
    "Reconnect",
    "Reply",
    "RibbonError",
    "SerialTransport",
    "Supplies",
    "Timeouts",
    "panel_size",
]

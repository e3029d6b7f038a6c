"""A software card printer that speaks the driver's wire protocol on a real TCP port and pseudo-terminal.

In-process: ``async with Emulator(EmulatorConfig(...)) as emu`` (see ``emulator``); as a program:
``ektp emulator`` or ``python -m drivers.emulator`` (see ``cli``); faults and operator actions over HTTP
(see ``control_server``, and ``control_client`` for its command-line client).
"""

from drivers.emulator.config import ALL_EXTENSIONS, EmulatorConfig
from drivers.emulator.emulator import Emulator
from drivers.emulator.faults import Action, Fault, FaultSpec
from drivers.emulator.printer import VirtualPrinter

__all__ = ["ALL_EXTENSIONS", "Action", "Emulator", "EmulatorConfig", "Fault", "FaultSpec", "VirtualPrinter"]

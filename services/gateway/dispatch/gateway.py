"""``Gateway``: what the background work shares — database, journal, peer clients, settings, meter — and the
one place a printer's port is opened."""

from __future__ import annotations

from dataclasses import dataclass, field

from drivers import CardPrinter, Timeouts
from services.common.db import Database
from services.gateway.clients import InventoryClient, RequestClient
from services.gateway.config import Settings
from services.gateway.fleet.printer_urls import PrinterUrls
from services.gateway.fleet.service import FleetStore
from services.gateway.journal.service import Journal
from services.gateway.models import Printer
from services.gateway.throughput import ThroughputMeter

__all__ = ["Gateway"]


@dataclass
class Gateway:
    settings: Settings
    db: Database
    requests: RequestClient
    inventory: InventoryClient
    printer_urls: PrinterUrls = field(init=False)
    journal: Journal = field(init=False)
    fleet: FleetStore = field(init=False)
    meter: ThroughputMeter = field(init=False)

    def __post_init__(self) -> None:
        self.printer_urls = self.settings.printer_urls()
        self.journal = Journal(self.db)
        self.fleet = FleetStore(self.db, self.printer_urls)
        self.meter = ThroughputMeter(self.settings.throughput_window_seconds)

    def open_printer(self, printer: Printer) -> CardPrinter:
        """The driver for ``printer`` (``async with`` opens the port), if its URL is allowed; ``UrlRefused`` if not.

        Checked here again, not only at registration: a row written before the check, or by hand, must not
        open a port either (pyserial acts on some URLs as soon as the driver is made: ``spy://…?file=``)."""
        self.printer_urls.check(printer.url)
        timeouts = Timeouts(card=self.settings.card_timeout, margin=self.settings.card_margin)
        return CardPrinter.open(printer.url, timeouts=timeouts, ribbon=printer.ribbon)

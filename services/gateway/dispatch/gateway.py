"""``Gateway``: what the background work shares — database, journal, peer clients, settings, meter."""

from __future__ import annotations

from dataclasses import dataclass, field

from services.common.db import Database
from services.gateway.clients import InventoryClient, RequestClient
from services.gateway.config import Settings
from services.gateway.fleet.service import FleetStore
from services.gateway.journal.service import Journal
from services.gateway.throughput import ThroughputMeter

__all__ = ["Gateway"]


@dataclass
class Gateway:
    settings: Settings
    db: Database
    requests: RequestClient
    inventory: InventoryClient
    journal: Journal = field(init=False)
    fleet: FleetStore = field(init=False)
    meter: ThroughputMeter = field(init=False)

    def __post_init__(self) -> None:
        self.journal = Journal(self.db)
        self.fleet = FleetStore(self.db)
        self.meter = ThroughputMeter(self.settings.throughput_window_seconds)

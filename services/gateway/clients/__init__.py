"""Typed clients for the gateway's peers: the request service and the inventory service."""

from services.gateway.clients.inventory import InventoryClient, Reservation
from services.gateway.clients.requests import CardData, Claim, RequestClient

__all__ = ["CardData", "Claim", "InventoryClient", "RequestClient", "Reservation"]

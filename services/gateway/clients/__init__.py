"""Typed clients for the gateway's peers: the request service and the inventory service."""

from services.gateway.clients.base import PeerAnswer, PeerPolicy
from services.gateway.clients.inventory import InventoryClient, NoBlanks, Reservation
from services.gateway.clients.requests import CardData, Claim, LeaseLost, RequestClient, StaleJob

__all__ = [
    "CardData",
    "Claim",
    "InventoryClient",
    "LeaseLost",
    "NoBlanks",
    "PeerAnswer",
    "PeerPolicy",
    "RequestClient",
    "Reservation",
    "StaleJob",
]

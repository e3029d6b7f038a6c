"""The inventory service (port 8002): the blank-card ledger by serial, tranches, reservations, reorder."""

"""Partner systems: their registry, client credentials, and signed callbacks (webhooks) through an outbox."""

"""The card registry: every printed card by serial, its status, custody of surrendered cards."""

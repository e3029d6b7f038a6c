"""The office's web console: one static page (no build step) that reads and drives the three services' APIs
with the staff member's own token. Mounted by the request service at ``/console/``."""

from services.console.mount import install_console

__all__ = ["install_console"]

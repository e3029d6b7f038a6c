"""The printer fleet: registration, commissioning, pause/resume/remove, state and supplies."""

"""Print requests: creation and validation, reading, cancelling, needs_review resolution, activation, handover."""

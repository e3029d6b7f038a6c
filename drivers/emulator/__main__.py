"""``python -m drivers.emulator``: the same as ``ektp emulator``."""

from drivers.emulator.cli import main

raise SystemExit(main())

"""``python -m services.ops``: the ``ektp`` command."""

from services.ops.cli import main

raise SystemExit(main())

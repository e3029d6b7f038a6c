"""Dispatch: one loop per ready printer (claim → reserve → render → send → print → report), the lease
keeper, crash recovery, and the supervisor that runs them."""

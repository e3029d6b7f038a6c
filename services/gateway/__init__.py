"""The printer gateway (port 8003): the fleet, dispatch loops, card rendering, the job journal, recovery."""

"""The priority queue the printer gateway drains: claims with leases, reports, stats, capacity."""

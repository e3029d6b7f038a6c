"""Measured cards per hour per printer, over a sliding window."""

from services.gateway.throughput.meter import ThroughputMeter

__all__ = ["ThroughputMeter"]

"""Benchmarks: ``make bench`` runs each as ``python -m bench.<name>`` from the project root; each prints a table."""

"""Kecamatan batches (usulan): a CSV or JSON file of requests, validated row by row, inserted in bulk."""

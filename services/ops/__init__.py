"""The operator's tools: the ``ektp`` command, ``ektp up``'s local stack, the office commands and the demo data.

They drive the three services from outside, as processes and over their public APIs; no service imports them.
"""

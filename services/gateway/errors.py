"""The gateway's exceptions, each raised in one place and caught by its base where the handling is the same.

Exception tree::

    PeerError                       services.common.peers: a peer did not do what was asked
     ├── PeerUnavailable            no answer, or 429/5xx, after the retries (the dispatch loop retries for ever)
     ├── PeerReplyInvalid           a 2xx whose body is not the contract's
     └── PeerAnswer                 a 4xx: the peer's answer, never retried
          ├── LeaseLost             409 lease-lost: the lease expired and the request went elsewhere
          ├── StaleJob              409 stale-job: this job no longer holds the request
          └── NoBlanks              409 no-blanks: no blank card left for this class of job
    InvalidTransition               services.common.states: a job step or printer state the table forbids
    JobNotFound                     services.gateway.journal: no such job in the journal

The printer's own errors live in ``drivers/errors.py``.
"""

from __future__ import annotations

from services.common.peers import PeerAnswer, PeerError, PeerReplyInvalid, PeerUnavailable

__all__ = ["LeaseLost", "NoBlanks", "PeerAnswer", "PeerError", "PeerReplyInvalid", "PeerUnavailable", "StaleJob"]


class LeaseLost(PeerAnswer):
    """409 lease-lost: the lease expired and the request went elsewhere."""


class StaleJob(PeerAnswer):
    """409 stale-job: this job no longer holds the request."""


class NoBlanks(PeerAnswer):
    """409 no-blanks: no blank card available to this class of job."""

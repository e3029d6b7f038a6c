"""Replacement requests: a damaged, lost or wrong card replaced by a new request linked to the old one."""

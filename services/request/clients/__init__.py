"""Typed clients of the peer services this service calls."""

"""Scaffolding for running docker-compose.yml for real (tests/system/test_compose_up.py).

``engine``: a Docker engine that answers (started here when it is installed but not running) and the compose
client. ``standins``: local stand-ins for the images compose takes from Docker Hub (python:3.11-slim,
postgres:15, caddy:2), made from Debian's packages with debootstrap, and a wheelhouse of the project's
dependencies built on the host, so that the image builds without reaching any index. Both are cached on the
machine (the images in Docker, keyed by a hash of their recipe; the .debs and the wheelhouse under
``~/.cache/ektp-compose``), so only the first run pays for them.

``python -m tests.system.compose.standins`` builds them and prints the variables that point compose at them.
"""

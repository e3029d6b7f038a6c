"""alembic environment of the request service."""

from services.common.alembic_env import run_migrations
from services.request.models import Base

run_migrations(Base.metadata)

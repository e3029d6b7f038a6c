"""alembic environment of the inventory service."""

from services.common.alembic_env import run_migrations
from services.inventory.models import Base

run_migrations(Base.metadata)

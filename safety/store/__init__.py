"""Storage: SQLAlchemy 2 models, Alembic migrations, and the repository the pipeline uses."""

from safety.store.db import Database
from safety.store.models import AuditEntry, DecisionRow, Video
from safety.store.repository import Repository, StoredDecision

__all__ = ["AuditEntry", "Database", "DecisionRow", "Repository", "StoredDecision", "Video"]

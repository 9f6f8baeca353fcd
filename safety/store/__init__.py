"""Storage: SQLAlchemy 2 models, Alembic migrations, and the repository the pipeline uses."""

from safety.store.accounts import ApiKey, LoginThrottle, Organisation, User
from safety.store.db import Database
from safety.store.models import AuditEntry, DecisionRow, MediaSnapshot, PublishJob, Video
from safety.store.repository import Repository, StoredDecision
from safety.store.review import Appeal, OutboxMessage, Report, ReviewAction, ReviewItem

__all__ = [
    "ApiKey",
    "Appeal",
    "AuditEntry",
    "Database",
    "DecisionRow",
    "LoginThrottle",
    "MediaSnapshot",
    "Organisation",
    "OutboxMessage",
    "PublishJob",
    "Report",
    "Repository",
    "ReviewAction",
    "ReviewItem",
    "StoredDecision",
    "User",
    "Video",
]

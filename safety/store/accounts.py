"""Who may call feedguard: organisations, users with one role each, hashed API keys."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from safety.store.models import Base, UtcDateTime, utcnow

ROLES = ("admin", "moderator", "rights_holder", "creator", "platform")


class Organisation(Base):
    """A rights-holder organisation; its rules take effect only once an admin verified it."""

    __tablename__ = "organisations"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    verified_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class User(Base):
    """One account, one role. Creators are matched to videos by ``creator_id`` (the platform's id)."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    role: Mapped[str] = mapped_column(String(32), index=True)
    organisation_id: Mapped[str | None] = mapped_column(ForeignKey("organisations.id"))
    creator_id: Mapped[str | None] = mapped_column(String(128), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(256))
    blur_sensitive: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    # The platform's fact about the person (teen | adult), set by the platform role or an admin:
    # never by the creator. Unknown (None) counts as teen wherever it matters.
    age_band: Mapped[str | None] = mapped_column(String(16))
    age_band_set_by: Mapped[str | None] = mapped_column(String(128))
    age_band_set_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class ApiKey(Base):
    """A bearer credential. Only a hash of the secret is stored; ``kind`` 'session' keys come
    from the web login and expire quickly."""

    __tablename__ = "api_keys"
    __table_args__ = (UniqueConstraint("secret_hash", name="uq_api_keys_secret_hash"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16), default="api")
    secret_hash: Mapped[str] = mapped_column(String(128))
    label: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class LoginThrottle(Base):
    """Failed password logins per submitted user name (known or not, so a lockout says nothing
    about whether the account exists). ``lockouts`` counts the locks since the last success: each
    doubles the next one."""

    __tablename__ = "login_throttles"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    lockouts: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, index=True)

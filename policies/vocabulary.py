"""The words and numbers every layer shares: outcomes, audiences, priorities and their ranks, the
context facts the pipeline provides, and the default size limits.

One owner each, so a value cannot drift between the engine, the store, the queue and the API.
It imports nothing, so the service, the policies and the tests may all import it.
"""

from __future__ import annotations

from enum import StrEnum

MiB = 1024 * 1024


class Outcome(StrEnum):
    PUBLISH = "published"
    HOLD = "held"
    REJECT = "rejected"


class Audience(StrEnum):
    """Who may see a published video, from least to most restricted."""

    EVERYONE = "everyone"
    TEEN = "13+"
    ADULT = "18+"

    @property
    def rank(self) -> int:
        return list(Audience).index(self)

    @staticmethod
    def strictest(*audiences: Audience) -> Audience:
        return max(audiences, key=lambda a: a.rank)


class Priority(StrEnum):
    """Review priority, lowest first; ``urgent`` items (e.g. possible minor safety) are seen first."""

    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"

    @property
    def rank(self) -> int:
        return PRIORITY_RANK[self.value]


PRIORITY_RANK: dict[str, int] = {p.value: i for i, p in enumerate(Priority)}
"""``low`` 0 .. ``urgent`` 3: the review queue orders by ``rank * 1000 + report bumps``."""
PRIORITY_NAMES: tuple[str, ...] = tuple(p.value for p in Priority)


def priority_rank(name: str | None) -> int:
    """The rank of a priority name; None (no priority given) ranks as ``normal``."""
    return PRIORITY_RANK[name or Priority.NORMAL.value]


class Fact(StrEnum):
    """Context facts the pipeline provides to the policy (and to detectors, in ``context``)."""

    CREATOR_ID = "creator.id"
    CREATOR_AGE_BAND = "creator.age_band"
    CAMEOS_COUNT = "cameos.count"
    REMIX = "remix"
    MEDIA_DURATION_S = "media.duration_s"
    MEDIA_WIDTH = "media.width"
    MEDIA_HEIGHT = "media.height"
    MEDIA_HAS_AUDIO = "media.has_audio"
    RATING_AUDIENCE = "rating.audience"


KNOWN_FACTS: frozenset[str] = frozenset(f.value for f in Fact)

# Size limits (defaults of the settings of the same name; the settings are what the code reads).
API_MAX_BODY_BYTES = 1 * MiB  # a JSON request
API_MAX_UPLOAD_BYTES = 64 * MiB  # an upload: enrolment recording, rights reference clip or audio
REFERENCE_IMAGE_MAX_BYTES = 20 * MiB  # a rights reference image (decoded in memory), under the upload cap
EVENT_MAX_BYTES = 1 * MiB  # one Kafka event (and a dead letter's copy of it)

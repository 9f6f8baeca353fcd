"""Topic names of the event contract (the service's vocabulary; ``streams`` re-exports them)."""

VIDEOS_GENERATED = "videos.generated"
FEED_PUBLISH = "feed.publish"
MODERATION_REVIEW = "moderation.review"
VIDEOS_REJECTED = "videos.rejected"
FEED_TAKEDOWN = "feed.takedown"
FEED_RELABEL = "feed.relabel"
DEAD_LETTERS = "videos.generated.dlq"

OUTCOME_TOPICS = (FEED_PUBLISH, MODERATION_REVIEW, VIDEOS_REJECTED)
ALL_TOPICS = (VIDEOS_GENERATED, *OUTCOME_TOPICS, FEED_TAKEDOWN, FEED_RELABEL, DEAD_LETTERS)

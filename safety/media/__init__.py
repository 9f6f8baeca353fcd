"""Media intake: resolve a creator's URI safely, probe it within limits, sample frames once.

Everything ffmpeg-shaped lives here so the pipeline sees only :class:`VideoInfo`,
:class:`~classifiers.base.FrameBatch` and two exception types that say whether to reject the
video (:class:`MediaRejected`) or send it to review (:class:`MediaUnavailable`).
"""

from safety.media.errors import MediaRejected, MediaUnavailable
from safety.media.frames import sample_frames
from safety.media.limits import MediaLimits
from safety.media.probe import VideoInfo, probe
from safety.media.uri import resolve_uri

__all__ = [
    "MediaLimits",
    "MediaRejected",
    "MediaUnavailable",
    "VideoInfo",
    "probe",
    "resolve_uri",
    "sample_frames",
]

"""Likeness consent (cameos): a registry of enrolled faces and protected public figures, the
per-worker index that matches faces in videos against it, and takedowns when consent is withdrawn.

Modules: ``models`` (tables), ``enrol`` (verification recording -> vectors), ``registry`` (audited
changes), ``consent`` (the rule), ``index``/``view`` (FAISS, refreshed per worker), ``tracking`` and
``detector`` (matching in videos), ``records`` (stored matches, takedowns).
"""

from safety.likeness.consent import CameoTerms, ConsentError
from safety.likeness.detector import LikenessDetector, LikenessResult, build_likeness_detector
from safety.likeness.enrol import Enrolment, EnrolmentError, enrol_from_frames, enrol_from_video
from safety.likeness.index import FaceIndex
from safety.likeness.records import record_matches
from safety.likeness.vectors import DEFAULT_THRESHOLDS, MatchThresholds
from safety.likeness.view import IndexView

__all__ = [
    "DEFAULT_THRESHOLDS",
    "CameoTerms",
    "ConsentError",
    "Enrolment",
    "EnrolmentError",
    "FaceIndex",
    "IndexView",
    "LikenessDetector",
    "LikenessResult",
    "MatchThresholds",
    "build_likeness_detector",
    "enrol_from_frames",
    "enrol_from_video",
    "record_matches",
]

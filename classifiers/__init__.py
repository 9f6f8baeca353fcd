"""Detectors that turn frames and text into scored signals. Imports nothing of the service."""

from classifiers.base import (
    Box,
    Detection,
    Detector,
    DetectorInput,
    Evidence,
    Frame,
    FrameBatch,
    Modality,
    ReportsArtifacts,
    Signal,
    TextInput,
    VersionRead,
    run_detector,
)
from classifiers.minors import MinorLikelyDetector
from classifiers.nsfw import OpenNsfwDetector
from classifiers.onnx_generic import OnnxImageClassifier, OnnxImageClassifiers, OnnxTextClassifier
from classifiers.prompt_classifier import PromptClassifier
from classifiers.prompt_screen import PromptScreen
from classifiers.registry import DetectorRegistry, UnknownDetector

# Explicit registration: what a policy may name. NudeNet (AGPL) is reachable only by its
# "classifiers.nudenet_regions:NudeNetRegions" reference, after installing feedguard[nudenet].
DEFAULT_REGISTRY = DetectorRegistry()
_BUILTIN = (
    PromptScreen,
    PromptClassifier,
    OpenNsfwDetector,
    MinorLikelyDetector,
    OnnxImageClassifier,
    OnnxImageClassifiers,
    OnnxTextClassifier,
)
for _cls in _BUILTIN:
    DEFAULT_REGISTRY.register(_cls)

__all__ = [
    "DEFAULT_REGISTRY",
    "Box",
    "Detection",
    "Detector",
    "DetectorInput",
    "DetectorRegistry",
    "Evidence",
    "Frame",
    "FrameBatch",
    "Modality",
    "PromptClassifier",
    "PromptScreen",
    "ReportsArtifacts",
    "Signal",
    "TextInput",
    "UnknownDetector",
    "VersionRead",
    "run_detector",
]

"""Detectors that turn frames and text into scored signals. Imports nothing of the service."""

from classifiers.base import (
    Box,
    Detector,
    DetectorInput,
    Evidence,
    Frame,
    FrameBatch,
    Modality,
    Signal,
    TextInput,
)
from classifiers.prompt_screen import PromptScreen
from classifiers.registry import DetectorRegistry, UnknownDetector

DEFAULT_REGISTRY = DetectorRegistry()
DEFAULT_REGISTRY.register(PromptScreen)

__all__ = [
    "DEFAULT_REGISTRY",
    "Box",
    "Detector",
    "DetectorInput",
    "DetectorRegistry",
    "Evidence",
    "Frame",
    "FrameBatch",
    "Modality",
    "PromptScreen",
    "Signal",
    "TextInput",
    "UnknownDetector",
]

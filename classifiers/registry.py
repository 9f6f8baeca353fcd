"""Explicit registry of detector classes: nothing is discovered by import side effects."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from typing import Any

from classifiers.base import Detector

DetectorFactory = Callable[..., Detector]


class UnknownDetector(LookupError):
    """Raised for a detector name that is neither registered nor an importable ``module:Class``."""


class DetectorRegistry:
    """Maps detector names to classes; ``module:Class`` references load operator extensions."""

    def __init__(self) -> None:
        self._classes: dict[str, type[Detector]] = {}

    def register(self, cls: type[Detector]) -> type[Detector]:
        """Register ``cls`` under its ``name``; usable as a class decorator."""
        existing = self._classes.get(cls.name)
        if existing is not None and existing is not cls:
            raise ValueError(f"detector name {cls.name!r} already registered by {existing.__qualname__}")
        self._classes[cls.name] = cls
        return cls

    def resolve(self, ref: str) -> type[Detector]:
        """Find a detector class by registered name or by ``package.module:ClassName``."""
        if ref in self._classes:
            return self._classes[ref]
        if ":" in ref:
            module_name, _, attr = ref.partition(":")
            try:
                obj: Any = getattr(importlib.import_module(module_name), attr)
            except (ImportError, AttributeError) as exc:
                raise UnknownDetector(f"cannot import detector {ref!r}: {exc}") from exc
            if not (isinstance(obj, type) and issubclass(obj, Detector)):
                raise UnknownDetector(f"{ref!r} is not a Detector subclass")
            return obj
        raise UnknownDetector(f"unknown detector {ref!r}; registered: {', '.join(sorted(self._classes))}")

    def names(self) -> list[str]:
        return sorted(self._classes)

    def __iter__(self) -> Iterator[type[Detector]]:
        return iter(self._classes.values())

"""Score -> probability maps, so a policy threshold of 0.8 means "80 % likely" whichever detector scored.

Two documented methods, both monotone non-decreasing (a higher raw score never lowers the probability):

* ``platt``: ``p = sigmoid(a * f(s) + b)`` with ``f = logit`` for scores that are already
  probabilities (most ONNX classifiers end in a softmax) or ``f = identity`` for raw margins.
  Fitted by Newton's method on Platt's smoothed targets; two parameters, so it needs few labels.
* ``isotonic``: a non-decreasing piecewise-linear curve through knots fitted by pool-adjacent-
  violators; needs more labels, but assumes no shape.

Parameters are data (``classifiers/models/<detector>.calibration.json``, or a ``calibration``
option in the policy), recorded with the provenance of the labels they were fitted on.
``identity`` is the honest default for a model nobody could calibrate here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from importlib import resources
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

Method = Literal["identity", "platt", "isotonic"]
F64 = npt.NDArray[np.float64]
_EPS = 1e-6


def _logit(p: F64) -> F64:
    q = np.clip(p, _EPS, 1.0 - _EPS)
    return np.asarray(np.log(q) - np.log1p(-q), dtype=np.float64)


def _sigmoid(z: F64) -> F64:
    return np.asarray(1.0 / (1.0 + np.exp(-np.clip(z, -500.0, 500.0))), dtype=np.float64)


@dataclass(frozen=True)
class Calibration:
    """One monotone score -> probability map; ``fitted_on`` says which labels it was fitted on."""

    method: Method = "identity"
    a: float = 1.0
    b: float = 0.0
    input: Literal["logit", "raw"] = "logit"
    x: tuple[float, ...] = ()
    y: tuple[float, ...] = ()
    fitted_on: str = "not fitted"
    notes: str = ""

    def __post_init__(self) -> None:
        if self.method not in ("identity", "platt", "isotonic"):
            raise ValueError(f"calibration method must be identity, platt or isotonic, got {self.method!r}")
        if self.method == "platt" and self.a < 0:
            raise ValueError("platt slope a must be >= 0 so the map stays monotone")
        if self.method == "isotonic":
            if len(self.x) < 2 or len(self.x) != len(self.y):
                raise ValueError("isotonic calibration needs >= 2 knots with as many x as y")
            if np.any(np.diff(self.x) < 0) or np.any(np.diff(self.y) < 0):
                raise ValueError("isotonic knots must be non-decreasing in x and y")

    def __call__(self, scores: npt.ArrayLike) -> F64:
        """Probabilities for ``scores`` (any shape), clipped to 0..1."""
        s = np.asarray(scores, dtype=np.float64)
        if self.method == "identity":
            out = s
        elif self.method == "platt":
            f = _logit(s) if self.input == "logit" else s
            out = _sigmoid(self.a * f + self.b)
        else:
            out = np.interp(s, np.asarray(self.x), np.asarray(self.y))
        return np.asarray(np.clip(out, 0.0, 1.0), dtype=np.float64)

    def one(self, score: float) -> float:
        """The probability for a single score."""
        return float(self(np.asarray([score]))[0])

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Calibration:
        """Build from JSON/YAML data (unknown keys are rejected, so a typo is an error, not a no-op)."""
        known = {"method", "a", "b", "input", "x", "y", "fitted_on", "notes"}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown calibration keys: {sorted(unknown)}")
        kwargs = dict(data)
        for key in ("x", "y"):
            if key in kwargs:
                kwargs[key] = tuple(float(v) for v in kwargs[key])
        for key in ("a", "b"):
            if key in kwargs:
                kwargs[key] = float(kwargs[key])
        return cls(**kwargs)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"x": list(self.x), "y": list(self.y)}

    @classmethod
    def packaged(cls, detector: str) -> Calibration:
        """The calibration shipped in ``classifiers/models/<detector>.calibration.json``."""
        path = resources.files("classifiers").joinpath("models", f"{detector}.calibration.json")
        return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))

    @classmethod
    def resolve(cls, option: Mapping[str, Any] | None, detector: str | None = None) -> Calibration:
        """The ``calibration`` option if given, else the packaged file for ``detector``, else identity."""
        if option is not None:
            return cls.from_dict(option)
        if detector is not None:
            return cls.packaged(detector)
        return cls()


def fit_platt(
    scores: Sequence[float] | npt.ArrayLike,
    labels: Sequence[int] | npt.ArrayLike,
    *,
    input: Literal["logit", "raw"] = "logit",
    fitted_on: str = "",
    iterations: int = 100,
) -> Calibration:
    """Fit Platt scaling by Newton's method with Platt's (1999) smoothed targets.

    The targets ``(n+ + 1) / (n+ + 2)`` and ``1 / (n- + 2)`` keep the fit finite on separable data.
    """
    s = np.asarray(scores, dtype=np.float64).ravel()
    yl = np.asarray(labels, dtype=np.float64).ravel()
    if s.shape != yl.shape or s.size == 0:
        raise ValueError("scores and labels must be non-empty and the same length")
    n_pos, n_neg = float(yl.sum()), float(len(yl) - yl.sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError("Platt scaling needs both positive and negative labels")
    t = np.where(yl > 0.5, (n_pos + 1) / (n_pos + 2), 1 / (n_neg + 2))
    f = _logit(s) if input == "logit" else s
    X = np.stack([f, np.ones_like(f)], axis=1)
    w = np.array([1.0, 0.0])
    for _ in range(iterations):
        p = _sigmoid(X @ w)
        grad = X.T @ (p - t)
        hess = (X * (p * (1 - p))[:, None]).T @ X + 1e-9 * np.eye(2)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-10:
            break
    a, b = float(max(w[0], 0.0)), float(w[1])
    return Calibration(method="platt", a=a, b=b, input=input, fitted_on=fitted_on)


def fit_isotonic(
    scores: Sequence[float] | npt.ArrayLike, labels: Sequence[int] | npt.ArrayLike, *, fitted_on: str = ""
) -> Calibration:
    """Fit a non-decreasing map by pool-adjacent-violators; knots at each pooled block's score range."""
    s = np.asarray(scores, dtype=np.float64).ravel()
    yl = np.asarray(labels, dtype=np.float64).ravel()
    if s.shape != yl.shape or s.size < 2:
        raise ValueError("scores and labels must be the same length, at least 2")
    order = np.argsort(s, kind="stable")
    s, yl = s[order], yl[order]
    # blocks: [sum of labels, count, lowest score, highest score]
    blocks: list[list[float]] = []
    for score, label in zip(s, yl, strict=True):
        blocks.append([label, 1.0, score, score])
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] > blocks[-1][0] / blocks[-1][1]:
            last = blocks.pop()
            blocks[-1][0] += last[0]
            blocks[-1][1] += last[1]
            blocks[-1][3] = last[3]
    xs: list[float] = []
    ys: list[float] = []
    for total, count, lo, hi in blocks:
        for knot in (lo, hi) if hi > lo else (lo,):
            if xs and knot <= xs[-1]:
                continue
            xs.append(knot)
            ys.append(total / count)
    if len(xs) == 1:
        xs, ys = [xs[0], xs[0] + _EPS], [ys[0], ys[0]]
    return Calibration(method="isotonic", x=tuple(xs), y=tuple(ys), fitted_on=fitted_on)

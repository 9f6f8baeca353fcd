"""Score -> probability maps: monotone, fitted correctly, loaded from the data next to the detectors."""

from __future__ import annotations

import numpy as np
import pytest

from classifiers.calibration import Calibration, fit_isotonic, fit_platt

GRID = np.linspace(0.0, 1.0, 201)


def synthetic(n: int = 2000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Labels drawn from a known Platt curve, p = sigmoid(2 * logit(s) - 1), so the fit can be checked."""
    rng = np.random.default_rng(seed)
    s = rng.uniform(0.01, 0.99, n)
    p = 1 / (1 + np.exp(-(2 * np.log(s / (1 - s)) - 1)))
    return s, (rng.uniform(size=n) < p).astype(int)


def test_platt_recovers_known_parameters_and_is_monotone() -> None:
    s, y = synthetic()
    cal = fit_platt(s, y, fitted_on="synthetic")
    assert cal.method == "platt" and cal.fitted_on == "synthetic"
    assert cal.a == pytest.approx(2.0, abs=0.25) and cal.b == pytest.approx(-1.0, abs=0.25)
    out = cal(GRID)
    assert np.all(np.diff(out) >= 0) and out.min() >= 0 and out.max() <= 1


def test_isotonic_is_monotone_and_pools_violators() -> None:
    s, y = synthetic(500, seed=1)
    cal = fit_isotonic(s, y)
    assert np.all(np.diff(cal(GRID)) >= 0)
    pooled = fit_isotonic([0.1, 0.2, 0.3, 0.4], [0, 1, 0, 1])
    np.testing.assert_allclose(pooled([0.1, 0.25, 0.4]), [0.0, 0.5, 1.0])


def test_identity_and_dict_round_trip() -> None:
    assert Calibration()(0.37)[()] == pytest.approx(0.37)
    cal = Calibration.from_dict({"method": "platt", "a": 0.5, "b": 0.0, "fitted_on": "x"})
    assert Calibration.from_dict(cal.to_dict()) == cal
    assert cal.one(0.5) == pytest.approx(0.5)
    assert cal.one(0.9) < 0.9  # a < 1 pulls towards 0.5: a tempered, less confident model


def test_invalid_calibrations_are_rejected() -> None:
    with pytest.raises(ValueError, match="unknown calibration keys"):
        Calibration.from_dict({"method": "platt", "slope": 2})
    with pytest.raises(ValueError, match="monotone"):
        Calibration(method="platt", a=-1.0)
    with pytest.raises(ValueError, match="non-decreasing"):
        Calibration(method="isotonic", x=(0.0, 1.0), y=(1.0, 0.0))
    with pytest.raises(ValueError, match="both positive and negative"):
        fit_platt([0.1, 0.2], [0, 0])


@pytest.mark.parametrize("detector", ["open_nsfw", "minor_likely"])
def test_packaged_calibrations_load_and_say_what_they_were_fitted_on(detector: str) -> None:
    cal = Calibration.packaged(detector)
    assert cal.fitted_on and cal.notes
    assert np.all(np.diff(cal(GRID)) >= 0)
    override = Calibration.resolve({"method": "platt", "a": 1.0, "b": 1.0}, detector)
    assert override.method == "platt"
    assert Calibration.resolve(None, detector) == cal

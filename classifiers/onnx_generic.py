"""Bring your own model: any ONNX image or text classifier, wired to policy signals by configuration.

No violence, gore or self-harm image model can ship here (none is on PyPI under a usable licence),
so operators add theirs: the policy names the file, how to feed it (size, channel order,
normalisation, layout) and which label feeds which signal, with an optional per-label calibration.

Image example (policy YAML, detector options)::

    model_path: /models/violence.onnx
    input_size: [224, 224]          # width, height
    resize: center_crop             # stretch | letterbox | center_crop
    channel_order: RGB
    layout: NCHW
    scale: 0.00392156862745098      # 1/255, before mean/std
    mean: [0.485, 0.456, 0.406]
    std: [0.229, 0.224, 0.225]
    labels: [safe, violence, gore]
    output: softmax                 # probabilities | softmax | sigmoid
    signals: {violence: frames.violence, gore: frames.gore}
    calibration: {gore: {method: platt, a: 1.3, b: -0.4}}

Text models take one string per input (e.g. a scikit-learn TF-IDF pipeline exported by skl2onnx),
the prompt and caption joined with a newline. A graph with a ``StringNormalizer`` needs its locale
(default ``en_US.UTF-8``) installed on the worker, or its ``locale`` attribute set to ``C.UTF-8``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from classifiers.base import Box, Detector, DetectorInput, Evidence, Modality, Signal
from classifiers.calibration import Calibration
from classifiers.image_ops import (
    F32,
    U8,
    center_crop,
    cpu_session,
    letterbox,
    resize_batch,
    stack_frames,
    to_tensor,
)

OUTPUT_KINDS = ("probabilities", "softmax", "sigmoid")
RESIZES = ("stretch", "letterbox", "center_crop")


def _activate(raw: F32, kind: str) -> F32:
    """Scores 0..1 from the model's output: as is, softmax over labels, or a sigmoid per label."""
    if kind == "softmax":
        z = np.exp(raw - raw.max(axis=1, keepdims=True))
        soft: F32 = (z / z.sum(axis=1, keepdims=True)).astype(np.float32)
        return soft
    if kind == "sigmoid":
        return (1.0 / (1.0 + np.exp(-np.clip(raw, -80.0, 80.0)))).astype(np.float32)
    return np.clip(raw, 0.0, 1.0).astype(np.float32)


def _output_matrix(outputs: Sequence[Any], index: int, n_labels: int) -> F32:
    """The chosen output as ``N x labels`` float32; skl2onnx's list-of-dicts probabilities are accepted."""
    out = outputs[index]
    if isinstance(out, list) and out and isinstance(out[0], Mapping):  # ZipMap: [{label: p}, ...]
        keys = list(out[0])
        out = [[row[k] for k in keys] for row in out]
    arr = np.asarray(out, dtype=np.float32)
    if arr.ndim == 1:
        arr = arr[:, None]
    arr = arr.reshape(arr.shape[0], -1)
    if arr.shape[1] != n_labels:
        raise ValueError(f"model output {index} has {arr.shape[1]} columns, options name {n_labels} labels")
    return arr


class _OnnxClassifier(Detector):
    """Shared option handling: labels, label -> signal map, calibration per label, output decoding."""

    version: ClassVar[str] = "1.0.0"
    signal_names: ClassVar[tuple[str, ...]] = ()  # decided by the ``signals`` option

    def __init__(
        self,
        *,
        model_path: str,
        labels: Sequence[str],
        signals: Mapping[str, str],
        output: str = "probabilities",
        output_index: int = 0,
        calibration: Mapping[str, Mapping[str, Any]] | None = None,
        model_id: str | None = None,
        intra_op_num_threads: int = 2,
        batch_size: int = 32,
    ) -> None:
        self.labels = [str(label) for label in labels]
        if not self.labels or len(set(self.labels)) != len(self.labels):
            raise ValueError("labels must be a non-empty list of distinct names")
        unknown = sorted(set(signals) - set(self.labels))
        if unknown:
            raise ValueError(f"signals map labels the model does not have: {unknown}")
        if not signals:
            raise ValueError("signals must map at least one label to a signal name")
        self.signal_map = {str(k): str(v) for k, v in signals.items()}
        if output not in OUTPUT_KINDS:
            raise ValueError(f"output must be one of {OUTPUT_KINDS}, got {output!r}")
        self.output, self.output_index = output, int(output_index)
        cal = dict(calibration or {})
        bad = sorted(set(cal) - set(self.signal_map))
        if bad:
            raise ValueError(f"calibration given for labels not mapped to a signal: {bad}")
        self.calibrations = {label: Calibration.resolve(cal.get(label)) for label in self.signal_map}
        path = Path(model_path).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"{self.name}: model_path {str(path)!r} does not exist")
        self.model_id = model_id or path.name
        self.batch_size = max(1, int(batch_size))
        self._session: Any = cpu_session(path, intra_op_num_threads=intra_op_num_threads)
        self._input = self._session.get_inputs()[0].name

    def produces(self) -> tuple[str, ...]:
        return tuple(sorted(set(self.signal_map.values())))

    def _scores(self, x: Any, n: int) -> F32:
        """Calibrated-ready 0..1 scores, ``n x labels``, running the session in batches."""
        if self._session is None:
            raise RuntimeError("detector is closed")
        parts = [
            _output_matrix(
                self._session.run(None, {self._input: x[i : i + self.batch_size]}),
                self.output_index,
                len(self.labels),
            )
            for i in range(0, n, self.batch_size)
        ]
        return _activate(np.concatenate(parts), self.output)

    def _signals(
        self, scores: F32, evidence_for: Callable[[int, str, float], list[Evidence]]
    ) -> list[Signal]:
        """One signal per mapped name: the highest calibrated score of its labels over all rows."""
        best: dict[str, tuple[float, list[Evidence]]] = {}
        for label, signal in self.signal_map.items():
            col = self.labels.index(label)
            probs = self.calibrations[label](scores[:, col])
            row = int(np.argmax(probs))
            value = float(probs[row])
            evidence = evidence_for(row, label, value)
            if signal not in best or value > best[signal][0]:
                best[signal] = (value, evidence)
        return [self._signal(name, value, ev) for name, (value, ev) in sorted(best.items())]

    def close(self) -> None:
        self._session = None


class OnnxImageClassifier(_OnnxClassifier):
    """Frames through an operator's ONNX image classifier; signals = max over frames per label."""

    name: ClassVar[str] = "onnx_image"
    consumes: ClassVar[frozenset[Modality]] = frozenset({Modality.FRAMES})

    def __init__(
        self,
        *,
        model_path: str,
        labels: Sequence[str],
        signals: Mapping[str, str],
        input_size: int | Sequence[int] = 224,
        resize: str = "stretch",
        channel_order: str = "RGB",
        layout: str = "NCHW",
        scale: float = 1 / 255,
        mean: Sequence[float] = (0.0, 0.0, 0.0),
        std: Sequence[float] = (1.0, 1.0, 1.0),
        output: str = "probabilities",
        output_index: int = 0,
        calibration: Mapping[str, Mapping[str, Any]] | None = None,
        model_id: str | None = None,
        intra_op_num_threads: int = 2,
        batch_size: int = 32,
    ) -> None:
        size = [int(input_size)] * 2 if isinstance(input_size, int) else [int(v) for v in input_size]
        if len(size) != 2 or min(size) < 1:
            raise ValueError(f"input_size must be N or [width, height], got {input_size!r}")
        if resize not in RESIZES:
            raise ValueError(f"resize must be one of {RESIZES}, got {resize!r}")
        if channel_order not in ("RGB", "BGR") or layout not in ("NCHW", "NHWC"):
            raise ValueError("channel_order must be RGB or BGR and layout NCHW or NHWC")
        if len(mean) != 3 or len(std) != 3 or min(std) <= 0:
            raise ValueError("mean and std need 3 values each, std > 0")
        self.width, self.height = size
        if resize == "letterbox" and self.width != self.height:
            raise ValueError("resize: letterbox needs a square input_size")
        self.resize, self.channel_order, self.layout = resize, channel_order, layout
        self.scale, self.mean, self.std = float(scale), tuple(map(float, mean)), tuple(map(float, std))
        super().__init__(
            model_path=model_path,
            labels=labels,
            signals=signals,
            output=output,
            output_index=output_index,
            calibration=calibration,
            model_id=model_id,
            intra_op_num_threads=intra_op_num_threads,
            batch_size=batch_size,
        )

    def _fit(self, batch: U8) -> tuple[U8, Box]:
        """Frames at the model's input size, and the part of the frame the model saw."""
        if self.resize == "letterbox":
            return letterbox(batch, self.width)[0], Box(0.0, 0.0, 1.0, 1.0)
        if self.resize == "center_crop":
            _, h, w, _ = batch.shape
            k = max(self.width / w, self.height / h)
            scaled = resize_batch(batch, max(self.width, round(w * k)), max(self.height, round(h * k)))
            sh, sw = scaled.shape[1:3]
            fw, fh = self.width / sw, self.height / sh
            seen = Box((1 - fw) / 2, (1 - fh) / 2, fw, fh)
            return center_crop(scaled, self.width, self.height), seen
        return resize_batch(batch, self.width, self.height), Box(0.0, 0.0, 1.0, 1.0)

    def detect(self, data: DetectorInput) -> list[Signal]:
        if data.frames is None:
            raise ValueError(f"{self.name} needs frames")
        frames = data.frames
        if not frames.frames:
            return [self._signal(s, 0.0) for s in self.produces()]
        fitted, seen = self._fit(stack_frames(frames.frames))
        x = to_tensor(
            fitted,
            mean=self.mean,
            std=self.std,
            scale=self.scale,
            channel_order="BGR" if self.channel_order == "BGR" else "RGB",
            layout="NHWC" if self.layout == "NHWC" else "NCHW",
        )
        scores = self._scores(x, len(x))

        def evidence(row: int, label: str, value: float) -> list[Evidence]:
            t = float(frames.timestamps[row])
            tag = f"{self.model_id}:{label}"
            return [Evidence(frame_index=row, t=t, box=seen, label=tag, score=round(value, 4))]

        return self._signals(scores, evidence)


class OnnxTextClassifier(_OnnxClassifier):
    """Prompt (and caption) through an operator's ONNX text classifier taking a string tensor."""

    name: ClassVar[str] = "onnx_text"
    consumes: ClassVar[frozenset[Modality]] = frozenset({Modality.TEXT})

    def detect(self, data: DetectorInput) -> list[Signal]:
        if data.text is None:
            raise ValueError(f"{self.name} needs text")
        text = "\n".join(t for t in (data.text.prompt, data.text.caption) if t)
        x = np.array([[text]], dtype=object)
        scores = self._scores(x, 1)

        def evidence(row: int, label: str, value: float) -> list[Evidence]:
            tag = f"{self.model_id}:{label}"
            return [Evidence(label=tag, score=round(value, 4), text_span=(0, len(text)))]

        return self._signals(scores, evidence)


class OnnxImageClassifiers(Detector):
    """Several operator image models under one policy entry (the policy keys detectors by name).

    ``models`` is a list of :class:`OnnxImageClassifier` option sets; a signal fed by several
    models takes the highest score.
    """

    name: ClassVar[str] = "onnx_images"
    version: ClassVar[str] = "1.0.0"
    consumes: ClassVar[frozenset[Modality]] = frozenset({Modality.FRAMES})
    signal_names: ClassVar[tuple[str, ...]] = ()

    def __init__(self, *, models: Sequence[Mapping[str, Any]]) -> None:
        if not models:
            raise ValueError("models must list at least one model's options")
        self.models: list[OnnxImageClassifier] = []
        try:
            for i, options in enumerate(models):
                try:
                    self.models.append(OnnxImageClassifier(**options))
                except TypeError as exc:
                    raise ValueError(f"models[{i}]: {exc}") from exc
        except Exception:
            self.close()
            raise

    def produces(self) -> tuple[str, ...]:
        return tuple(sorted({name for m in self.models for name in m.produces()}))

    def detect(self, data: DetectorInput) -> list[Signal]:
        best: dict[str, Signal] = {}
        for model in self.models:
            for signal in model.detect(data):
                if signal.name not in best or signal.score > best[signal.name].score:
                    best[signal.name] = signal
        return [self._signal(name, signal.score, signal.evidence) for name, signal in sorted(best.items())]

    def close(self) -> None:
        for model in self.models:
            model.close()

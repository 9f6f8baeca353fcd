"""Learned prompt/caption classifier: MiniLM embeddings + a calibrated linear head, all in onnxruntime.

Where the regex screen only sees words its lexicon lists, this scores meaning ("a bloodbath"
and "a massacre" land near each other), so paraphrases are caught. Scores are Platt-calibrated
probabilities (``classifiers/models/prompt_head.json``) so a policy threshold means the same for
every category. Long texts are also scored in word windows, so benign padding cannot dilute a
harmful clause; a signal is the maximum over the prompt, the caption and their windows.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from classifiers import char_ngrams
from classifiers.base import Detector, DetectorInput, Evidence, Modality, Signal
from classifiers.text_embed import SentenceEmbedder, default_model_path, file_sha256
from classifiers.text_tricks import normalize_prompt

CATEGORIES = (
    "sexual",
    "sexual_minors",
    "violence",
    "self_harm",
    "hate_harassment",
    "dangerous_acts",
    "drugs",
)
MODELS_DIR = Path(__file__).resolve().parent / "models"
WINDOW_WORDS, WINDOW_STRIDE, MAX_WINDOWS = 24, 12, 16
Scores = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Segment:
    """One scored piece of text: where it came from and its span in the normalised source."""

    source: str
    text: str
    span: tuple[int, int]


def segments(source: str, text: str) -> list[Segment]:
    """The whole normalised text, plus overlapping word windows when it is long."""
    if not text:
        return []
    out = [Segment(source, text, (0, len(text)))]
    words = [m.span() for m in re.finditer(r"\S+", text)]
    if len(words) > WINDOW_WORDS + WINDOW_STRIDE // 2:
        for start in range(0, len(words) - WINDOW_STRIDE, WINDOW_STRIDE)[:MAX_WINDOWS]:
            first, last = words[start], words[min(start + WINDOW_WORDS, len(words)) - 1]
            out.append(Segment(source, text[first[0] : last[1]], (first[0], last[1])))
    return out


def content_free(text: str) -> bool:
    """True for a text with no context to classify: fewer than two words of 2+ letters and under six letters
    in all (a file name such as ``cut_081`` or ``IMG_4432.jpg``, a lone number, letter or emoji).

    Why: the head reads a lone word by its letters alone ("cut" -> self-harm), and digits by the ages in its
    training data ("15" -> sexual_minors 0.85 before this guard); such prompts carry no evidence either way.
    Counted on the raw text, before leetspeak is undone (which turns digits into letters). Single explicit
    words ("nudes", "gore") are still caught by the prompt screen's lexicon."""
    words = re.findall(r"[^\W\d_]{2,}", re.sub(r"\.[A-Za-z0-9]{2,4}$", "", text.strip()))
    return len(words) < 2 and sum(len(w) for w in words) < 6


class PromptClassifier(Detector):
    """Scores prompt and caption into ``text.<category>`` calibrated probabilities.

    Options (JSON-able): ``head_path``/``meta_path`` (default: the packaged head), ``model_path``/
    ``tokenizer_path`` (default: the installed MiniLM packages), ``threads`` (ONNX intra-op threads),
    ``evidence_min_score`` (attach evidence only to signals at least this high), ``verify_model``
    (refuse an encoder whose sha256 differs from the one the head was trained on).
    """

    name: ClassVar[str] = "prompt_classifier"
    version: ClassVar[str] = "1.0.0"
    consumes: ClassVar[frozenset[Modality]] = frozenset({Modality.TEXT})
    signal_names: ClassVar[tuple[str, ...]] = tuple(f"text.{c}" for c in CATEGORIES)

    def __init__(
        self,
        head_path: str | None = None,
        meta_path: str | None = None,
        model_path: str | None = None,
        tokenizer_path: str | None = None,
        threads: int = 1,
        evidence_min_score: float = 0.1,
        verify_model: bool = True,
    ) -> None:
        head = Path(head_path) if head_path else MODELS_DIR / "prompt_head.onnx"
        meta_file = Path(meta_path) if meta_path else head.with_suffix(".json")
        self.meta: dict[str, Any] = json.loads(meta_file.read_text(encoding="utf-8"))
        self.labels: tuple[str, ...] = tuple(self.meta["labels"])
        self._calibration = [self.meta["calibration"]["params"][c] for c in self.labels]
        encoder = Path(model_path) if model_path else default_model_path()
        expected = self.meta["embedder"]["model_sha256"]
        if verify_model and file_sha256(encoder) != expected:
            raise ValueError(f"{encoder} is not the encoder the head was trained on (sha256 {expected})")
        self.embedder = SentenceEmbedder(encoder, tokenizer_path, threads=threads)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self._head = ort.InferenceSession(str(head), sess_options=options, providers=["CPUExecutionProvider"])
        self._head_input = self._head.get_inputs()[0].name
        # Heads trained since issue 17's second pass also read hashed character n-grams (char_ngrams.py).
        char = self.meta.get("char_ngrams")
        self._char: tuple[int, tuple[int, int]] | None = (
            (int(char["n_features"]), (int(char["ngram_range"][0]), int(char["ngram_range"][1])))
            if char
            else None
        )
        self.evidence_min_score = evidence_min_score

    def produces(self) -> tuple[str, ...]:
        return tuple(f"text.{c}" for c in self.labels)

    @staticmethod
    def logit(p: Scores) -> Scores:
        """Inverse sigmoid, clipped so float32 saturation (p == 1.0) stays finite."""
        q = np.clip(np.asarray(p, dtype=np.float64), 1e-7, 1 - 1e-7)
        return np.asarray(np.log(q / (1 - q)), dtype=np.float64)

    @staticmethod
    def calibrate(raw: Scores, params: Sequence[Mapping[str, float]]) -> Scores:
        """Platt scaling per category: ``sigmoid(a * logit(raw) + b)``."""
        a = np.array([p["a"] for p in params])
        b = np.array([p["b"] for p in params])
        return np.asarray(1.0 / (1.0 + np.exp(-(a * PromptClassifier.logit(raw) + b))), dtype=np.float64)

    def raw_scores(self, normalised: Sequence[str]) -> Scores:
        """Uncalibrated head probabilities for already-normalised texts (``n x categories``)."""
        if not normalised:
            return np.zeros((0, len(self.labels)))
        x = self.embedder.embed(normalised)
        if self._char is not None:
            x = np.hstack([x, char_ngrams.features(normalised, *self._char)]).astype(np.float32)
        proba = self._head.run(["probabilities"], {self._head_input: x})[0]
        return np.asarray(proba, dtype=np.float64)

    def score_texts(self, texts: Sequence[str]) -> Scores:
        """Calibrated scores for raw texts (whole text only; batch API for evaluation)."""
        return self.calibrate(self.raw_scores([normalize_prompt(t) for t in texts]), self._calibration)

    def detect(self, data: DetectorInput) -> list[Signal]:
        if data.text is None:
            raise ValueError("prompt_classifier needs text input")
        segs = [
            seg
            for source, text in (("prompt", data.text.prompt), ("caption", data.text.caption))
            if text and not content_free(text)
            for seg in segments(source, normalize_prompt(text))
        ]
        raw = self.raw_scores([s.text for s in segs])
        calibrated = self.calibrate(raw, self._calibration)
        signals = []
        for j, category in enumerate(self.labels):
            if not segs:
                signals.append(self._signal(f"text.{category}", 0.0))
                continue
            best = int(np.argmax(calibrated[:, j]))
            score = float(calibrated[best, j])
            seg = segs[best]
            evidence = (
                [Evidence(text_span=seg.span, text=seg.text, score=float(raw[best, j]), label=seg.source)]
                if score >= self.evidence_min_score
                else []
            )
            signals.append(self._signal(f"text.{category}", score, evidence))
        return signals

    def close(self) -> None:
        self.embedder.close()

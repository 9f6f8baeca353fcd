"""Face tracks: link detections across sampled frames so each person is embedded a few times.

Embedding costs ~130 ms a face, detection ~2 ms a frame, so faces are linked by box overlap
first (cheap), each track embeds its best face in each third of its life (at most three), and
then identity continuity corrects the geometry: a track whose samples disagree is split (two
people passed through one spot, e.g. at a cut) and tracks whose samples agree are merged (one
person who left the frame and came back).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from classifiers.base import Box, Frame
from classifiers.face_identity import FaceEmbedder
from classifiers.faces import Face
from safety.likeness.vectors import DIM, F32, normalise


@dataclass
class Track:
    """Detections of one person: ``(frame_index, face)`` in time order, and its sampled vectors."""

    index: int
    detections: list[tuple[int, Face]]
    samples: list[tuple[int, Face]] = field(default_factory=list)
    vectors: F32 = field(default_factory=lambda: np.zeros((0, DIM), np.float32))

    def evidence(self, timestamps: Sequence[float], limit: int = 12) -> list[dict[str, Any]]:
        """Up to ``limit`` detections spread over the track, JSON-ready."""
        picks = np.unique(np.linspace(0, len(self.detections) - 1, min(limit, len(self.detections))).round())
        out = []
        for j in picks:
            i, f = self.detections[int(j)]
            box = [round(v, 4) for v in (f.box.x, f.box.y, f.box.w, f.box.h)]
            out.append({"frame_index": i, "t": round(float(timestamps[i]), 3), "box": box})
        return out


def iou(a: Box, b: Box) -> float:
    ix = max(0.0, min(a.x + a.w, b.x + b.w) - max(a.x, b.x))
    iy = max(0.0, min(a.y + a.h, b.y + b.h) - max(a.y, b.y))
    inter = ix * iy
    union = a.w * a.h + b.w * b.h - inter
    return inter / union if union > 0 else 0.0


def link(per_frame: Sequence[Sequence[Face]], *, min_iou: float = 0.2, max_gap: int = 2) -> list[Track]:
    """Greedy frame-to-frame association by IoU (best pairs first); gaps up to ``max_gap`` frames."""
    tracks: list[Track] = []
    for i, faces in enumerate(per_frame):
        open_tracks = [t for t in tracks if i - t.detections[-1][0] <= max_gap]
        pairs = sorted(
            (
                (iou(t.detections[-1][1].box, f.box), ti, fi)
                for ti, t in enumerate(open_tracks)
                for fi, f in enumerate(faces)
            ),
            reverse=True,
        )
        used_t: set[int] = set()
        used_f: set[int] = set()
        for overlap, ti, fi in pairs:
            if overlap < min_iou:
                break
            if ti in used_t or fi in used_f:
                continue
            open_tracks[ti].detections.append((i, faces[fi]))
            used_t.add(ti)
            used_f.add(fi)
        for fi, f in enumerate(faces):
            if fi not in used_f:
                tracks.append(Track(len(tracks), [(i, f)]))
    return tracks


def face_quality(face: Face, width: int, height: int) -> float:
    """Confidence x size x frontality: the face dlib will embed best."""
    side = min(face.box.w * width, face.box.h * height)
    (rx, _), (lx, _), (nx, _) = face.keypoints[0], face.keypoints[1], face.keypoints[2]
    eye = abs(lx - rx) or 1e-6
    frontal = max(0.0, 1.0 - abs(nx - (rx + lx) / 2) / eye)
    return float(face.score) * min(1.0, side / 150.0) * (0.5 + 0.5 * frontal)


def choose_samples(track: Track, width: int, height: int, per_track: int = 3) -> list[tuple[int, Face]]:
    """The best face in each of ``per_track`` equal parts of the track's life."""
    parts = np.array_split(np.arange(len(track.detections)), min(per_track, len(track.detections)))
    return [
        track.detections[int(max(part, key=lambda j: face_quality(track.detections[j][1], width, height)))]
        for part in parts
        if len(part)
    ]


def embed_tracks(
    tracks: list[Track], frames: Sequence[Frame], embedder: FaceEmbedder, per_track: int = 3
) -> None:
    """Fill ``samples`` and ``vectors``; faces of one frame are embedded in one call."""
    if not frames:
        return
    height, width = frames[0].shape[:2]
    wanted: dict[int, list[tuple[Track, int, Face]]] = {}
    for t in tracks:
        t.samples = choose_samples(t, width, height, per_track)
        for i, f in t.samples:
            wanted.setdefault(i, []).append((t, i, f))
    got: dict[tuple[int, int], F32] = {}
    for i, items in wanted.items():
        vectors = normalise(embedder.embed(frames[i], [f.box for _, _, f in items]))
        for (t, _, _), v in zip(items, vectors, strict=True):
            got[(t.index, i)] = v
    for t in tracks:
        t.vectors = np.vstack([got[(t.index, i)] for i, _ in t.samples]).astype(np.float32)


def refine(tracks: list[Track], *, split_distance: float = 0.55, merge_distance: float = 0.35) -> list[Track]:
    """Split tracks whose samples disagree, merge tracks whose samples agree (unit-vector L2)."""
    pieces: list[Track] = []
    for t in tracks:
        d = (
            np.linalg.norm(t.vectors[:, None] - t.vectors[None], axis=2)
            if len(t.vectors) > 1
            else np.zeros((1, 1))
        )
        if float(d.max()) <= split_distance:
            pieces.append(t)
            continue
        bounds = [t.detections.index(s) for s in t.samples] + [len(t.detections)]
        for k, (i, f) in enumerate(t.samples):
            start = 0 if k == 0 else bounds[k]
            pieces.append(Track(0, t.detections[start : bounds[k + 1]], [(i, f)], t.vectors[k : k + 1]))
    parent = list(range(len(pieces)))

    def root(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for a in range(len(pieces)):
        for b in range(a + 1, len(pieces)):
            ca, cb = normalise(pieces[a].vectors.mean(0)), normalise(pieces[b].vectors.mean(0))
            if float(np.linalg.norm(ca - cb)) <= merge_distance:
                parent[root(b)] = root(a)
    groups: dict[int, list[Track]] = {}
    for k, piece in enumerate(pieces):
        groups.setdefault(root(k), []).append(piece)
    merged = []
    for n, members in enumerate(groups.values()):
        detections = sorted((d for m in members for d in m.detections), key=lambda d: d[0])
        samples = [s for m in members for s in m.samples]
        merged.append(Track(n, detections, samples, np.vstack([m.vectors for m in members])))
    return merged

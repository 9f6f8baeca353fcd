"""The rights step of the pipeline: character matches + the owners' current rules -> the verdict.

Runs after the policy engine (conditions read the audience it rated), on the terms of the same
registry version the detector matched against (its ``RightsRead`` artifact). The verdict is
returned as an artifact (:class:`GateResult`) that the decision's recorder stores.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from classifiers import Signal
from classifiers.rights.detector import FLOOR, noisy_or
from policies import Decision
from policies.rights import CharacterMatch, RightsVerdict, UseFacts, apply, evaluate
from safety.events import VideoGenerated
from safety.rights.view import RightsRead, RightsView

METHOD_OF = {
    "rights.prompt_name": "prompt_name",
    "rights.prompt_semantic": "prompt_semantic",
    "rights.image_near_duplicate": "image_near_duplicate",
    "rights.image_local_features": "image_local_features",
    "rights.image_features": "image_features",
    "rights.audio": "audio",
}


def character_matches(signals: Sequence[Signal]) -> list[CharacterMatch]:
    """Per character, its best score per method (from evidence labels ``<id>/<method>...``),
    combined by noisy-or exactly as the detector combines cues."""
    best: dict[str, dict[str, float]] = defaultdict(dict)
    for s in signals:
        method = METHOD_OF.get(s.name)
        if method is None:
            continue
        for e in s.evidence:
            if not e.label or e.score is None or "/" not in e.label:
                continue
            cid = e.label.split("/", 1)[0]
            best[cid][method] = max(best[cid].get(method, 0.0), float(e.score))
    out = []
    for cid, per in best.items():
        score = noisy_or(list(per.values()))
        methods = tuple(sorted(m for m, v in per.items() if v >= FLOOR))
        out.append(CharacterMatch(cid, score, methods))
    return out


@dataclass(frozen=True)
class GateResult:
    """The artifact: each matched character's verdict, the facts its rule read, at ``version``."""

    version: int
    verdict: RightsVerdict
    facts: UseFacts
    matches: list[CharacterMatch]
    evidence: Mapping[str, list[dict[str, object]]]


class RightsGate:
    def __init__(self, view: RightsView) -> None:
        self.view = view  # whose detector produces the RightsRead this gate judges by

    def decide(
        self,
        event: VideoGenerated,
        decision: Decision,
        signals: Sequence[Signal],
        scores: Mapping[str, float],
        artifacts: Sequence[object],
    ) -> tuple[Decision, RightsVerdict, GateResult | None]:
        reads = [a for a in artifacts if isinstance(a, RightsRead)]
        if len(reads) != 1:  # fail closed: the matches cannot be judged without their terms
            raise RuntimeError(f"rights gate needs the rights detector's terms, got {len(reads)}")
        read = reads[0]
        matches = character_matches(signals)
        facts = UseFacts(
            audience=decision.audience,
            signals=dict(scores),
            remix_of=event.remix_of,
            territory=event.territory,
            at=event.created_at,
        )
        verdict = evaluate(matches, read.terms, facts)
        result = None
        if verdict.characters or verdict.shadow:
            result = GateResult(read.version, verdict, facts, matches, _evidence(signals))
        return apply(decision, verdict), verdict, result


def _evidence(signals: Sequence[Signal]) -> dict[str, list[dict[str, object]]]:
    """Per character, the strongest pieces of evidence (method, score, frame time, box) for reports."""
    out: dict[str, list[dict[str, object]]] = defaultdict(list)
    found = [(s.name, e) for s in signals if s.name in METHOD_OF for e in s.evidence]
    for name, e in sorted(found, key=lambda item: -(item[1].score or 0.0)):
        if not e.label or "/" not in e.label:
            continue
        cid = e.label.split("/", 1)[0]
        if len(out[cid]) < 8:
            item: dict[str, object] = {"signal": name, "label": e.label, "score": e.score}
            if e.t is not None:
                item["t"] = e.t
            if e.box is not None:
                item["box"] = [e.box.x, e.box.y, e.box.w, e.box.h]
            if e.text is not None:
                item["text"] = e.text
            out[cid].append(item)
    return dict(out)

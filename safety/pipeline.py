"""moderate(event): fetch -> probe -> sample -> detect -> decide -> prepare asset.

Fail closed: a stage that raises or times out turns the verdict into a hold naming that
stage; nothing is published unless every stage ran. Bad media (deterministic problems with the
creator's file) is rejected with a reason the creator can act on.
"""

from __future__ import annotations

import logging
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

from classifiers import (
    DEFAULT_REGISTRY,
    Detection,
    Detector,
    DetectorInput,
    DetectorRegistry,
    FrameBatch,
    Signal,
    TextInput,
    VersionRead,
    run_detector,
)
from policies import (
    Decision,
    Facts,
    LoadedPolicy,
    Outcome,
    PolicyEngine,
    referenced_signals,
)
from policies.rights import RightsVerdict
from policies.vocabulary import Fact
from safety import system_decisions, workdirs
from safety.config import Settings
from safety.events import VideoGenerated
from safety.media import MediaRejected, VideoInfo, probe, resolve_uri
from safety.media.snapshot import Snapshot, SnapshotStore
from safety.media_pass import PassJob, PixelPass, discarded, pixel_pass
from safety.publishing import PreparedAsset, Publisher, PublishRequest
from safety.timeouts import run_with_timeout

log = logging.getLogger(__name__)
T = TypeVar("T")

_DECISION_NS = uuid.UUID("0f5b3c1e-6a53-4d2b-9f37-8f1d2c0a7e11")


def decision_id_for(video_id: str, policy_version: str) -> str:
    """Deterministic id: two workers deciding the same video agree on it (and on asset keys)."""
    return str(uuid.uuid5(_DECISION_NS, f"{video_id}|{policy_version}"))


@dataclass
class PipelineResult:
    """The decision plus the evidence and timings that explain it."""

    decision_id: str
    decision: Decision
    signals: list[Signal]
    detectors: list[dict[str, Any]]
    stage_ms: dict[str, float]
    media: VideoInfo | None = None
    asset_uri: str | None = None
    failed_stage: str | None = None
    error: str | None = None
    frames_sampled: int = 0
    context: dict[str, Any] = field(default_factory=dict)
    shadow_decision: Decision | None = None
    obligations: list[dict[str, Any]] = field(default_factory=list)
    snapshot: Snapshot | None = None  # the bytes every stage read (None: the URI was refused)
    # Typed artifacts of detectors and the rights step (matches, registry versions read): what
    # the decision's recorders store. Nothing is kept on the detector instances.
    artifacts: list[object] = field(default_factory=list)

    def registry_versions(self) -> dict[str, int]:
        """Registry -> the version this decision read it at (the oldest, if read twice)."""
        out: dict[str, int] = {}
        for a in self.artifacts:
            if isinstance(a, VersionRead):
                out[a.registry] = min(out.get(a.registry, a.version), a.version)
        return out


class RightsStep(Protocol):
    """After the policy: rights holders' rules for the characters found (see safety.rights.gate),
    judged by the terms the rights detector's artifacts carry; returns an artifact to record."""

    def decide(
        self,
        event: VideoGenerated,
        decision: Decision,
        signals: Sequence[Signal],
        scores: dict[str, float],
        artifacts: Sequence[object],
    ) -> tuple[Decision, RightsVerdict, object | None]: ...


@dataclass
class _Run:
    stage_ms: dict[str, float] = field(default_factory=dict)
    signals: list[Signal] = field(default_factory=list)
    artifacts: list[object] = field(default_factory=list)


class StageFailed(Exception):
    def __init__(self, stage: str, cause: BaseException) -> None:
        super().__init__(f"{stage}: {type(cause).__name__}: {cause}")
        self.stage = stage
        self.cause = cause


class Pipeline:
    """One per worker: holds the detectors (and their model sessions) and the policy engine."""

    def __init__(
        self,
        settings: Settings,
        policy: LoadedPolicy,
        publisher: Publisher,
        registry: DetectorRegistry = DEFAULT_REGISTRY,
        shadow_policy: LoadedPolicy | None = None,
        detectors: Sequence[Detector] = (),
        rights: RightsStep | None = None,
        snapshots: SnapshotStore | None = None,
        pixels: PixelPass | None = None,
    ) -> None:
        self.settings = settings
        self.snapshots = snapshots or SnapshotStore(settings.snapshots_dir)
        self.rights = rights
        self.engine = PolicyEngine(policy)
        # A whole policy version in shadow: decided on the same signals, recorded, never acted on.
        self.shadow_engine = PolicyEngine(shadow_policy) if shadow_policy is not None else None
        self.publisher = publisher
        # Policy-configured detectors, operator extensions, then ones built in code (those that
        # need the service's registries, e.g. likeness and characters).
        self.detectors = [*_build_detectors(policy, settings.extra_detectors, registry), *detectors]
        self._check_wiring(policy)
        # Always decode: it proves the whole file plays, not just its header, even when no
        # detector reads frames. How (one decode that also encodes, or sampling alone): settings.
        self.pixels: PixelPass = pixels or pixel_pass(settings, publisher)
        workdirs.sweep_orphans()  # what a killed worker on this host left behind

    @property
    def policy_version(self) -> str:
        return self.engine.version

    def _check_wiring(self, policy: LoadedPolicy) -> None:
        produced = {name for d in self.detectors for name in d.produces()}
        wanted = referenced_signals(policy)
        if self.shadow_engine is not None:
            wanted |= referenced_signals(self.shadow_engine.policy)
        missing = wanted - produced
        if missing:
            raise ValueError(
                f"{policy.source}: rules read signals no configured detector produces: {sorted(missing)}"
            )

    def close(self) -> None:
        for detector in self.detectors:
            detector.close()

    def moderate(self, event: VideoGenerated) -> PipelineResult:
        decision_id = decision_id_for(event.video_id, self.policy_version)
        run = _Run()
        cards = [type(d).describe() | {"signals": list(d.produces())} for d in self.detectors]
        info: VideoInfo | None = None
        frames: FrameBatch | None = None
        snap: Snapshot | None = None
        job: PassJob | None = None
        prepared: PreparedAsset | None = None
        asset_uri: str | None = None
        # The temporary directory holds the fetched file and a speculative encode: whatever the
        # verdict, nothing of this video stays behind but the snapshot (and a published asset).
        with workdirs.video_workdir() as tmp:
            try:
                snap = self._stage(run, "fetch", lambda: self._fetch(event.uri, Path(tmp)))
                source = snap.path
                info = self._stage(run, "probe", lambda: probe(source, self.settings.media_limits))
                media = info
                job = PassJob(event, media, source, decision_id, Path(tmp), prefetch=self.detectors)
                frames, prepared = self._stage(
                    run, "sample", lambda: self.pixels.run(job), timeout_s=self.pixels.timeout_s()
                )
                data = DetectorInput(
                    frames=frames,
                    text=TextInput(prompt=event.prompt),
                    context={
                        **_context(event, info),
                        "video.id": event.video_id,
                        "cameos": list(event.cameos),
                        "source_path": str(source),
                        "media.sha256": snap.sha256,
                    },
                )
                for detector in self.detectors:
                    found = self._stage(run, f"detect:{detector.name}", _bound(detector, data))
                    run.signals.extend(found.signals)
                    run.artifacts.extend(found.artifacts)
                facts = Facts(signals=_max_scores(run.signals), context=_context(event, info))
                decision = self._stage(run, "policy", lambda: self.engine.decide(facts))
                shadow = self._shadow(facts)
                obligations: list[dict[str, Any]] = []
                if self.rights is not None:
                    decision, verdict, gate = self._stage(
                        run, "rights", _rights_call(self.rights, event, decision, run, facts)
                    )
                    obligations = verdict.obligations
                    if gate is not None:
                        run.artifacts.append(gate)
                if decision.outcome is Outcome.PUBLISH:
                    request = PublishRequest(
                        event=event,
                        source=source,
                        info=media,
                        decision_id=decision_id,
                        decision=decision,
                        grants=[{"type": "rights.obligation", **o} for o in obligations],
                        media_sha256=snap.sha256,
                        prepared=prepared,  # encoded during sampling (None: the publisher encodes now)
                    )
                    asset_uri = self._stage(run, "publish", lambda: self.publisher.publish(request)).uri
            except StageFailed as failed:
                sampled = len(frames.frames) if frames else 0
                if isinstance(failed.cause, MediaRejected):
                    decision = system_decisions.media_rejection(
                        self.engine.policy, failed.stage, failed.cause
                    )
                    return self._result(
                        decision_id, decision, run, cards, info, frames_sampled=sampled, snapshot=snap
                    )
                log.warning("stage %s failed for %s: %s", failed.stage, event.video_id, failed)
                error = "".join(traceback.format_exception_only(failed.cause)).strip()[:2000]
                return self._result(
                    decision_id,
                    system_decisions.stage_failure_hold(self.engine.policy, failed.stage),
                    run,
                    cards,
                    info,
                    failed_stage=failed.stage,
                    error=error,
                    frames_sampled=sampled,
                    snapshot=snap,
                )
            finally:
                if job is not None:
                    job.cancel()  # a timed-out pass must not keep encoding into a removed directory
                if prepared is not None and asset_uri is None:
                    discarded(event.video_id, prepared)
        return self._result(
            decision_id,
            decision,
            run,
            cards,
            info,
            asset_uri=asset_uri,
            frames_sampled=len(frames.frames) if frames else 0,
            context=dict(facts.context),
            shadow_decision=shadow,
            obligations=obligations,
            snapshot=snap,
        )

    def _fetch(self, uri: str, workdir: Path) -> Snapshot:
        """Read the creator's URI once into a content-addressed snapshot; every later stage (and any
        moderator approval) reads the snapshot, so what was checked is what gets published."""
        limits = self.settings.media_limits
        fetched = resolve_uri(
            uri,
            media_roots=self.settings.media_roots,
            http_allow_hosts=self.settings.http_allow_hosts,
            limits=limits,
            workdir=workdir,
        )
        return self.snapshots.ingest(fetched, max_bytes=limits.max_bytes)

    @staticmethod
    def _result(
        decision_id: str,
        decision: Decision,
        run: _Run,
        cards: list[dict[str, Any]],
        info: VideoInfo | None,
        **extra: Any,
    ) -> PipelineResult:
        return PipelineResult(
            decision_id, decision, run.signals, cards, run.stage_ms, info, artifacts=run.artifacts, **extra
        )

    def _shadow(self, facts: Facts) -> Decision | None:
        """A shadow policy must never affect the real verdict, not even by failing."""
        if self.shadow_engine is None:
            return None
        try:
            return self.shadow_engine.decide(facts)
        except Exception:
            log.exception("shadow policy %s failed", self.shadow_engine.version)
            return None

    def _stage(self, run: _Run, name: str, fn: Callable[[], T], timeout_s: float | None = None) -> T:
        start = time.perf_counter()
        try:
            # The publish step may re-encode the whole video (watermark): its own, longer deadline.
            timeout = self.settings.publish_timeout_s if name == "publish" else self.settings.stage_timeout_s
            return run_with_timeout(fn, timeout_s or timeout, name)
        except Exception as exc:
            raise StageFailed(name, exc) from exc
        finally:
            run.stage_ms[name] = round((time.perf_counter() - start) * 1000, 2)


def _rights_call(
    step: RightsStep, event: VideoGenerated, decision: Decision, run: _Run, facts: Facts
) -> Callable[[], tuple[Decision, RightsVerdict, object | None]]:
    return lambda: step.decide(event, decision, run.signals, dict(facts.signals), run.artifacts)


def _bound(detector: Detector, data: DetectorInput) -> Callable[[], Detection]:
    def call() -> Detection:
        found = run_detector(detector, data)
        signals = found.signals
        if not isinstance(signals, list) or not all(isinstance(s, Signal) for s in signals):
            raise TypeError(f"detector {detector.name} returned {type(signals).__name__}, not list[Signal]")
        return found

    return call


def _max_scores(signals: Sequence[Signal]) -> dict[str, float]:
    out: dict[str, float] = {}
    for s in signals:
        out[s.name] = max(out.get(s.name, 0.0), s.score)
    return out


def _context(event: VideoGenerated, info: VideoInfo | None) -> dict[str, Any]:
    ctx: dict[str, Any] = {
        Fact.CREATOR_ID: event.creator.id,
        Fact.CREATOR_AGE_BAND: event.creator.age_band,
        Fact.CAMEOS_COUNT: len(event.cameos),
        Fact.REMIX: event.remix_of is not None,
    }
    if info is not None:
        ctx |= {
            Fact.MEDIA_DURATION_S: info.duration_s,
            Fact.MEDIA_WIDTH: info.display_width,
            Fact.MEDIA_HEIGHT: info.display_height,
            Fact.MEDIA_HAS_AUDIO: info.has_audio,
        }
    return ctx


def _build_detectors(
    policy: LoadedPolicy, extra: Sequence[str], registry: DetectorRegistry
) -> list[Detector]:
    """Detectors named in the policy (with its options) plus operator extensions from config."""
    specs: dict[str, dict[str, Any]] = dict(policy.document.detectors)
    for ref in extra:
        specs.setdefault(ref, {})
    detectors = []
    for ref, options in specs.items():
        cls = registry.resolve(ref)
        try:
            detectors.append(cls(**options))
        except TypeError as exc:
            raise ValueError(f"{policy.source}: bad options for detector {ref!r}: {exc}") from exc
    return detectors


@contextmanager
def closing_pipeline(pipeline: Pipeline) -> Iterator[Pipeline]:
    try:
        yield pipeline
    finally:
        pipeline.close()

"""Service configuration: environment (``FEEDGUARD_*``) first, CLI flags override.

Nothing here is a secret yet; later keys (signing, API) must have no default outside dev.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from policies.vocabulary import API_MAX_BODY_BYTES, API_MAX_UPLOAD_BYTES
from safety.media import MediaLimits
from safety.provenance.config import ProvenanceConfig


def _default_data_dir() -> Path:
    return Path.home() / ".local" / "share" / "feedguard"


class Settings(BaseSettings):
    """All knobs of the worker, scanner and demo; see README "Configuration"."""

    model_config = SettingsConfigDict(env_prefix="FEEDGUARD_", extra="ignore", env_nested_delimiter="__")

    kafka_bootstrap: str = "127.0.0.1:9092"
    database_url: str | None = None  # default: SQLite file in data_dir
    data_dir: Path = Field(default_factory=_default_data_dir)
    media_roots: list[Path] = Field(default_factory=list)
    http_allow_hosts: list[str] = Field(default_factory=list)
    policy_file: Path | None = None  # default: the packaged policies/files/default.yaml
    shadow_policy_file: Path | None = None  # decided alongside, recorded, never enforced
    extra_detectors: list[str] = Field(default_factory=list)  # "module:Class" extensions

    group_id: str = "feedguard-moderation"
    session_timeout_ms: int = 6000
    commit_every: int = 1
    max_attempts: int = 3  # unexpected errors per event before it goes to the DLQ
    # A fetch that cannot be decoded (codec missing, corrupt batch): attempts at one position, then
    # "dead_letter" (record the raw batch in the DLQ and move on) or "fail" (stop, exit 3).
    fetch_max_attempts: int = Field(default=5, ge=1)
    unreadable_fetch: Literal["dead_letter", "fail"] = "dead_letter"
    topic_partitions: int = 4

    sample_fps: float = 2.0
    scene_threshold: float | None = 0.3
    detector_max_side: int = 512
    stage_timeout_s: float = 60.0
    # Cores one worker process may keep busy (ffmpeg, x264, ONNX Runtime): cores / workers per host.
    # Unset: ffmpeg picks its own threads and each model session uses 2.
    worker_threads: int | None = Field(default=None, ge=1, le=256)
    # Intra-op threads per model session (ONNX Runtime); 0: the worker's budget (before issue 18).
    # 1 by default: the models run while ffmpeg encodes on the worker's cores, and a second thread
    # cost 6-8 % more model CPU (benchmarks/README.md, issue 18); outputs are the same either way.
    model_threads: int = Field(default=1, ge=0, le=256)
    publish_timeout_s: float = 900.0  # watermark + final encode + sign of up to 180 s of 4K
    # "speculative": one decode samples the frames and encodes the watermarked asset while the
    # detectors run (the encode is thrown away unless the verdict is publish); "after_verdict":
    # sample first, encode only published videos (a second decode; cheaper when most videos are
    # held or rejected). Costs of both: benchmarks/README.md.
    encode_mode: Literal["speculative", "after_verdict"] = "speculative"
    max_bytes: int = 512 * 1024 * 1024
    max_duration_s: float = 180.0
    max_width: int = 3840
    max_height: int = 3840
    max_pixels: int = 3840 * 2160
    max_sampled_frames: int = 400

    # HTTP API
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    api_rate_per_minute: int = 600  # per key (or per client address when anonymous)
    api_max_body_bytes: int = API_MAX_BODY_BYTES
    # Every upload (enrolment recordings, rights reference clips, audio and images): one cap.
    api_max_upload_bytes: int = API_MAX_UPLOAD_BYTES
    api_cors_origins: list[str] = Field(default_factory=list)  # CORS off unless origins are listed
    session_ttl_s: int = 12 * 3600
    # Password logins: per user name, ``login_max_failures`` failures in a row lock it for
    # ``login_lockout_base_s``, doubling per further lock up to ``login_lockout_max_s``; per client
    # address, at most ``login_failures_per_minute`` failed logins.
    login_max_failures: int = 5
    login_lockout_base_s: int = 30
    login_lockout_max_s: int = 3600
    login_failures_per_minute: int = 10
    api_docs: bool = True  # /docs: Swagger UI from the installed package (set false to turn it off)
    lease_ttl_s: int = 300
    # Moderator wellness: graphic (or sexual) items one moderator may decide per UTC day; further ones
    # are left for others (0 = no cap). Counted per decision; see safety/review/learning.py.
    moderator_daily_exposure_cap: int = 0
    api_relay_outbox: bool = True
    # Every worker and API process runs the registry reconciler (safety.registry.reconcile) at
    # this interval; 0 turns it off in this process (README "Consistency").
    reconcile_interval_s: float = 0.25
    # How often each process's registry views (likeness index, rights terms) poll for a new version.
    registry_poll_s: float = 1.0
    # Uploads (issue 14): images over this many megapixels are refused from their header, decodes
    # share one memory budget per API process, and each key has this many uploads in flight at most.
    upload_max_megapixels: float = Field(default=12.0, gt=0.0, le=40.0)
    upload_decode_budget_mb: int = Field(default=192, ge=16)
    upload_decode_wait_s: float = Field(default=20.0, ge=0.0)
    api_uploads_per_key: int = Field(default=2, ge=1)
    api_publish_jobs: bool = True  # the API process publishes moderator approvals in the background
    publish_job_claim_s: float = Field(default=90.0, ge=1)  # a dead runner's job is taken over after

    # Media snapshots (see README "Media snapshots"): kept while a decision on them can change.
    appeal_window_days: float = Field(default=30.0, gt=0)
    snapshot_retention_days: float = Field(default=7.0, ge=0)
    snapshot_gc_interval_s: float = Field(default=3600.0, gt=0)  # the API process runs the janitor

    # Provenance: FEEDGUARD_PROVENANCE__SIGNING_KEY, ..._SIGNING_CHAIN, ..._TSA_URL, ..._WATERMARK_KEY
    provenance: ProvenanceConfig = Field(default_factory=ProvenanceConfig)

    @field_validator("http_allow_hosts")
    @classmethod
    def _lower_hosts(cls, v: list[str]) -> list[str]:
        return [h.lower() for h in v]

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'feedguard.db'}"

    @property
    def assets_dir(self) -> Path:
        return self.data_dir / "assets"

    @property
    def snapshots_dir(self) -> Path:
        """Content-addressed media snapshots live in the asset store (safety.media.snapshot)."""
        return self.assets_dir / "snapshots"

    @property
    def media_limits(self) -> MediaLimits:
        return MediaLimits(
            max_bytes=self.max_bytes,
            max_duration_s=self.max_duration_s,
            max_width=self.max_width,
            max_height=self.max_height,
            max_pixels=self.max_pixels,
            max_sampled_frames=self.max_sampled_frames,
        )

    def with_overrides(self, **overrides: Any) -> Settings:
        """Apply CLI flags that were given (``None`` means 'not given')."""
        given = {k: v for k, v in overrides.items() if v is not None}
        return self.model_copy(update=given) if given else self

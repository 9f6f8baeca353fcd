"""Provenance knobs, embedded in the service settings as ``provenance`` (``FEEDGUARD_PROVENANCE__*``).

A plain pydantic model (not a settings class) so the service owns environment parsing and these
fields stay testable on their own. With no key configured, development keys are generated under
``<data_dir>/keys/`` on first use; production must configure ``signing_key`` and ``signing_chain``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

Algorithm = Literal["es256", "es384", "ps256", "ed25519"]
Preset = Literal["ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower"]


class ProvenanceConfig(BaseModel):
    """How published videos are watermarked, encoded and signed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    signing_key: Path | None = None  # PEM private key of the leaf certificate
    signing_chain: Path | None = None  # PEM: leaf, then intermediate(s); never the root
    trust_anchors: Path | None = None  # PEM roots used when verifying (default: the dev roots)
    algorithm: Algorithm = "es256"
    tsa_url: str | None = None  # RFC 3161 timestamp authority; production should set one
    watermark: bool = True
    # Chroma offset of the invisible mark (scheme 3: +U, -V) at 720p (99th percentile, 8-bit levels;
    # frames below 720p get up to 1.5x, see watermark.effective_strength). Chosen by measurement:
    # robustness vs bitrate cost, luma PSNR/SSIM against the unmarked encode (benchmarks/WATERMARK.md).
    watermark_strength: float = Field(default=1.6, gt=0.0, le=8.0)
    # Which mark new videos get (verify reads all three schemes): 3, chroma (default: +8% median size,
    # luma untouched) is lost to a black-and-white filter; 2, luma, survives greyscale but costs about
    # +22% median size and 38-45 dB luma PSNR (benchmarks/WATERMARK.md). Scheme 2's level is its own.
    watermark_scheme: Literal[2, 3] = 3
    watermark_strength_luma: float = Field(default=2.3, gt=0.0, le=8.0)
    # Frames the detector averages at most (more = slower verify, stronger evidence).
    watermark_max_frames: int = Field(default=240, ge=1, le=2000)
    # Secret that seeds the chip layout. Unset, a public default is used: anyone with this code can
    # then read the mark and could forge one, so production sets its own (and keeps it stable).
    watermark_key: SecretStr | None = None
    crf: int = Field(default=20, ge=0, le=51)
    preset: Preset = "veryfast"
    visible_badge: bool = False
    encode_timeout_s: float = Field(default=600.0, gt=0.0)  # ffmpeg is killed past this
    claim_generator: str = "feedguard"

    @property
    def watermark_key_bytes(self) -> bytes:
        from safety.provenance.watermark import DEFAULT_KEY

        return self.watermark_key.get_secret_value().encode() if self.watermark_key else DEFAULT_KEY

    @model_validator(mode="after")
    def _key_and_chain_together(self) -> ProvenanceConfig:
        if (self.signing_key is None) != (self.signing_chain is None):
            raise ValueError("signing_key and signing_chain must be configured together")
        if self.tsa_url is not None and not self.tsa_url.startswith(("http://", "https://")):
            raise ValueError("tsa_url must be an http(s) URL")
        return self

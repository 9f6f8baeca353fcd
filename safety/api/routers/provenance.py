"""Soft-binding resolution: a watermark id found in a video -> the stored C2PA manifest store.

Public (anyone who extracted a watermark may resolve it) and rate-limited by client address like
every route; it returns only what the signed manifest already discloses, nothing private: nothing
about moderators (manifests signed before they stopped naming the reviewer have it removed here).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel

from safety.api.deps import StateDep
from safety.api.problems import PROBLEM_RESPONSES, Problem
from safety.provenance.store import ProvenanceStore

router = APIRouter(prefix="/v1/provenance", tags=["provenance"], responses=PROBLEM_RESPONSES)


class WatermarkResolution(BaseModel):
    watermark_id: str
    manifest_label: str | None
    signed_at: str
    algorithm: str
    sha256: str
    manifest_store: dict[str, Any]


@router.get(
    "/watermarks/{watermark_id}",
    response_model=WatermarkResolution,
    summary="Resolve a watermark id to the manifest store it was issued with",
)
def resolve(
    watermark_id: Annotated[str, Path(pattern=r"^[0-9a-f]{16}$")], state: StateDep
) -> WatermarkResolution:
    row = ProvenanceStore(state.db).get(watermark_id)
    if row is None:
        raise Problem(404, "watermark-unknown", "No credential was issued with this watermark id")
    return WatermarkResolution(
        watermark_id=row.watermark_id,
        manifest_label=row.manifest_label,
        signed_at=row.signed_at.isoformat(),
        algorithm=row.algorithm,
        sha256=row.sha256,
        manifest_store=_public(row.manifest_json),
    )


_PRIVATE = frozenset({"reviewed_by", "reviewer", "moderator", "moderator_id", "moderator_name"})


def _public(value: Any) -> Any:
    """``value`` without any key that names a moderator, at any depth."""
    if isinstance(value, dict):
        return {k: _public(v) for k, v in value.items() if str(k).lower() not in _PRIVATE}
    if isinstance(value, list):
        return [_public(v) for v in value]
    return value

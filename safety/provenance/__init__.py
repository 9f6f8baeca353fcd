"""Provenance for published videos: C2PA content credentials and a durable invisible watermark.

``ProvenancePublisher`` is the publish step (watermark during the final encode, sign last, store
the asset and a record); ``verify_file`` checks a file's credentials, watermark and record.
"""

from safety.provenance.config import ProvenanceConfig
from safety.provenance.publisher import ProvenancePublisher
from safety.provenance.signing import ProvenanceSigner
from safety.provenance.verify import VerifyReport, verify_file

__all__ = ["ProvenanceConfig", "ProvenancePublisher", "ProvenanceSigner", "VerifyReport", "verify_file"]

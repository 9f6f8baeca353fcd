"""C2PA signers: from a key file + chain, or from a callback (KMS/HSM keeps the key elsewhere).

One ``ProvenanceSigner`` is built at start-up and reused for every video (a c2pa ``Signer`` is
reusable; a ``Builder`` is single-use). Signing is the last step of publishing: any re-mux after
it would drop the manifest. The optional RFC 3161 TSA makes signatures outlive the leaf
certificate; without one a signature turns invalid when the leaf expires.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, BinaryIO

import c2pa
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from safety.provenance.certs import ensure_dev_chain
from safety.provenance.config import Algorithm, ProvenanceConfig

__all__ = ["ProvenanceSigner", "SignCallback", "key_callback", "reader_context"]

SignCallback = Callable[[bytes], bytes]

_ALGS: dict[Algorithm, c2pa.C2paSigningAlg] = {
    "es256": c2pa.C2paSigningAlg.ES256,
    "es384": c2pa.C2paSigningAlg.ES384,
    "ps256": c2pa.C2paSigningAlg.PS256,
    "ed25519": c2pa.C2paSigningAlg.ED25519,
}


def reader_context(trust_anchor_pem: str | None = None) -> c2pa.Context:
    """A c2pa context for reading that never touches the network (no remote manifests, no OCSP)."""
    settings: dict[str, Any] = {"verify": {"remote_manifest_fetch": False, "ocsp_fetch": False}}
    if trust_anchor_pem:
        settings["trust"] = {"user_anchors": trust_anchor_pem}
    return c2pa.Context.from_dict(settings)


def key_callback(key_pem: bytes, algorithm: Algorithm) -> SignCallback:
    """A callback signing with an in-process key: what a KMS/HSM client would do remotely.

    ECDSA signatures are returned as raw ``r || s`` (the COSE form), not DER.
    """
    key = serialization.load_pem_private_key(key_pem, password=None)

    def sign(data: bytes) -> bytes:
        if isinstance(key, ec.EllipticCurvePrivateKey):
            digest = hashes.SHA384() if algorithm == "es384" else hashes.SHA256()
            r, s = decode_dss_signature(key.sign(data, ec.ECDSA(digest)))
            size = (key.curve.key_size + 7) // 8
            return r.to_bytes(size, "big") + s.to_bytes(size, "big")
        if isinstance(key, rsa.RSAPrivateKey):
            pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
            return key.sign(data, pss, hashes.SHA256())
        if isinstance(key, ed25519.Ed25519PrivateKey):
            return key.sign(data)
        raise TypeError(f"unsupported key type {type(key).__name__}")

    return sign


class ProvenanceSigner:
    """A reusable C2PA signer plus the facts the records keep (algorithm, chain)."""

    def __init__(
        self, signer: c2pa.Signer, algorithm: Algorithm, chain_pem: str, tsa_url: str | None
    ) -> None:
        self._signer = signer
        self.algorithm = algorithm
        self.chain_pem = chain_pem
        self.tsa_url = tsa_url
        self._lock = threading.Lock()  # the native signer is shared; sign one asset at a time

    @classmethod
    def from_files(
        cls, key: Path, chain: Path, algorithm: Algorithm = "es256", tsa_url: str | None = None
    ) -> ProvenanceSigner:
        chain_pem = chain.read_bytes()
        info = c2pa.C2paSignerInfo(algorithm.encode(), chain_pem, key.read_bytes(), tsa_url)
        return cls(c2pa.Signer.from_info(info), algorithm, chain_pem.decode(), tsa_url)

    @classmethod
    def from_callback(
        cls,
        callback: SignCallback,
        chain_pem: str,
        algorithm: Algorithm = "es256",
        tsa_url: str | None = None,
    ) -> ProvenanceSigner:
        """The key never enters this process: ``callback(data) -> signature`` is called per asset."""
        signer = c2pa.Signer.from_callback(callback, _ALGS[algorithm], chain_pem, tsa_url)
        return cls(signer, algorithm, chain_pem, tsa_url)

    @classmethod
    def from_config(cls, config: ProvenanceConfig, data_dir: Path) -> ProvenanceSigner:
        """Configured key and chain, or the development chain under ``data_dir/keys``."""
        if config.signing_key is not None and config.signing_chain is not None:
            return cls.from_files(config.signing_key, config.signing_chain, config.algorithm, config.tsa_url)
        dev = ensure_dev_chain(data_dir, config.algorithm)
        return cls.from_files(dev.key, dev.chain, config.algorithm, config.tsa_url)

    def sign(
        self,
        manifest: dict[str, Any],
        source: BinaryIO,
        dest: BinaryIO,
        ingredients: Sequence[tuple[dict[str, Any], Path]] = (),
        mime: str = "video/mp4",
    ) -> bytes:
        """Embed a signed manifest: ``source`` stream in, signed asset to ``dest``; returns its bytes."""
        with self._lock, c2pa.Builder(manifest) as builder:
            for definition, path in ingredients:
                with open(path, "rb") as stream:
                    builder.add_ingredient(definition, mime, stream)
            result: bytes = builder.sign(self._signer, mime, source, dest)
            return result

    def close(self) -> None:
        self._signer.close()

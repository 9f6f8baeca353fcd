"""Development signing chains (root CA -> intermediate CA -> leaf) made with ``cryptography``.

C2PA verifiers reject self-signed signers, so even a laptop needs a real chain. The profile is the
one c2pa-rs accepts: CAs with BasicConstraints(ca=True), SKI and keyCertSign; a leaf with ca=False,
AKI, SKI, digitalSignature and EKU emailProtection + the C2PA signer EKU (1.3.6.1.4.1.62558.2.1).
Files land in ``<data_dir>/keys/<alg>/``: ``signer.key`` (0600), ``chain.pem`` (leaf then
intermediate) and ``root.pem`` (the trust anchor). CA keys are never written: a new chain is cheap.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from safety.provenance.config import Algorithm

__all__ = ["C2PA_SIGNER_EKU", "DevChain", "PrivateKey", "dev_trust_anchors", "ensure_dev_chain", "new_chain"]

C2PA_SIGNER_EKU = x509.ObjectIdentifier("1.3.6.1.4.1.62558.2.1")
PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey


@dataclass(frozen=True)
class DevChain:
    """Paths of one generated chain."""

    key: Path
    chain: Path
    root: Path


def _new_key(alg: Algorithm) -> PrivateKey:
    if alg == "es256":
        return ec.generate_private_key(ec.SECP256R1())
    if alg == "es384":
        return ec.generate_private_key(ec.SECP384R1())
    if alg == "ps256":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ed25519.Ed25519PrivateKey.generate()


def _hash_for(alg: Algorithm) -> hashes.SHA256 | hashes.SHA384 | None:
    """Certificate signature hash; Ed25519 signs without a separate digest."""
    if alg == "ed25519":
        return None
    return hashes.SHA384() if alg == "es384" else hashes.SHA256()


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "feedguard development"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _usage(*, signature: bool, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=signature,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _issue(
    alg: Algorithm,
    subject: x509.Name,
    public_key: ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey,
    issuer: x509.Certificate | None,
    issuer_key: PrivateKey,
    *,
    ca: bool,
    days: int,
    path_length: int | None = None,
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.subject if issuer is not None else subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=path_length if ca else None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(_usage(signature=not ca, cert_sign=ca), critical=True)
    )
    if issuer is not None:
        ski = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
        )
    if not ca:
        eku = x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION, C2PA_SIGNER_EKU])
        builder = builder.add_extension(eku, critical=False)
    return builder.sign(issuer_key, _hash_for(alg))


def new_chain(
    alg: Algorithm, *, leaf_days: int = 365, leaf_valid_from: dt.datetime | None = None
) -> tuple[PrivateKey, list[x509.Certificate], x509.Certificate]:
    """Make (leaf key, [leaf, intermediate], root) in memory; tests use ``leaf_valid_from``."""
    root_key, inter_key, leaf_key = _new_key(alg), _new_key(alg), _new_key(alg)
    root = _issue(
        alg,
        _name("feedguard dev root CA"),
        root_key.public_key(),
        None,
        root_key,
        ca=True,
        days=3650,
        path_length=1,
    )
    inter = _issue(
        alg,
        _name("feedguard dev intermediate CA"),
        inter_key.public_key(),
        root,
        root_key,
        ca=True,
        days=1825,
        path_length=0,
    )
    leaf = _issue(
        alg, _name("feedguard dev signer"), leaf_key.public_key(), inter, inter_key, ca=False, days=leaf_days
    )
    if leaf_valid_from is not None:  # re-issue with a chosen validity window (expiry tests)
        leaf = (
            x509.CertificateBuilder(extensions=list(leaf.extensions))
            .subject_name(leaf.subject)
            .issuer_name(leaf.issuer)
            .public_key(leaf_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(leaf_valid_from)
            .not_valid_after(leaf_valid_from + dt.timedelta(days=leaf_days))
            .sign(inter_key, _hash_for(alg))
        )
    return leaf_key, [leaf, inter], root


def _write(path: Path, data: bytes, mode: int) -> None:
    """Create ``path`` with ``mode`` from the start (no window where a key is world-readable)."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def ensure_dev_chain(data_dir: Path, alg: Algorithm = "es256") -> DevChain:
    """Return the dev chain for ``alg`` under ``data_dir/keys``, generating it on first use."""
    folder = data_dir / "keys" / alg
    paths = DevChain(key=folder / "signer.key", chain=folder / "chain.pem", root=folder / "root.pem")
    if paths.key.exists() and paths.chain.exists() and paths.root.exists():
        return paths
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    # A worker and the API often start together: without the lock both could generate, and
    # interleaved writes would leave a signer key that does not match its certificate.
    with (folder / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if paths.key.exists() and paths.chain.exists() and paths.root.exists():
            return paths
        key, chain, root = new_chain(alg)
        pem = serialization.Encoding.PEM
        key_pem = key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        _write(paths.key, key_pem, 0o600)
        _write(paths.chain, b"".join(c.public_bytes(pem) for c in chain), 0o644)
        _write(paths.root, root.public_bytes(pem), 0o644)
    return paths


def dev_trust_anchors(data_dir: Path) -> str:
    """All generated dev roots (one per algorithm) as one PEM bundle; empty if none exist."""
    keys = data_dir / "keys"
    if not keys.is_dir():
        return ""
    return "".join(p.read_text() for p in sorted(keys.glob("*/root.pem")))

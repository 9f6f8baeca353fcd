"""``feedguard doctor``'s model and signing checks (the rest is in ``safety.cli.doctor``)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from safety.config import Settings
from safety.provenance.certs import C2PA_SIGNER_EKU

Check = dict[str, Any]
RENEW_DAYS = 30


def _c(name: str, ok: bool, detail: str, fix: str = "", level: str = "fail") -> Check:
    return {
        "name": name,
        "ok": ok,
        "detail": detail,
        "fix": "" if ok else fix,
        "level": "ok" if ok else level,
    }


def _load(path: Path) -> str | None:
    """Load a model file the way its detector does; None when it loads."""
    try:
        if path.suffix == ".onnx":
            import onnxruntime as ort

            options = ort.SessionOptions()
            options.log_severity_level = 3  # graph-cleanup notices are not problems
            ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        elif path.name.startswith("shape_predictor"):
            import dlib

            dlib.shape_predictor(str(path))
        elif path.suffix == ".dat":
            import dlib

            dlib.face_recognition_model_v1(str(path))
        elif path.suffix == ".json":
            from tokenizers import Tokenizer

            if "tokenizer" in path.name:
                Tokenizer.from_file(str(path))
    except Exception as exc:
        return f"does not load: {type(exc).__name__}: {exc}"
    return None


def model_checks() -> list[Check]:
    """Third-party files: present, SHA-256 as in the manifest, and loadable; our own ONNX: loadable."""
    from classifiers.model_files import MODELS_DIR, check_all, model_path

    out: list[Check] = []
    for entry, error in check_all():
        name = f"model {entry.file}"
        if error is None:
            error = _load(model_path(entry.name))
        where = "shipped in feedguard" if entry.shipped else f"from {entry.pip_spec}"
        out.append(
            _c(
                name,
                error is None,
                error or f"sha256 ok, loads ({where}; {entry.licence})",
                "reinstall feedguard",
            )
        )
    for path in sorted(MODELS_DIR.glob("*.onnx")):
        error = _load(path)
        out.append(
            _c(f"model {path.name}", error is None, error or "loads (feedguard's own)", "reinstall feedguard")
        )
    return out


def _chain_problems(
    chain_pem: bytes, key_pem: bytes, anchors_pem: bytes | None
) -> tuple[list[str], datetime]:
    certs = x509.load_pem_x509_certificates(chain_pem)
    leaf, problems = certs[0], []
    now = datetime.now(UTC)
    for cert in certs:
        if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
            problems.append(
                f"{cert.subject.rfc4514_string()} is not valid now "
                f"(until {cert.not_valid_after_utc:%Y-%m-%d})"
            )
    for child, issuer in itertools.pairwise(certs):
        try:
            child.verify_directly_issued_by(issuer)
        except Exception:
            problems.append(
                f"{child.subject.rfc4514_string()} is not issued by the next certificate (order: leaf first)"
            )
    if anchors_pem:
        anchors = x509.load_pem_x509_certificates(anchors_pem)
        top = certs[-1]

        def issued(anchor: x509.Certificate) -> bool:
            try:
                top.verify_directly_issued_by(anchor)
                return True
            except Exception:
                return False

        if not any(a == top or issued(a) for a in anchors):
            problems.append("the chain does not lead to any configured trust anchor")
    key = serialization.load_pem_private_key(key_pem, password=None)
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    if key.public_key().public_bytes(serialization.Encoding.DER, spki) != leaf.public_key().public_bytes(
        serialization.Encoding.DER, spki
    ):
        problems.append("the signing key does not belong to the leaf certificate")
    try:
        usages = set(leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    except x509.ExtensionNotFound:
        usages = set()
    if not usages & {C2PA_SIGNER_EKU, ExtendedKeyUsageOID.EMAIL_PROTECTION}:
        problems.append("the leaf has neither the C2PA signer nor the emailProtection extended key usage")
    return problems, leaf.not_valid_after_utc


def signing_checks(settings: Settings, development: bool = False) -> list[Check]:
    cfg = settings.provenance
    prod_level = "warn" if development else "fail"
    out: list[Check] = []
    anchors = cfg.trust_anchors
    if cfg.signing_key is not None and cfg.signing_chain is not None:
        key, chain, source = cfg.signing_key, cfg.signing_chain, "configured"
    else:
        folder = settings.data_dir / "keys" / cfg.algorithm
        key, chain, source = folder / "signer.key", folder / "chain.pem", "development"
        anchors = anchors or folder / "root.pem"
        out.append(
            _c(
                "signing key",
                False,
                f"no production signing key: the generated dev chain in {folder} signs",
                "set FEEDGUARD_PROVENANCE__SIGNING_KEY and FEEDGUARD_PROVENANCE__SIGNING_CHAIN",
                prod_level,
            )
        )
    if not chain.is_file() or not key.is_file():
        missing = (
            "no dev chain yet (made on first publish)"
            if source == "development"
            else f"{chain} or {key} missing"
        )
        out.append(
            _c("signing chain", source == "development", missing, "point the settings at existing PEM files")
        )
    else:
        try:
            anchor_pem = anchors.read_bytes() if anchors is not None and anchors.is_file() else None
            problems, expires = _chain_problems(chain.read_bytes(), key.read_bytes(), anchor_pem)
        except (ValueError, TypeError, OSError) as exc:
            problems, expires = [f"cannot read the chain or key: {exc}"], datetime.now(UTC)
        days = (expires - datetime.now(UTC)).days
        if problems:
            out.append(
                _c(
                    "signing chain",
                    False,
                    f"{source} chain {chain}: " + "; ".join(problems),
                    "fix the chain file: leaf first, then its intermediates (not the root), under a "
                    "configured trust anchor, matching the signing key; renew expired certificates",
                )
            )
        else:
            out.append(
                _c(
                    "signing chain",
                    days >= RENEW_DAYS,
                    f"{source} chain valid, leaf expires {expires:%Y-%m-%d} ({days} days)",
                    "renew the signing certificate before it expires",
                    "warn",
                )
            )
    out.append(
        _c(
            "watermark key",
            cfg.watermark_key is not None,
            "configured"
            if cfg.watermark_key is not None
            else "the public default key: anyone can read and forge the mark",
            "set FEEDGUARD_PROVENANCE__WATERMARK_KEY to a stable secret",
            prod_level,
        )
    )
    if cfg.trust_anchors is None:
        out.append(
            _c(
                "trust anchors",
                False,
                "none configured: only the dev roots are trusted",
                "set FEEDGUARD_PROVENANCE__TRUST_ANCHORS to a PEM of your roots",
                prod_level,
            )
        )
    else:
        try:
            n = len(x509.load_pem_x509_certificates(cfg.trust_anchors.read_bytes()))
            out.append(_c("trust anchors", True, f"{n} root(s) in {cfg.trust_anchors}"))
        except (ValueError, OSError) as exc:
            out.append(
                _c("trust anchors", False, f"{cfg.trust_anchors}: {exc}", "point it at a PEM file of roots")
            )
    out.append(
        _c(
            "timestamp authority",
            cfg.tsa_url is not None,
            cfg.tsa_url or "none: signatures lapse with the certificate",
            "set FEEDGUARD_PROVENANCE__TSA_URL to an RFC 3161 service",
            "warn",
        )
    )
    return out

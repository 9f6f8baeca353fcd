"""Signers: every supported algorithm, a KMS-style callback, and an RFC 3161 timestamp authority."""

from __future__ import annotations

import datetime as dt
import http.server
import os
import shutil
import stat
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import c2pa
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from safety.provenance.certs import C2PA_SIGNER_EKU, ensure_dev_chain, new_chain
from safety.provenance.config import Algorithm, ProvenanceConfig
from safety.provenance.signing import ProvenanceSigner, key_callback
from safety.provenance.verify import verify_file

ALGORITHMS: list[Algorithm] = ["es256", "es384", "ps256", "ed25519"]
MANIFEST: dict[str, Any] = {
    "claim_generator_info": [{"name": "feedguard-test"}],
    "title": "t.mp4",
    "format": "video/mp4",
    "assertions": [
        {
            "label": "c2pa.actions",
            "data": {
                "actions": [
                    {
                        "action": "c2pa.created",
                        "digitalSourceType": "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia",
                    }
                ]
            },
        }
    ],
}


def sign_and_verify(signer: ProvenanceSigner, source: Path, out: Path, anchors: str) -> Any:
    with open(source, "rb") as src, open(out, "w+b") as dst:
        signer.sign(MANIFEST, src, dst)
    return verify_file(out, anchors, None, watermark=False)


def test_dev_chain_profile_and_files(tmp_path: Path) -> None:
    paths = ensure_dev_chain(tmp_path, "es256")
    assert stat.S_IMODE(os.stat(paths.key).st_mode) == 0o600, "private key readable by its owner only"
    assert stat.S_IMODE(os.stat(paths.key.parent).st_mode) == 0o700
    leaf, inter = x509.load_pem_x509_certificates(paths.chain.read_bytes())
    root = x509.load_pem_x509_certificate(paths.root.read_bytes())
    assert leaf.issuer == inter.subject and inter.issuer == root.subject, "chain is leaf then intermediate"
    for ca in (root, inter):
        assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
        assert ca.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign is True
        ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    assert leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    assert leaf.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature is True
    leaf.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    aki = leaf.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    assert (
        aki.key_identifier == inter.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    )
    eku = set(leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    assert eku == {ExtendedKeyUsageOID.EMAIL_PROTECTION, C2PA_SIGNER_EKU}
    leaf.verify_directly_issued_by(inter)
    inter.verify_directly_issued_by(root)
    # Second call reuses the chain rather than rotating keys under running workers.
    assert ensure_dev_chain(tmp_path, "es256").key.read_bytes() == paths.key.read_bytes()


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_each_algorithm_signs_a_trusted_manifest(
    alg: Algorithm, tmp_path: Path, clips: dict[str, Path]
) -> None:
    dev = ensure_dev_chain(tmp_path, alg)
    signer = ProvenanceSigner.from_files(dev.key, dev.chain, alg)
    report = sign_and_verify(signer, clips["card"], tmp_path / "signed.mp4", dev.root.read_text())
    assert report.c2pa_state == "Trusted", report.failures
    expected = {"es256": "Es256", "es384": "Es384", "ps256": "Ps256", "ed25519": "Ed25519"}[alg]
    assert report.manifest["signer"]["alg"] == expected
    # Another algorithm's root does not vouch for this chain.
    other = ensure_dev_chain(tmp_path / "other", "es256").root.read_text()
    assert sign_and_verify(signer, clips["card"], tmp_path / "again.mp4", other).c2pa_state == "Valid"


@pytest.mark.parametrize("alg", ["es256", "ed25519"])
def test_callback_signer_keeps_the_key_out_of_c2pa(
    alg: Algorithm, tmp_path: Path, clips: dict[str, Path]
) -> None:
    dev = ensure_dev_chain(tmp_path, alg)
    calls: list[int] = []
    inner = key_callback(dev.key.read_bytes(), alg)

    def kms(data: bytes) -> bytes:  # stands in for a KMS/HSM round trip
        calls.append(len(data))
        return inner(data)

    signer = ProvenanceSigner.from_callback(kms, dev.chain.read_text(), alg)
    for name in ("a.mp4", "b.mp4"):  # one signer, reused
        report = sign_and_verify(signer, clips["card"], tmp_path / name, dev.root.read_text())
        assert report.c2pa_state == "Trusted", report.failures
    assert len(calls) == 2 and all(n > 0 for n in calls)


def test_expired_leaf_cannot_sign(tmp_path: Path, clips: dict[str, Path]) -> None:
    key, chain, root = new_chain(
        "es256", leaf_days=1, leaf_valid_from=dt.datetime.now(dt.UTC) - dt.timedelta(days=3)
    )
    pem = serialization.Encoding.PEM
    key_path, chain_path = tmp_path / "k.pem", tmp_path / "c.pem"
    key_path.write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    chain_path.write_bytes(b"".join(c.public_bytes(pem) for c in chain))
    signer = ProvenanceSigner.from_files(key_path, chain_path)
    with pytest.raises(c2pa.C2paError, match="not valid at time of signing"):
        sign_and_verify(signer, clips["card"], tmp_path / "s.mp4", root.public_bytes(pem).decode())


# --------------------------------------------------------------------------- local RFC 3161 TSA


def _usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not cert_sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _tsa_material(root: Path) -> Path:
    """A TSA CA and a timestamping certificate (EKU timeStamping, critical) plus openssl's config."""
    now = dt.datetime.now(dt.UTC)
    ca_key, tsa_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "feedguard test TSA CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .add_extension(_usage(cert_sign=True), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    tsa = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "feedguard test TSA")]))
        .issuer_name(ca_name)
        .public_key(tsa_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .add_extension(_usage(cert_sign=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(tsa_key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    (root / "ca.pem").write_bytes(ca.public_bytes(pem))
    (root / "tsa.pem").write_bytes(tsa.public_bytes(pem))
    (root / "tsa.key").write_bytes(
        tsa_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    (root / "serial").write_text("01\n")
    cfg = root / "tsa.cnf"
    cfg.write_text(
        "[ tsa ]\ndefault_tsa = tsa_config\n[ tsa_config ]\n"
        f"dir = {root}\nserial = $dir/serial\ncrypto_device = builtin\nsigner_cert = $dir/tsa.pem\n"
        "certs = $dir/ca.pem\nsigner_key = $dir/tsa.key\nsigner_digest = sha256\n"
        "default_policy = 1.2.3.4.1\ndigests = sha256, sha384, sha512\naccuracy = secs:1\n"
        "ordering = yes\ntsa_name = yes\ness_cert_id_chain = no\ness_cert_id_alg = sha256\n"
    )
    return cfg


@pytest.fixture
def tsa(tmp_path: Path) -> Iterator[tuple[str, str, list[int]]]:
    """``openssl ts -reply`` behind a tiny HTTP server on 127.0.0.1: (url, TSA CA PEM, hit log)."""
    if shutil.which("openssl") is None or subprocess.run(
        ["openssl", "ts", "-help"], capture_output=True, check=False
    ).returncode not in (0, 1):
        pytest.skip("openssl with the `ts` command is not installed; cannot run a local TSA")
    root = tmp_path / "tsa"
    root.mkdir()
    cfg = _tsa_material(root)
    hits: list[int] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            query = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            hits.append(len(query))
            with tempfile.TemporaryDirectory(dir=root) as tmp:
                q, r = Path(tmp) / "q.tsq", Path(tmp) / "r.tsr"
                q.write_bytes(query)
                proc = subprocess.run(
                    ["openssl", "ts", "-reply", "-config", str(cfg), "-queryfile", str(q), "-out", str(r)],
                    capture_output=True,
                    check=False,
                )
                body = r.read_bytes() if proc.returncode == 0 else b""
            self.send_response(200 if body else 500)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            """Quiet."""

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", (root / "ca.pem").read_text(), hits
    finally:
        server.shutdown()
        server.server_close()


def test_local_tsa_timestamps_the_signature(
    tsa: tuple[str, str, list[int]], tmp_path: Path, clips: dict[str, Path]
) -> None:
    url, tsa_ca, hits = tsa
    dev = ensure_dev_chain(tmp_path, "es256")
    signer = ProvenanceSigner.from_files(dev.key, dev.chain, "es256", tsa_url=url)
    report = sign_and_verify(signer, clips["card"], tmp_path / "ts.mp4", dev.root.read_text() + tsa_ca)
    assert hits, "the signer asked our TSA for a timestamp"
    assert report.c2pa_state == "Trusted", report.failures
    assert report.manifest["signer"].get("time"), "signature carries the TSA's time"
    assert {"timeStamp.validated", "timeStamp.trusted"} <= set(report.success_codes)


def test_configured_key_is_used_instead_of_dev_keys(tmp_path: Path, clips: dict[str, Path]) -> None:
    elsewhere = ensure_dev_chain(tmp_path / "vault", "es384")
    cfg = ProvenanceConfig(signing_key=elsewhere.key, signing_chain=elsewhere.chain, algorithm="es384")
    signer = ProvenanceSigner.from_config(cfg, tmp_path / "data")
    assert not (tmp_path / "data" / "keys").exists(), "no dev keys generated when a key is configured"
    report = sign_and_verify(signer, clips["card"], tmp_path / "s.mp4", elsewhere.root.read_text())
    assert report.c2pa_state == "Trusted" and report.manifest["signer"]["alg"] == "Es384"


def _slow_first_run(data_dir: Path, seed: int) -> None:
    """Widen the race: slow chain generation and a pause between the three file writes."""
    import random
    import time

    from safety.provenance import certs

    rng = random.Random(seed)
    real_new_chain, real_write = certs.new_chain, certs._write

    def new_chain(alg):  # type: ignore[no-untyped-def]
        time.sleep(0.2)
        return real_new_chain(alg)

    def write(path, data, mode):  # type: ignore[no-untyped-def]
        real_write(path, data, mode)
        time.sleep(rng.uniform(0.0, 0.25))

    certs.new_chain, certs._write = new_chain, write  # type: ignore[assignment]
    certs.ensure_dev_chain(data_dir, "es256")


def test_concurrent_first_runs_agree_on_one_dev_chain(tmp_path: Path) -> None:
    """A worker and the API starting together must not leave a key that mismatches its certificate."""
    import multiprocessing

    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    ctx = multiprocessing.get_context("fork")  # children inherit nothing patched from here: they patch
    procs = [ctx.Process(target=_slow_first_run, args=(tmp_path, i)) for i in range(10)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    folder = tmp_path / "keys" / "es256"
    key = serialization.load_pem_private_key((folder / "signer.key").read_bytes(), password=None)
    leaf = x509.load_pem_x509_certificates((folder / "chain.pem").read_bytes())[0]
    assert leaf.public_key().public_numbers() == key.public_key().public_numbers()  # type: ignore[union-attr]

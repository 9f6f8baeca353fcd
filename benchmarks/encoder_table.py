"""Issue 18: x264 preset and CRF against file size, encode time and watermark recovery.

    python benchmarks/encoder_table.py                 # writes the table into benchmarks/README.md
    python benchmarks/encoder_table.py --quick --no-write

For each clip (natural-looking 720p24 clips of ``wm_clips``, 6 s) and each preset x CRF: the
production final encode (``encode_final``: one ffmpeg, decode + scheme-2 watermark + x264, one
thread as each of two workers on two cores gets), its size and CPU seconds, then
``feedguard verify``'s watermark step (``safety.provenance.verify.verify_file``) on the file as
published and after a typical platform re-encode (downscale to 480p, x264 CRF 30 ``veryfast``).
A recovery counts only when the decoded id is the embedded one.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import wm_clips  # noqa: E402

from classifiers.sessions import set_worker_threads  # noqa: E402
from safety.provenance.config import ProvenanceConfig  # noqa: E402
from safety.provenance.encode import encode_final, probe_source  # noqa: E402
from safety.provenance.verify import verify_file  # noqa: E402
from safety.provenance.watermark import watermark_id_for  # noqa: E402
from safety.provenance.watermark3 import Embedder  # noqa: E402

README = ROOT / "benchmarks" / "README.md"
START, END = "<!-- encoder_table:start -->", "<!-- encoder_table:end -->"
CLIPS = ("handheld-shake", "coffee-pan", "clouds-flat")
PRESETS = ("superfast", "veryfast", "faster", "medium")
CRFS = (18, 20, 23, 26)


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _transcode(src: Path, dest: Path) -> None:
    """What a platform or a re-upload does: 480p, CRF 30 (test tooling, not feedguard's runner)."""
    cmd = ["ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-y", "-i", str(src), "-vf", "scale=-2:480",
           "-c:v", "libx264", "-crf", "30", "-preset", "veryfast", "-an", str(dest)]  # fmt: skip
    subprocess.run(cmd, check=True)


def _found(path: Path, wanted: str) -> bool:
    report = verify_file(path, watermark=True)
    return report.watermark is not None and report.watermark.found and report.watermark.watermark_id == wanted


def measure(
    work: Path, clips: tuple[str, ...], presets: tuple[str, ...], crfs: tuple[int, ...], seconds: float
) -> list[dict[str, object]]:
    cfg = ProvenanceConfig()
    rows: list[dict[str, object]] = []
    set_worker_threads(1)
    for name in clips:
        src = wm_clips.render(name, work / f"{name}.mp4", seconds)
        fmt = probe_source(src)
        wid = watermark_id_for(f"decision-{name}")
        emb = Embedder(wid, fmt.width, fmt.height, cfg.watermark_strength)
        for preset in presets:
            for crf in crfs:
                out = work / f"{name}-{preset}-{crf}.mp4"
                c0 = _children_cpu()
                encode_final(src, out, fmt, mark=emb, crf=crf, preset=preset)
                cpu = _children_cpu() - c0
                again = work / f"{name}-{preset}-{crf}-480p.mp4"
                _transcode(out, again)
                mb = out.stat().st_size / 2**20
                row = {"clip": name, "preset": preset, "crf": crf, "mb": mb, "cpu": cpu,
                       "direct": _found(out, wid), "transcoded": _found(again, wid)}  # fmt: skip
                print(row, flush=True)
                rows.append(row)
                out.unlink()
                again.unlink()
    set_worker_threads(None)
    return rows


def report(rows: list[dict[str, object]], cmdline: str, seconds: float) -> str:
    cfg = ProvenanceConfig()
    clips = sorted({str(r["clip"]) for r in rows})
    base = {c: next(float(r["mb"]) for r in rows if r["clip"] == c and r["preset"] == cfg.preset  # type: ignore[arg-type]
                    and r["crf"] == cfg.crf) for c in clips}  # fmt: skip
    out = [
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, command `{cmdline}`: {len(clips)} clips of "
        f"{seconds:g} s 1280x720 24 fps ({', '.join(clips)}), scheme-2 watermark at strength "
        f"{cfg.watermark_strength}, one thread per encode. *Size* is relative to today's default "
        f"({cfg.preset}, CRF {cfg.crf}) on the same clip; *recovered* counts clips whose id "
        "`feedguard verify` decodes, on the published file and after a 480p CRF 30 re-encode.",
        "",
        "| preset | CRF | MB per 10 s (mean) | size vs default | encode CPU s per 10 s | recovered as "
        "published | recovered after 480p CRF 30 |",
        "|---|--:|--:|--:|--:|--:|--:|",
    ]
    seen: list[tuple[str, int]] = []
    for r in rows:
        key = (str(r["preset"]), int(r["crf"]))  # type: ignore[call-overload]
        if key not in seen:
            seen.append(key)
    for preset, crf in seen:
        sel = [r for r in rows if r["preset"] == preset and r["crf"] == crf]
        scale = 10.0 / seconds
        mb = statistics.mean(float(r["mb"]) for r in sel) * scale  # type: ignore[arg-type]
        rel = statistics.mean(float(r["mb"]) / base[str(r["clip"])] for r in sel)  # type: ignore[arg-type]
        cpu = statistics.mean(float(r["cpu"]) for r in sel) * scale  # type: ignore[arg-type]
        direct = sum(bool(r["direct"]) for r in sel)
        trans = sum(bool(r["transcoded"]) for r in sel)
        mark = " **(default)**" if (preset, crf) == (cfg.preset, cfg.crf) else ""
        out.append(f"| {preset}{mark} | {crf} | {mb:.2f} | {rel:.2f}x | {cpu:.2f} | {direct}/{len(sel)} | "
                   f"{trans}/{len(sel)} |")  # fmt: skip
    return "\n".join(out) + "\n"


def write_readme(body: str) -> None:
    text = README.read_text()
    block = f"{START}\n{body}{END}"
    if START in text and END in text:
        text = text[: text.index(START)] + block + text[text.index(END) + len(END) :]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    README.write_text(text)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="one clip, two presets, two CRFs")
    ap.add_argument("--seconds", type=float, default=6.0)
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--work", type=Path, default=None)
    args = ap.parse_args()
    cmdline = "python benchmarks/encoder_table.py" + "".join(f" {a}" for a in sys.argv[1:])
    clips, presets, crfs = (
        (CLIPS[:1], ("veryfast", "medium"), (20, 26)) if args.quick else (CLIPS, PRESETS, CRFS)
    )
    with tempfile.TemporaryDirectory(prefix="fg-enc-table-") as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        rows = measure(work, clips, presets, crfs, args.seconds)
    body = report(rows, cmdline, args.seconds)
    print("\n" + body)
    if not args.no_write:
        write_readme(body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

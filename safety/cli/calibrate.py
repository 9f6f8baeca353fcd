"""``feedguard calibrate``: moderators' labels -> candidate policy + report + replay on recorded traffic."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from policies import PolicyError, load_policy
from policies.loader import DEFAULT_POLICY, parse_policy
from safety.cli.commands import settings_from
from safety.replay import replay
from safety.review.calibrate import MIN_SAMPLES, TARGET_PRECISION, fit_rules, write_candidate
from safety.review.learning import labels_since
from safety.store import Database


def add_parser(sub: Any, common: Any) -> None:
    cal = sub.add_parser(
        "calibrate",
        help="re-fit hold thresholds and calibration from moderator labels; write a candidate policy",
    )
    common(cal)
    cal.add_argument("--policy", type=Path, help="the policy to start from (default: the configured one)")
    cal.add_argument("--out", type=Path, required=True, help="where to write the candidate policy")
    cal.add_argument(
        "--since", help="only labels from this ISO date/datetime on (UTC); also the replay window"
    )
    cal.add_argument("--min-samples", type=int, default=MIN_SAMPLES)
    cal.add_argument("--target-precision", type=float, default=TARGET_PRECISION)
    cal.add_argument("--json", action="store_true")
    cal.set_defaults(func=run)


def _when(text: str | None) -> datetime | None:
    if not text:
        return None
    ts = datetime.fromisoformat(text)
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


def run(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    source_path = args.policy or settings.policy_file
    try:
        since = _when(args.since)
        if source_path is None:
            text = resources.files("policies").joinpath("files", DEFAULT_POLICY).read_text("utf-8")
            policy = parse_policy(text, f"policies/files/{DEFAULT_POLICY}")
        else:
            text = Path(source_path).read_text("utf-8")
            policy = load_policy(source_path)
    except (PolicyError, ValueError, OSError) as exc:
        print(f"error: {exc}")
        return 2
    db = Database(settings.resolved_database_url)
    db.upgrade()
    try:
        with db.session() as s:
            labels = labels_since(s, since)
        report = fit_rules(labels, policy, args.min_samples, args.target_precision)
        candidate = write_candidate(text, report, str(args.out))
        args.out.write_text(candidate, encoding="utf-8")
        args.out.with_suffix(".calibration.json").write_text(json.dumps(report.calibration, indent=1))
        effect = replay(db, load_policy(args.out), since or datetime(1970, 1, 1, tzinfo=UTC)).as_dict(show=10)
    finally:
        db.dispose()
    out = {**report.as_dict(), "candidate": str(args.out), "replay": effect}
    if args.json:
        print(json.dumps(out))
        return 0
    print(
        f"{report.labels} labels ({report.usable} with a verdict); min {report.min_samples} per rule, "
        f"target precision {report.target_precision:.2f}"
    )
    for cat, c in report.categories.items():
        lo, hi = c["interval"]
        print(
            f"  category {cat}: n={c['n']} harmful={c['harmful']} restrict={c['restrict']} "
            f"benign={c['benign']} precision {c['precision']:.2f} ({lo:.2f}-{hi:.2f})"
            + ("" if c["enough"] else f"  fewer than {report.min_samples} labels")
        )
    for f in report.fits:
        lo, hi = f.interval
        line = (
            f"  {f.rule_id} [{f.signal} >= {f.threshold:g}]: n={f.n} harmful={f.harmful} "
            f"restricted={f.restricted} benign={f.benign} precision {f.precision:.2f} ({lo:.2f}-{hi:.2f})"
        )
        if f.proposed is not None:
            line += f" -> {f.proposed:g} (precision {f.proposed_precision:.2f}, holds {f.held_after})"
        print(line + f"  {f.note}")
    print(
        f"candidate {report.candidate_version} written to {args.out} "
        f"({len(report.changes)} threshold changes); "
        f"calibration to {args.out.with_suffix('.calibration.json')}"
    )
    print(f"replay on recorded traffic: {effect['changed']} of {effect['considered']} decisions would change")
    for key, n in sorted(effect["transitions"].items(), key=lambda kv: -kv[1]):
        print(f"  {n:6d}  {key}")
    print("nothing is active yet: run it as FEEDGUARD_SHADOW_POLICY_FILE, then make it the policy")
    return 0

"""The layering contracts (issue 13): import-linter, with the contracts from pyproject.toml.

streams may import safety; safety imports streams only in ``safety.composition``; classifiers
and policies import nothing of the service nor each other. Function-level imports count.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("safety", "classifiers", "policies", "streams")


def _lint(cwd: Path) -> subprocess.CompletedProcess[str]:
    lint = shutil.which("lint-imports") or str(Path(sys.executable).with_name("lint-imports"))
    return subprocess.run(
        [lint, "--no-cache"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(cwd)},
    )


def test_the_tree_keeps_the_contracts() -> None:
    done = _lint(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


def test_every_package_folder_is_a_regular_package() -> None:
    """import-linter skips namespace folders (no ``__init__.py``): their imports would go unseen."""
    missing = [
        str(d.relative_to(ROOT))
        for pkg in PACKAGES
        for d in [ROOT / pkg, *(ROOT / pkg).rglob("*")]
        if d.is_dir() and any(d.glob("*.py")) and not (d / "__init__.py").exists()
    ]
    assert missing == []


def _tree(tmp: Path, files: dict[str, str]) -> Path:
    for pkg in PACKAGES:
        (tmp / pkg).mkdir()
        (tmp / pkg / "__init__.py").write_text("")
    for name, text in files.items():
        (tmp / name).write_text(text)
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    lines = ["[importlinter]", "root_packages =", *(f"    {p}" for p in config["root_packages"])]
    for c in config["contracts"]:
        lines += [f"\n[importlinter:contract:{c['id']}]", f"name = {c['name']}", f"type = {c['type']}"]
        for key in ("layers", "ignore_imports", "modules", "source_modules", "forbidden_modules"):
            if key in c:
                lines.append(f"{key} =\n" + "\n".join(f"    {v}" for v in c[key]))
    (tmp / ".importlinter").write_text("\n".join(lines) + "\n")
    return tmp


def test_a_function_level_import_of_streams_in_safety_is_caught(tmp_path: Path) -> None:
    tree = _tree(
        tmp_path,
        {
            "streams/worker.py": "import safety.cli\n",
            "safety/composition.py": "import streams\nimport streams.worker\n",
            "safety/cli.py": "def run():\n    from streams import worker\n    return worker\n",
        },
    )
    done = _lint(tree)
    assert done.returncode == 1, done.stdout
    assert "safety.cli -> streams" in done.stdout


def test_the_composition_root_may_import_streams_and_a_pure_package_may_not_import_safety(
    tmp_path: Path,
) -> None:
    tree = _tree(
        tmp_path,
        {
            "streams/worker.py": "",
            "safety/composition.py": "def build():\n    import streams\n    import streams.worker\n",
            "safety/cli.py": "import safety.composition\nimport classifiers\nimport policies\n",
        },
    )
    assert _lint(tree).returncode == 0
    (tree / "policies" / "engine.py").write_text("def f():\n    import safety.cli\n")
    done = _lint(tree)
    assert done.returncode == 1 and "policies.engine -> safety.cli" in done.stdout, done.stdout
    (tree / "policies" / "engine.py").write_text("import classifiers\n")
    done = _lint(tree)
    assert done.returncode == 1 and "policies.engine -> classifiers" in done.stdout, done.stdout


def test_production_code_writes_no_environment_and_has_no_benchmark_switches() -> None:
    """Settings are handed over explicitly (e.g. the thread budget), never through os.environ, and
    optimisations that won are the code, with no switch back (issue 13)."""
    bad = re.compile(
        r"os\.environ\[[^]]+\]\s*=(?!=)|os\.environ\.(setdefault|update|pop)\(|os\.putenv|perf_disabled|PERF_DISABLE"
    )
    found = [
        f"{p.relative_to(ROOT)}:{m.group()}"
        for pkg in PACKAGES
        for p in (ROOT / pkg).rglob("*.py")
        for m in bad.finditer(p.read_text())
    ]
    assert found == []

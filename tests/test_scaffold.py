"""`edassets new-platform`: refusals before anything is written, and a scaffolded platform that passes the tests.

The slow test copies this checkout, scaffolds a platform of each kind into the copy and
runs the copy's own tests that every platform must pass (its new test, the contract suite,
the platform-names rule, the asset-graph snapshot, the faulty sandbox sync): no other edit.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from edassets.scaffold import ScaffoldError, new_platform, source_checkout

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(("name", "kind", "message"), [
    ("Demo-Vendor", "csv", "lower-case snake_case"),
    ("class", "csv", "lower-case snake_case"),
    ("nwea_map", "csv", "exists already"),
    ("demo_vendor", "push", "push platforms are not supported yet"),
    ("demo_vendor", "xml", "kind must be one of csv, api, push"),
])
def test_a_platform_that_cannot_be_written_is_refused_before_anything_is_written(
    name: str, kind: str, message: str
) -> None:
    registry = (REPO / "edassets" / "platforms" / "__init__.py").read_text(encoding="utf-8")
    with pytest.raises(ScaffoldError, match=message):
        new_platform(name, kind, REPO)  # type: ignore[arg-type]
    assert (REPO / "edassets" / "platforms" / "__init__.py").read_text(encoding="utf-8") == registry
    assert name == "nwea_map" or not (REPO / "edassets" / "platforms" / f"{name}.py").exists()


def test_the_checkout_is_found_and_a_plain_folder_is_refused(tmp_path: Path) -> None:
    assert source_checkout() == REPO
    with pytest.raises(ScaffoldError, match="is not a source checkout"):
        new_platform("demo_vendor", "csv", tmp_path)


def _copy_checkout(target: Path) -> Path:
    ignore = shutil.ignore_patterns(".venv", ".git", ".edassets", "__pycache__", ".pytest_cache", ".mypy_cache",
                                    ".ruff_cache", "*.egg-info")
    shutil.copytree(REPO, target, ignore=ignore)
    return target


@pytest.mark.slow
@pytest.mark.parametrize(("name", "kind"), [("demo_vendor", "csv"), ("quiz_cloud", "api")])
def test_a_scaffolded_platform_passes_the_tests_with_no_other_edit(tmp_path: Path, name: str, kind: str) -> None:
    root = _copy_checkout(tmp_path / "checkout")
    env = {**os.environ, "PYTHONPATH": str(root)}
    done = subprocess.run([sys.executable, "-m", "edassets.cli", "new-platform", name, "--kind", kind],
                          cwd=root, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert (root / "edassets" / "platforms" / f"{name}.py").exists()

    lint = subprocess.run([sys.executable, "-m", "ruff", "check", "edassets", "tests"], cwd=root, env=env,
                          capture_output=True, text=True, check=False)
    assert lint.returncode == 0, lint.stdout
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "2", f"tests/platforms/test_{name}.py",
         "tests/platforms/test_contract.py", "tests/test_platform_names.py", "tests/test_definitions.py",
         "tests/sandbox/test_bad_records_end_to_end.py", "tests/sandbox/test_truth.py"],
        cwd=root, env={**env, "EDASSETS_SHARED_DIR": str(REPO.parent / "shared")}, capture_output=True, text=True,
        check=False, timeout=900)
    assert tests.returncode == 0, tests.stdout[-3000:]

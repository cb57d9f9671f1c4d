"""`edassets new-platform`: a working platform module, its emulator, a fixture and a test, registered.

A new platform starts as a copy of a small, complete one, named after it: an assessment
results export (`--kind csv`) or an assessment results API with an API key and page
numbers (`--kind api`). Both read the same fields (student, test, subject, time, scale
score), so the contract suite, the demo and the accuracy table take the new platform in at
once; the engineer then edits the mapping and the emulator to the vendor's real format.

What it writes (into the source checkout this package lives in):

* `edassets/platforms/<name>.py` and one line in `edassets/platforms/__init__.py`;
* `edassets/sandbox/emulators/<name>.py` and one line in `edassets/sandbox/emulators/__init__.py`;
* `tests/platforms/test_<name>.py` and its fixture under `tests/fixtures/<name>/`;
* `tests/snapshots/asset_graph/<name>.txt`, the platform's asset graph for review.

Push platforms (`--kind push`) are refused for now: an Inbox source is refused when the
definitions load until the push receiver exists, so such a module could not work.
"""

import keyword
import os
import re
import subprocess
import sys
from pathlib import Path
from string import Template
from typing import Literal

Kind = Literal["csv", "api", "push"]
KINDS: tuple[Kind, ...] = ("csv", "api", "push")

_TEMPLATES = Path(__file__).parent / "templates"
_NAME = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*")
_PLATFORMS_IMPORT = re.compile(r"^from edassets\.platforms import (.+)$", re.M)
_EMULATOR_IMPORT = "from edassets.sandbox.emulators.{name} import {cls}\n"
_SNAPSHOT_SCRIPT = """
import sys, tempfile
from pathlib import Path
from edassets.definitions import asset_graph_lines, build_definitions
from edassets.settings import Settings
with tempfile.TemporaryDirectory() as home:
    lines = asset_graph_lines(build_definitions(Settings.from_env({"EDASSETS_HOME": home})), sys.argv[1])
Path(sys.argv[2]).write_text("\\n".join(lines) + "\\n", encoding="utf-8")
"""


class ScaffoldError(ValueError):
    """A platform that cannot be written: a bad or taken name, a kind not yet supported, no checkout."""


def source_checkout() -> Path:
    """The checkout holding this package (`edassets new-platform` writes into an editable install).

    Raises:
        ScaffoldError: the package is installed without its sources and tests.
    """
    return _checked_checkout(Path(__file__).resolve().parents[2])


def _checked_checkout(root: Path) -> Path:
    needed = ("pyproject.toml", "tests/platforms", "edassets/platforms/__init__.py", "edassets/sandbox/emulators/__init__.py")
    if not all((root / part).exists() for part in needed):
        raise ScaffoldError(f"{root} is not a source checkout (it needs {', '.join(needed)}): use an editable install")
    return root


def new_platform(name: str, kind: Kind, root: Path | None = None) -> list[Path]:
    """Write and register a working platform called `name`.

    Args:
        name: the platform id, lower-case snake_case.
        kind: `csv` (a handed-over export), `api` (an API-key REST API) or `push`.
        root: the source checkout (default: the one this package lives in).

    Returns:
        The files written or edited, in the order written.

    Raises:
        ScaffoldError: with the reason, before anything is written.
    """
    root = _checked_checkout(root) if root else source_checkout()
    _check(name, kind, root)
    title = name.replace("_", " ").title()
    cls = name.title().replace("_", "") + "Emulator"
    values = {"name": name, "title": title, "cls": cls}
    written = []
    for template, target in (
        (f"{kind}_platform.py.tmpl", root / "edassets" / "platforms" / f"{name}.py"),
        (f"{kind}_emulator.py.tmpl", root / "edassets" / "sandbox" / "emulators" / f"{name}.py"),
        (f"{kind}_test.py.tmpl", root / "tests" / "platforms" / f"test_{name}.py"),
        (f"{kind}_fixture.tmpl", root / "tests" / "fixtures" / name / _FIXTURES[kind]),
    ):
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(Template((_TEMPLATES / template).read_text(encoding="utf-8")).substitute(values),
                          encoding="utf-8")
        written.append(target)
    registries = [_register_platform(root, name), _register_emulator(root, name, cls)]
    _sort_imports(registries)
    written += registries
    written.append(_write_snapshot(root, name))
    return written


_FIXTURES: dict[Kind, str] = {"csv": "results.csv", "api": "results_page.json"}


def _check(name: str, kind: Kind, root: Path) -> None:
    if kind == "push":
        raise ScaffoldError("push platforms are not supported yet: an Inbox source is refused until the push "
                            "receiver exists; write a csv or api platform")
    if kind not in KINDS:
        raise ScaffoldError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    if not _NAME.fullmatch(name) or keyword.iskeyword(name):
        raise ScaffoldError(f"a platform name is lower-case snake_case (letters, digits, single underscores), not {name!r}")
    taken = [p for p in (root / "edassets" / "platforms" / f"{name}.py",
                         root / "edassets" / "sandbox" / "emulators" / f"{name}.py") if p.exists()]
    if taken or name in _registered(root):
        raise ScaffoldError(f"platform {name!r} exists already")


def _registered(root: Path) -> list[str]:
    match = _PLATFORMS_IMPORT.search((root / "edassets" / "platforms" / "__init__.py").read_text(encoding="utf-8"))
    if match is None:
        raise ScaffoldError("edassets/platforms/__init__.py no longer has its import line: register by hand")
    return [module.strip() for module in match.group(1).split(",")]


def _insert_before_closing(text: str, line: str, path: Path) -> str:
    """Add `line` as the last item of the registry's tuple (`    )` then `}`)."""
    closing = "    )\n}"
    if text.count(closing) != 1:
        raise ScaffoldError(f"{path} no longer ends its registry with one tuple: register by hand")
    return text.replace(closing, f"        {line},\n{closing}")


def _register_platform(root: Path, name: str) -> Path:
    path = root / "edassets" / "platforms" / "__init__.py"
    text = path.read_text(encoding="utf-8")
    modules = sorted({*_registered(root), name})
    text = _PLATFORMS_IMPORT.sub(f"from edassets.platforms import {', '.join(modules)}", text, count=1)
    path.write_text(_insert_before_closing(text, f"{name}.SPEC", path), encoding="utf-8")
    return path


def _register_emulator(root: Path, name: str, cls: str) -> Path:
    path = root / "edassets" / "sandbox" / "emulators" / "__init__.py"
    head, anchor, tail = path.read_text(encoding="utf-8").partition("\nEMULATORS: dict[")
    if not anchor:
        raise ScaffoldError(f"{path} no longer defines EMULATORS: register by hand")
    text = head.rstrip("\n") + "\n" + _EMULATOR_IMPORT.format(name=name, cls=cls) + anchor + tail
    path.write_text(_insert_before_closing(text, cls, path), encoding="utf-8")
    return path


def _sort_imports(paths: list[Path]) -> None:
    """Let ruff put the registries' imports back in order (it comes with the dev extra; skipped without it)."""
    subprocess.run([sys.executable, "-m", "ruff", "check", "--quiet", "--fix", "--select", "I", *map(str, paths)],
                   capture_output=True, check=False)


def _write_snapshot(root: Path, name: str) -> Path:
    """The platform's asset graph, computed by a fresh interpreter that sees the new registry."""
    path = root / "tests" / "snapshots" / "asset_graph" / f"{name}.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    # The checkout first on the path: the interpreter must import the package just edited.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (str(root), os.environ.get("PYTHONPATH"))))}
    done = subprocess.run([sys.executable, "-c", _SNAPSHOT_SCRIPT, name, str(path)], capture_output=True, text=True,
                          cwd=root, env=env, check=False)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise ScaffoldError(f"the new platform's definitions do not load: {last}")
    return path

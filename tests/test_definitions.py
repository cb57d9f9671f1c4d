"""The Definitions the UI loads: they validate, the graph is reviewed, the webserver shows it."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from edassets.definitions import asset_graph_lines, build_definitions
from edassets.platforms import PLATFORMS
from tests.assets.conftest import make_settings

REPO = Path(__file__).resolve().parents[1]
SNAPSHOTS = Path(__file__).parent / "snapshots" / "asset_graph"
DAGSTER_BIN = Path(sys.executable).parent


def _graph_lines(tmp_path: Path) -> list[str]:
    definitions = build_definitions(make_settings(tmp_path))
    return [line for platform in PLATFORMS for line in asset_graph_lines(definitions, platform)]


@pytest.mark.parametrize("platform", sorted(PLATFORMS))
def test_asset_graph_matches_the_reviewed_snapshot(tmp_path: Path, platform: str) -> None:
    """Adding a platform or feed shows up as a reviewable diff of tests/snapshots/asset_graph/<platform>.txt."""
    lines = asset_graph_lines(build_definitions(make_settings(tmp_path)), platform)
    snapshot = SNAPSHOTS / f"{platform}.txt"
    if os.environ.get("EDASSETS_UPDATE_SNAPSHOT"):
        snapshot.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert snapshot.exists(), f"{snapshot} is missing: review the graph and rerun with EDASSETS_UPDATE_SNAPSHOT=1"
    assert lines == snapshot.read_text(encoding="utf-8").splitlines(), (
        "asset graph changed: review it and rerun with EDASSETS_UPDATE_SNAPSHOT=1 to accept"
    )


def test_every_snapshot_is_a_registered_platform() -> None:
    assert {path.stem for path in SNAPSHOTS.glob("*.txt")} == set(PLATFORMS)


def test_every_platform_feed_has_four_stages_and_two_checks(tmp_path: Path) -> None:
    lines = _graph_lines(tmp_path)
    for spec in PLATFORMS.values():
        for feed in spec.feeds:
            for stage in ("raw", "parsed", "validated", "loaded"):
                assert any(line.startswith(f"{spec.name}/{stage}/{feed.name} ") for line in lines)
            checks = [line for line in lines if line.startswith(f"check {spec.name}/validated/{feed.name}:")]
            assert len(checks) == 2


def test_dagster_definitions_validate_passes(tmp_path: Path) -> None:
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path), "EDASSETS_HOME": str(tmp_path / "edassets")}
    completed = subprocess.run(
        [str(DAGSTER_BIN / "dagster"), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _graphql(port: int, query: str) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


@pytest.fixture
def webserver(tmp_path: Path):
    port = _free_port()
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path), "EDASSETS_HOME": str(tmp_path / "edassets")}
    process = subprocess.Popen(
        [str(DAGSTER_BIN / "dagster-webserver"), "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    try:
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=2):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"dagster-webserver did not start: {process.stderr.read().decode()[-2000:]}") from None
                time.sleep(0.3)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_webserver_loads_the_definitions_and_serves_the_asset_graph(webserver: int, tmp_path: Path) -> None:
    answer = _graphql(webserver, "{ assetNodes { assetKey { path } groupName dependencyKeys { path } } }")

    nodes = answer["data"]["assetNodes"]
    served = {"/".join(node["assetKey"]["path"]) for node in nodes}
    expected = {line.split(" [")[0] for line in _graph_lines(tmp_path) if not line.startswith("check ")}
    assert served == expected
    enrollments = next(n for n in nodes if n["assetKey"]["path"] == ["oneroster_csv", "loaded", "enrollments"])
    assert {"/".join(d["path"]) for d in enrollments["dependencyKeys"]} >= {
        "oneroster_csv/validated/enrollments", "oneroster_csv/loaded/classes", "oneroster_csv/loaded/persons",
    }

"""resolve_sync_mode: what a drop's own OneRoster manifest says about each feed's file."""

from dataclasses import replace

import pytest

from edassets.adapters.file_drop import DropError, collect_files, select_drop
from edassets.adapters.manifest import resolve_sync_mode
from edassets.adapters.spec import SyncMode
from edassets.handoffs import ReceivedFile
from edassets.platforms import nwea_map, oneroster_csv
from tests.shared_fixtures import shared_fixture

ONEROSTER = oneroster_csv.SPEC
PERSONS = ONEROSTER.feed("persons")
USERS = ReceivedFile("users.csv", b"sourcedId\nu1\n")


def _manifest(*rows: str) -> ReceivedFile:
    return ReceivedFile("manifest.csv", ("propertyName,value\n" + "\n".join(rows) + "\n").encode())


def _files(*files: ReceivedFile) -> dict[str, list[ReceivedFile]]:
    return {f.name.lower(): [f] for f in files}


@pytest.mark.parametrize(
    ("declared", "expected"),
    [("bulk", "snapshot"), ("delta", "incremental"), (" BULK ", "snapshot"), ("Delta", "incremental"), ("", "incremental")],
)
def test_manifest_mode_of_a_present_file(declared: str, expected: SyncMode) -> None:
    files = _files(USERS, _manifest("manifest.version,1.0", f"file.users,{declared}", "file.orgs,absent"))

    assert resolve_sync_mode(ONEROSTER, PERSONS, files) == expected


def test_manifest_absent() -> None:
    files = _files(_manifest("file.users,absent"))

    assert resolve_sync_mode(ONEROSTER, PERSONS, files) == "absent"


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        pytest.param(_files(USERS), "incremental", id="no-manifest"),
        pytest.param(_files(), "absent", id="no-manifest-no-file"),
        pytest.param(_files(USERS, _manifest("file.orgs,bulk")), "incremental", id="manifest-silent-on-the-file"),
        pytest.param(_files(_manifest("file.orgs,bulk")), "absent", id="manifest-silent-no-file"),
    ],
)
def test_without_a_declaration_a_present_file_is_a_delta(files: dict[str, ReceivedFile], expected: SyncMode) -> None:
    assert resolve_sync_mode(ONEROSTER, PERSONS, files) == expected


@pytest.mark.parametrize(
    ("files", "message"),
    [
        pytest.param(_files(_manifest("file.users,bulk")), "declares users as bulk but the drop has no users.csv",
                     id="bulk-but-missing"),
        pytest.param(_files(USERS, _manifest("file.users,full")), "declares users as 'full'", id="unknown-mode"),
        pytest.param(_files(USERS, ReceivedFile("manifest.csv", b"propertyName\nfile.users\n")), "two columns",
                     id="one-column-manifest"),
    ],
)
def test_manifest_errors(files: dict[str, ReceivedFile], message: str) -> None:
    with pytest.raises(DropError, match=message):
        resolve_sync_mode(ONEROSTER, PERSONS, files)


def test_events_feed_ignores_manifests() -> None:
    platform = replace(nwea_map.SPEC, manifest=ONEROSTER.manifest)
    files = _files(ReceivedFile("AssessmentResults.csv", b"StudentID\n1\n"), _manifest("file.AssessmentResults,absent"))

    assert resolve_sync_mode(platform, nwea_map.ASSESSMENT_RESULTS, files) == "events"


def test_events_feed_without_its_file_is_a_drop_error() -> None:
    files = _files(ReceivedFile("StudentsBySchool.csv", b"StudentID\n1\n"))

    with pytest.raises(DropError, match="AssessmentResults.csv is not in the drop"):
        resolve_sync_mode(nwea_map.SPEC, nwea_map.ASSESSMENT_RESULTS, files)


def test_optional_feed_without_its_file_is_absent() -> None:
    optional = replace(nwea_map.ASSESSMENT_RESULTS, optional=True)

    assert resolve_sync_mode(nwea_map.SPEC, optional, {}) == "absent"


def test_real_grand_bend_manifest_declares_every_feed_bulk() -> None:
    files, containers = collect_files([shared_fixture("oneroster_csv/v1p1_edfi_lmstoolkit_grandbend")])
    drop = select_drop(files, containers, ONEROSTER)

    modes = {feed.name: resolve_sync_mode(ONEROSTER, feed, drop.by_role()) for feed in ONEROSTER.feeds}

    assert set(modes.values()) == {"snapshot"}
    assert len(modes) == 8

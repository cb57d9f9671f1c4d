"""collect_files / select_drop: folders, single files, zips, and picking the files a feed reads."""

import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from edassets.adapters.file_drop import DropError, ReceivedFile, collect_files, select_drop
from edassets.platforms import nwea_map
from tests.shared_fixtures import shared_fixture

USERS = b"sourcedId,role\nu1,student\n"
ORGS = b"sourcedId,type\no1,school\n"
RESULTS_EXPORT = b"\xef\xbb\xbfTermName,StudentID,TestRITScore,TestName\r\nFall 2021-2022,S1,200,T\r\n"
STUDENTS_EXPORT = b"TermName,StudentID,Grade,StudentDateOfBirth\nFall 2021-2022,S1,5,01/02/2012\n"


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as bundle:
        for name, data in members.items():
            bundle.writestr(name, data)
    return path


def _folder(tmp_path: Path) -> list[Path]:
    drop = tmp_path / "drop"
    (drop / "nested").mkdir(parents=True)
    (drop / "users.csv").write_bytes(USERS)
    (drop / "orgs.csv").write_bytes(ORGS)
    (drop / ".DS_Store").write_bytes(b"\0")
    (drop / "nested" / "ignored.csv").write_bytes(b"x\n1\n")
    return [drop]


def _single_file(tmp_path: Path) -> list[Path]:
    path = tmp_path / "users.csv"
    path.write_bytes(USERS)
    return [path]


def _flat_zip(tmp_path: Path) -> list[Path]:
    return [_zip(tmp_path / "bundle.zip", {"users.csv": USERS, "orgs.csv": ORGS})]


def _wrapped_zip(tmp_path: Path) -> list[Path]:
    members = {"export/": b"", "export/users.csv": USERS, "export/orgs.csv": ORGS, "__MACOSX/export/._users.csv": b"\0"}
    return [_zip(tmp_path / "Bundle.ZIP", members)]


def _zip_in_folder(tmp_path: Path) -> list[Path]:
    drop = tmp_path / "drop"
    drop.mkdir()
    _zip(drop / "bundle.zip", {"users.csv": USERS})
    (drop / "orgs.csv").write_bytes(ORGS)
    return [drop]


@pytest.mark.parametrize(
    ("layout", "expected_files", "expected_containers"),
    [
        pytest.param(_folder, [("orgs.csv", ORGS, None), ("users.csv", USERS, None)], [], id="folder"),
        pytest.param(_single_file, [("users.csv", USERS, None)], [], id="single-file"),
        pytest.param(_flat_zip, [("users.csv", USERS, "bundle.zip"), ("orgs.csv", ORGS, "bundle.zip")], ["bundle.zip"],
                     id="flat-zip"),
        pytest.param(_wrapped_zip, [("users.csv", USERS, "Bundle.ZIP"), ("orgs.csv", ORGS, "Bundle.ZIP")],
                     ["Bundle.ZIP"], id="zip-with-wrapping-folder"),
        pytest.param(_zip_in_folder, [("users.csv", USERS, "bundle.zip"), ("orgs.csv", ORGS, None)], ["bundle.zip"],
                     id="zip-inside-folder"),
    ],
)
def test_collect_files(
    tmp_path: Path,
    layout: Callable[[Path], list[Path]],
    expected_files: list[tuple[str, bytes, str | None]],
    expected_containers: list[str],
) -> None:
    paths = layout(tmp_path)

    files, containers = collect_files(paths)

    assert [(f.name, f.data, f.container) for f in files] == expected_files
    assert [c.name for c in containers] == expected_containers
    for container in containers:
        # The zip itself is kept byte for byte, so nothing received is lost.
        assert container.data == next(tmp_path.rglob(container.name)).read_bytes()


def test_missing_path_is_a_drop_error(tmp_path: Path) -> None:
    with pytest.raises(DropError, match="does not exist"):
        collect_files([tmp_path / "nope.zip"])


def test_corrupt_zip_is_a_drop_error(tmp_path: Path) -> None:
    corrupt = tmp_path / "bundle.zip"
    corrupt.write_bytes(b"PK\x03\x04 this is not really a zip")

    with pytest.raises(DropError, match="bundle.zip is not a readable zip file"):
        collect_files([corrupt])


def test_sha256_of_received_bytes() -> None:
    assert ReceivedFile("a.csv", b"abc").sha256 == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_select_drop_is_case_insensitive_and_reports_missing() -> None:
    files = [ReceivedFile("Users.CSV", USERS), ReceivedFile("orgs.csv", ORGS), ReceivedFile("notes.csv", b"x\n")]

    drop = select_drop(files, [], ["users.csv", "ORGS.csv", "roles.csv", "users.csv"])

    assert dict(drop.roles) == {"users.csv": "Users.CSV", "orgs.csv": "orgs.csv"}
    assert [f.name for f in drop.files] == ["Users.CSV", "orgs.csv"]
    assert drop.missing == ("roles.csv",)
    assert {role: f.data for role, f in drop.by_name().items()} == {"users.csv": USERS, "orgs.csv": ORGS}


def test_select_drop_keeps_only_the_containers_used() -> None:
    used = ReceivedFile("roster.zip", b"zip-1")
    unused = ReceivedFile("photos.zip", b"zip-2")
    files = [ReceivedFile("users.csv", USERS, container="roster.zip"), ReceivedFile("me.jpg", b"", container="photos.zip")]

    drop = select_drop(files, [used, unused], ["users.csv"])

    assert drop.containers == (used,)


def test_select_drop_finds_renamed_files_by_header_signature() -> None:
    files = [
        ReceivedFile("notes.csv", b"TermName,StudentID\n"),
        ReceivedFile("Fall results.txt", RESULTS_EXPORT),
        ReceivedFile("Fall results.csv", RESULTS_EXPORT, container="export.zip"),
        ReceivedFile("roster export.csv", STUDENTS_EXPORT),
    ]

    drop = select_drop(files, [ReceivedFile("export.zip", b"zip")], nwea_map.ASSESSMENT_RESULTS.files,
                       nwea_map.SPEC.file_signatures)

    assert dict(drop.roles) == {"assessmentresults.csv": "Fall results.csv", "studentsbyschool.csv": "roster export.csv"}
    assert drop.missing == ()
    assert [c.name for c in drop.containers] == ["export.zip"]


def test_a_file_is_not_given_two_roles() -> None:
    combined = b"TermName,StudentID,TestRITScore,Grade,StudentDateOfBirth\n"

    drop = select_drop([ReceivedFile("combo.csv", combined)], [], nwea_map.ASSESSMENT_RESULTS.files,
                       nwea_map.SPEC.file_signatures)

    assert dict(drop.roles) == {"assessmentresults.csv": "combo.csv"}
    assert drop.missing == ("studentsbyschool.csv",)


def test_real_nwea_sample_is_picked_as_assessment_results() -> None:
    sample = shared_fixture("assessment_vendor_exports/MAP_Growth/sample_anonymized_file.csv")
    files, containers = collect_files([sample])

    drop = select_drop(files, containers, nwea_map.ASSESSMENT_RESULTS.files, nwea_map.SPEC.file_signatures)

    assert dict(drop.roles) == {"assessmentresults.csv": "sample_anonymized_file.csv"}
    assert drop.by_name()["assessmentresults.csv"].data == sample.read_bytes()
    assert drop.missing == ("studentsbyschool.csv",)

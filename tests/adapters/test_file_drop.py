"""collect_files / select_drop: folders, single files, zips, and picking the files a feed reads."""

import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from edassets.adapters.file_drop import DropError, DropLimits, collect_files, read_drop, select_drop
from edassets.adapters.sources import Files
from edassets.adapters.spec import FeedSpec, PlatformSpec, col
from edassets.handoffs import ReceivedFile
from edassets.platforms import nwea_map, oneroster_csv
from edassets.schema import entities as e
from tests.shared_fixtures import shared_fixture

USERS = b"sourcedId,role\nu1,student\n"
ORGS = b"sourcedId,type\no1,school\n"
RESULTS_EXPORT = b"\xef\xbb\xbfTermName,StudentID,TestRITScore,TestName\r\nFall 2021-2022,S1,200,T\r\n"
STUDENTS_EXPORT = b"TermName,StudentID,Grade,StudentDateOfBirth\nFall 2021-2022,S1,5,01/02/2012\n"


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
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
        # Hidden files are received too: the drop's inventory says why they are not read.
        pytest.param(_folder, [(".DS_Store", b"\0", None), ("orgs.csv", ORGS, None), ("users.csv", USERS, None)], [],
                     id="folder"),
        pytest.param(_single_file, [("users.csv", USERS, None)], [], id="single-file"),
        pytest.param(_flat_zip, [("users.csv", USERS, "bundle.zip"), ("orgs.csv", ORGS, "bundle.zip")], ["bundle.zip"],
                     id="flat-zip"),
        pytest.param(_wrapped_zip, [("users.csv", USERS, "Bundle.ZIP"), ("orgs.csv", ORGS, "Bundle.ZIP"),
                                    ("._users.csv", b"\0", "Bundle.ZIP")],
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

    drop = select_drop(files, [], oneroster_csv.SPEC, oneroster_csv.SPEC.feed("persons"))

    assert dict(drop.roles) == {"users.csv": ("Users.CSV",)}
    assert [f.name for f in drop.files] == ["Users.CSV"]
    assert drop.missing == ("demographics.csv", "roles.csv", "manifest.csv")
    assert {role: [f.data for f in found] for role, found in drop.by_role().items()} == {"users.csv": [USERS]}


def test_every_file_of_the_drop_gets_an_outcome() -> None:
    files = [ReceivedFile("users.csv", USERS), ReceivedFile("orgs.csv", ORGS), ReceivedFile("notes.txt", b"hello"),
             ReceivedFile("copy of users.csv", USERS), ReceivedFile(".DS_Store", b"\0")]

    drop = select_drop(files, [], oneroster_csv.SPEC, oneroster_csv.SPEC.feed("courses"))

    outcomes = {f.name: (f.read_by, f.reason) for f in drop.inventory}
    assert outcomes["users.csv"] == (("persons", "person_identifiers"), "")
    assert outcomes["orgs.csv"] == (("districts", "schools"), "")
    assert outcomes["notes.txt"][1].startswith("not a file OneRoster CSV reads")
    assert outcomes["copy of users.csv"][1] == "identical to users.csv (same sha256); read once"
    assert outcomes[".DS_Store"][1] == "hidden or operating-system metadata file"
    # The courses feed reads none of them, but every file is accounted for and travels to the archive.
    assert drop.files == () and drop.missing == ("courses.csv", "manifest.csv")
    assert {f.name for f in drop.ignored_files} == {"notes.txt", "copy of users.csv", ".DS_Store"}
    assert drop.file_imbalance() is None


def test_a_drop_of_another_standard_is_refused_with_one_line() -> None:
    with pytest.raises(DropError, match="none of the 2 files is a NWEA MAP Growth file .*another platform"):
        select_drop([ReceivedFile("users.csv", USERS), ReceivedFile("orgs.csv", ORGS)], [], nwea_map.SPEC)


def test_an_empty_drop_is_refused() -> None:
    with pytest.raises(DropError, match="holds no files"):
        select_drop([], [], nwea_map.SPEC)


def test_every_containers_is_kept() -> None:
    used = ReceivedFile("roster.zip", b"zip-1")
    unused = ReceivedFile("photos.zip", b"zip-2")
    files = [ReceivedFile("users.csv", USERS, container="roster.zip"), ReceivedFile("me.jpg", b"", container="photos.zip")]

    drop = select_drop(files, [used, unused], oneroster_csv.SPEC, oneroster_csv.SPEC.feed("persons"))

    assert drop.containers == (used, unused)
    assert [f.name for f in drop.ignored_files] == ["me.jpg"]


def test_select_drop_finds_renamed_files_by_header_signature() -> None:
    files = [
        ReceivedFile("notes.csv", b"TermName,StudentID\n"),
        ReceivedFile("Fall results.txt", RESULTS_EXPORT),
        ReceivedFile("Fall results.csv", RESULTS_EXPORT, container="export.zip"),
        ReceivedFile("roster export.csv", STUDENTS_EXPORT),
    ]

    drop = select_drop(files, [ReceivedFile("export.zip", b"zip")], nwea_map.SPEC, nwea_map.ASSESSMENT_RESULTS)

    assert drop.roles == {"assessmentresults.csv": ("Fall results.csv",), "studentsbyschool.csv": ("roster export.csv",)}
    assert drop.missing == ()
    # Same bytes as the .csv: read once, the copy is accounted as identical.
    assert {f.name: f.reason for f in drop.inventory if f.ignored}["Fall results.txt"].startswith("identical to")


def test_every_students_by_school_file_of_a_drop_is_read() -> None:
    winter = STUDENTS_EXPORT.replace(b"Fall", b"Winter")
    files = [ReceivedFile("AssessmentResults.csv", RESULTS_EXPORT), ReceivedFile("StudentsBySchool.csv", STUDENTS_EXPORT),
             ReceivedFile("StudentsBySchool winter.csv", winter)]

    drop = select_drop(files, [], nwea_map.SPEC, nwea_map.ASSESSMENT_RESULTS)

    assert drop.roles["studentsbyschool.csv"] == ("StudentsBySchool.csv", "StudentsBySchool winter.csv")
    assert not [f for f in drop.inventory if f.ignored]


def test_same_names_in_two_folders_of_a_zip_stay_distinct(tmp_path: Path) -> None:
    winter = STUDENTS_EXPORT.replace(b"Fall", b"Winter")
    bundle = _zip(tmp_path / "map.zip", {"fall/StudentsBySchool.csv": STUDENTS_EXPORT,
                                         "winter/StudentsBySchool.csv": winter, "AssessmentResults.csv": RESULTS_EXPORT})

    files, containers = collect_files([bundle])
    drop = select_drop(files, containers, nwea_map.SPEC, nwea_map.ASSESSMENT_RESULTS)

    assert drop.roles["studentsbyschool.csv"] == ("map.zip/fall/StudentsBySchool.csv", "map.zip/winter/StudentsBySchool.csv")


def test_a_file_is_not_given_two_roles() -> None:
    combined = b"TermName,StudentID,TestRITScore,Grade,StudentDateOfBirth\n"

    drop = select_drop([ReceivedFile("combo.csv", combined)], [], nwea_map.SPEC, nwea_map.ASSESSMENT_RESULTS)

    assert dict(drop.roles) == {"assessmentresults.csv": ("combo.csv",)}
    assert drop.missing == ("studentsbyschool.csv",)


def test_decompressed_size_and_file_count_are_capped(tmp_path: Path) -> None:
    bomb = _zip(tmp_path / "bomb.zip", {"users.csv": b"sourcedId\n" + b"0" * 5_000_000})
    assert bomb.stat().st_size < 50_000

    with pytest.raises(DropError, match="expands to more than 1,000,000 bytes .* refused"):
        collect_files([bomb], DropLimits(max_bytes=1_000_000))
    many = _zip(tmp_path / "many.zip", {f"f{i}.csv": b"a\n" for i in range(20)})
    with pytest.raises(DropError, match="more than 10 files"):
        collect_files([many], DropLimits(max_files=10))


def test_real_nwea_sample_is_picked_as_assessment_results() -> None:
    sample = shared_fixture("assessment_vendor_exports/MAP_Growth/sample_anonymized_file.csv")
    files, containers = collect_files([sample])

    drop = select_drop(files, containers, nwea_map.SPEC, nwea_map.ASSESSMENT_RESULTS)

    assert dict(drop.roles) == {"assessmentresults.csv": ("sample_anonymized_file.csv",)}
    assert drop.by_role()["assessmentresults.csv"][0].data == sample.read_bytes()
    assert drop.missing == ("studentsbyschool.csv",)


def test_read_drop_selects_what_collect_then_select_would_reading_only_that(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    bundle = _zip(tmp_path / "bundle.zip", {"users.csv": USERS, "orgs.csv": ORGS, "orgs copy.csv": ORGS,
                                            "classes.csv": b"sourcedId,title\nc1,Grade 5 Math\n", "readme.txt": b"by hand"})
    feed = oneroster_csv.SPEC.feed("persons")
    opened: list[str] = []
    real_open = zipfile.ZipFile.open

    def counting_open(self: zipfile.ZipFile, name: object, *args: object, **kwargs: object):  # noqa: ANN202
        opened.append(getattr(name, "filename", name))
        return real_open(self, name, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "open", counting_open)
    lazy = read_drop([bundle], oneroster_csv.SPEC, feed)
    monkeypatch.undo()
    eager = select_drop(*collect_files([bundle]), oneroster_csv.SPEC, feed)

    assert lazy == eager
    # Every member's header is read once; whole contents only for users.csv (this feed), the
    # two same-size orgs files (compared by digest) and readme.txt (ignored, so archived).
    whole = [name for name in opened if opened.count(name) > 1]
    assert sorted(set(whole)) == ["orgs copy.csv", "orgs.csv", "readme.txt", "users.csv"]
    assert opened.count("classes.csv") == 1  # another feed's file: listed and inventoried, never decompressed


def test_a_member_whose_bytes_do_not_match_its_crc_is_a_drop_error(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle.zip"
    with zipfile.ZipFile(bundle, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr("users.csv", USERS + b"u2,student\n" * 10_000 + b"u3,teacher\n")
    data = bundle.read_bytes()
    # Flip one byte past the header the listing reads: listing works, decompressing does not.
    at = data.index(b"u3,teacher")
    bundle.write_bytes(data[:at] + b"x" + data[at + 1:])

    with pytest.raises(DropError, match=r"bundle.zip/users.csv cannot be unzipped \(Bad CRC-32"):
        read_drop([bundle], oneroster_csv.SPEC, oneroster_csv.SPEC.feed("persons"))


def _subject_platform() -> PlatformSpec:
    """Two exports laid out alike, one per subject, each also known by an older name."""
    header = ("StudentID", "Score")

    def feed(name: str, file: str) -> FeedSpec:
        return FeedSpec(name=name, entity=e.COURSE, description="test", fields=({"course_id": col("StudentID")},),
                        source=Files(file, signature=header, aliases=(file.replace("_v2", "_v1"), file.replace("_v2", ""))))

    return PlatformSpec(name="test", title="Test", description="test",
                        feeds=(feed("reading", "READ_v2.csv"), feed("math", "MATH_v2.csv")))


def test_a_file_under_an_alias_plays_its_role_and_a_header_that_fits_two_alike_is_not_guessed() -> None:
    spec = _subject_platform()
    export = b"StudentID,Score\nS1,500\n"
    files = [ReceivedFile("read_v1.csv", export), ReceivedFile("MATH.csv", export + b"S2,600\n"),
             ReceivedFile("fall scores.csv", export + b"S3,700\n")]

    drop = select_drop(files, [], spec)

    assert dict(drop.roles) == {"read_v2.csv": ("read_v1.csv",), "math_v2.csv": ("MATH.csv",)}
    assert {f.name: f.reason for f in drop.inventory if f.ignored} == {
        "fall scores.csv": "renamed, and its header fits math_v2.csv, read_v2.csv alike; hand it over under its export name"}

"""The conservation ledger through the real jobs: every record and file gets one outcome.

Each test reproduces a pattern real vendor files showed (synthetic bytes written here,
not copies of anyone's files) and runs it through Dagster; the `run` fixture also proves
every feed's ledger balances.
"""

from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from edassets.runs import ImportOutcome

ORGS = ("sourcedId,status,dateLastModified,name,type,identifier,parentSourcedId\n"
        "D1,,,Test District,district,,\nS1,,,Test School,school,,D1\n")
SESSIONS = ("sourcedId,status,dateLastModified,title,type,startDate,endDate,parentSourcedId,schoolYear\n"
            "Y1,,,2025-2026,schoolYear,2025-08-15,2026-06-10,,2026\n")
COURSES = "sourcedId,status,dateLastModified,schoolYearSourcedId,title,courseCode,grades,orgSourcedId,subjects\n"
CLASSES = ("sourcedId,status,dateLastModified,title,grades,courseSourcedId,classCode,classType,location,"
           "schoolSourcedId,termSourcedIds,subjects\n")
ENROLLMENTS = ("sourcedId,status,dateLastModified,classSourcedId,schoolSourcedId,userSourcedId,role,primary,"
               "beginDate,endDate\n")
USERS_HEADER = ("sourcedId,status,dateLastModified,enabledUser,orgSourcedIds,role,username,userIds,givenName,"
                "familyName,middleName,identifier,email,sms,phone,agentSourcedIds,grades,password\n")


def _user(n: int, status: str = "", role: str = "student") -> str:
    return f"U{n},{status},,true,S1,{role},user{n},,Given{n},Family{n},,{1000 + n},u{n}@example.org,,,,05,\n"


def _bundle(folder: Path, users: str, *, manifest: str = "bulk", **overrides: bytes) -> Path:
    folder.mkdir(parents=True)
    files = {"orgs.csv": ORGS, "academicSessions.csv": SESSIONS, "courses.csv": COURSES, "classes.csv": CLASSES,
             "enrollments.csv": ENROLLMENTS, "users.csv": users}
    mode = {name.rsplit(".", 1)[0]: manifest for name in files}
    manifest_rows = ["propertyName,value", "manifest.version,1.0", "oneroster.version,1.1"]
    manifest_rows += [f"file.{stem},{declared}" for stem, declared in mode.items()]
    files["manifest.csv"] = "\n".join(manifest_rows) + "\n"
    for name, text in files.items():
        (folder / name).write_bytes(overrides.get(name, text.encode()))
    return folder


def _feed(outcome: ImportOutcome, name: str):  # noqa: ANN202 - a FeedSummary
    return {f.feed: f for f in outcome.feeds}[name]


def test_exact_duplicate_rows_are_named_not_vanished(run, tmp_path: Path) -> None:
    users = USERS_HEADER + _user(1) + _user(2) + _user(1) + _user(3) + _user(1)

    outcome = run("oneroster_csv", [_bundle(tmp_path / "b", users)], "dupes")

    persons = _feed(outcome, "persons")
    assert (persons.received, persons.loaded, persons.ledger.duplicates, persons.quarantined) == (5, 3, 2, 0)
    report = pd.read_csv(persons.report)
    duplicates = report[report["outcome"] == "duplicate"]
    assert duplicates["lineage_record_index"].tolist() == [2, 4]
    assert set(duplicates["rule"]) == {"exact repeat of record 0"}


def test_a_delta_deletion_needs_only_its_key(run, tmp_path: Path) -> None:
    run("oneroster_csv", [_bundle(tmp_path / "first", USERS_HEADER + _user(1) + _user(2))], "delta")
    # The SIS sends the deletion with its key and status only: no role, no name.
    delta = USERS_HEADER + "U2,tobedeleted,2026-03-03,,,,,,,,,,,,,,,\n"

    outcome = run("oneroster_csv", [_bundle(tmp_path / "second", delta, manifest="delta")], "delta", day="2026-03-03")

    persons = _feed(outcome, "persons")
    assert persons.status == "ok", persons.line()
    assert (persons.quarantined, persons.ledger.tombstones, persons.ledger.updated) == (0, 1, 1)


def test_other_org_types_are_not_applicable_to_the_districts_feed_and_say_so(run, tmp_path: Path) -> None:
    outcome = run("oneroster_csv", [_bundle(tmp_path / "b", USERS_HEADER + _user(1))], "orgs")

    districts = _feed(outcome, "districts")
    assert (districts.received, districts.loaded, districts.ledger.not_applicable) == (2, 1, 1)
    report = pd.read_csv(districts.report)
    assert report["outcome"].tolist() == ["not applicable"]
    assert report["rule"].iloc[0] == "type is not district: another feed's record"


def test_files_no_feed_reads_are_archived_and_named(run, settings, tmp_path: Path) -> None:
    folder = _bundle(tmp_path / "b", USERS_HEADER + _user(1))
    (folder / "readme.txt").write_text("exported by hand")

    outcome = run("oneroster_csv", [folder], "extra")

    assert outcome.files.startswith("files: received 8, read 7, ignored 1")
    assert "ignored readme.txt: not a file OneRoster CSV reads" in outcome.files
    from edassets.resources.archive import open_archive

    archived = [k for k in open_archive(settings.archive_url).list("raw/oneroster_csv/extra/") if k.endswith("readme.txt")]
    assert len(archived) == 1


def test_a_drop_of_another_standard_fails_with_its_reason(run, tmp_path: Path) -> None:
    folder = _bundle(tmp_path / "b", USERS_HEADER + _user(1))

    outcome = run("nwea_map", [folder], "wrong")

    assert outcome.failure is not None
    assert "none of the 7 files is a NWEA MAP Growth file" in outcome.failure
    assert {f.status for f in outcome.feeds} == {"failed"}


def test_an_empty_or_header_only_file_is_said(run, tmp_path: Path) -> None:
    folder = _bundle(tmp_path / "b", USERS_HEADER + _user(1), **{"courses.csv": b"", "classes.csv": CLASSES.encode()})

    outcome = run("oneroster_csv", [folder], "empty")

    courses, classes = _feed(outcome, "courses"), _feed(outcome, "classes")
    assert any("empty file (0 bytes, no header)" in note for note in courses.notes)
    assert any("header only, 0 records" in note for note in classes.notes)
    assert "empty file" in courses.line()


def test_the_quarantine_report_cannot_run_formulas(run, tmp_path: Path) -> None:
    users = USERS_HEADER + "".join(_user(n) for n in range(1, 10)) + _user(10).replace(",05,", ",=cmd|' /C calc'!A0,")

    outcome = run("oneroster_csv", [_bundle(tmp_path / "b", users)], "formula")

    report = pd.read_csv(_feed(outcome, "persons").report, dtype=str)
    values = report.loc[report["outcome"] == "quarantined", "value"].tolist()
    assert values == ["'=cmd|' /C calc'!A0"]


def test_feeds_behind_a_blocked_gate_say_they_were_blocked_upstream(run, tmp_path: Path) -> None:
    # Every user has an unknown grade: the persons gate blocks, and enrollments validate against persons.
    users = USERS_HEADER + "".join(_user(n).replace(",05,", ",Grade 99,") for n in range(1, 6))

    outcome = run("oneroster_csv", [_bundle(tmp_path / "b", users)], "blocked")

    persons, enrollments = _feed(outcome, "persons"), _feed(outcome, "enrollments")
    assert persons.status == "BLOCKED by data quality gate"
    assert "quarantined > 20% block threshold" in persons.detail
    assert enrollments.status == "blocked upstream"
    assert enrollments.detail == "persons did not pass its quarantine gate"
    identifiers = _feed(outcome, "person_identifiers")
    assert identifiers.status == "blocked upstream"
    assert (identifiers.received, identifiers.ledger.held_back) == (15, 15)


@pytest.mark.parametrize("warehouse", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_a_record_with_a_nul_byte_is_quarantined_the_same_on_every_warehouse(run, settings, tmp_path: Path,
                                                                              request: pytest.FixtureRequest,
                                                                              warehouse: str) -> None:
    # PostgreSQL text cannot hold NUL: such a row once crashed the whole feed's load there.
    if warehouse == "postgres":
        settings = replace(settings, warehouse_url=request.getfixturevalue("pg_url"))
    users = USERS_HEADER + _user(1).replace("Given1", "Gi\x00ven1") + "".join(_user(n) for n in range(2, 11))

    outcome = run("oneroster_csv", [_bundle(tmp_path / "b", users)], "nul", settings=settings)

    persons = _feed(outcome, "persons")
    assert (persons.received, persons.loaded, persons.quarantined) == (10, 9, 1), persons.line()
    report = pd.read_csv(persons.report)
    assert report.loc[report["outcome"] == "quarantined", "rule"].tolist() == ["NUL byte in record"]

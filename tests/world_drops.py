"""File drops written from the sandbox world, with what a correct import must find in them.

A drop is one district's OneRoster CSV bundle and NWEA MAP export as the sandbox renders
them on the second roster sync. Bulk files leave out the students withdrawn between the
syncs, while MAP, which never deletes, keeps their fall results: those results have no
roster person, so a correct import quarantines them as unmatched.

``bad_record_rate`` adds decoy rows to users.csv, classes.csv and enrollments.csv: copies
of valid rows with one defect each and identities of their own, so nothing valid points
at a decoy and no valid row is quarantined with it. Decoys are scattered among the valid
rows: readers must not rely on row position.
"""

import csv
import io
import uuid
import zipfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from edassets.sandbox.emulators import EMULATORS
from edassets.sandbox.world import DistrictSpec, World, WorldOptions

AS_OF = date(2026, 1, 19)  # the second sync of the default WorldOptions


@dataclass(frozen=True)
class DistrictDrop:
    """Where the files went and what a correct import must find in them.

    Attributes:
        oneroster_dir: manifest.csv and the OneRoster 1.1 tables.
        nwea_dir: AssessmentResults.csv and StudentsBySchool.csv.
        expected: Valid data rows per file name (manifest.csv excluded).
        bad: Rows per file name a correct import quarantines; ``expected[f] + bad[f]`` is
            the file's data row count.
    """

    oneroster_dir: Path
    nwea_dir: Path
    expected: dict[str, int]
    bad: dict[str, int]


def _rows(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"))))


def _copies(frame: pd.DataFrame, rate: float, rng: np.random.Generator) -> tuple[pd.DataFrame, np.ndarray]:
    """Copies of random rows with fresh sourcedIds, and a defect kind (0, 1, 0, …) for each."""
    m = max(2, round(rate * len(frame)))  # two at least, so both defect kinds of a file appear
    copies = frame.iloc[rng.integers(0, len(frame), m)].reset_index(drop=True)
    copies["sourcedId"] = [str(uuid.UUID(bytes=rng.bytes(16), version=4)) for _ in range(m)]
    return copies, np.arange(m) % 2


def _scatter(frame: pd.DataFrame, decoys: pd.DataFrame, rng: np.random.Generator) -> bytes:
    """The file with the decoys at random places among its rows."""
    position = np.r_[np.arange(len(frame), dtype=float), rng.uniform(0, len(frame), len(decoys))]
    table = pd.concat([frame, decoys], ignore_index=True).iloc[np.argsort(position, kind="stable")]
    return table.to_csv(index=False, lineterminator="\n").encode("utf-8")


def _add_decoys(oneroster: dict[str, bytes], rate: float, rng: np.random.Generator) -> dict[str, int]:
    """Add decoys to users, classes and enrollments in place; return how many each file got."""
    users, classes, enrollments = (pd.read_csv(io.BytesIO(oneroster[name]), dtype=str, keep_default_na=False)
                                   for name in ("users.csv", "classes.csv", "enrollments.csv"))

    bad_users, kind = _copies(users[users["role"] == "student"], rate, rng)
    # A decoy is a person of its own: no valid row may share its SIS id, login or e-mail.
    # The world's SIS ids have 6 (students), 7 (staff) or 8 digits (guardians); these have 5.
    sis = [str(10_000 + j) for j in range(len(bad_users))]
    bad_users["identifier"], bad_users["userIds"] = sis, [f"{{SIS:{i}}}" for i in sis]
    bad_users["username"] = [f"decoy.{i}" for i in sis]
    bad_users["email"] = bad_users["username"] + "@example.org"
    bad_users["agentSourcedIds"] = ""
    bad_users.loc[kind == 0, "grades"] = "Grade 14"  # not a CEDS grade code
    bad_users.loc[kind == 1, "sourcedId"] = ""  # no id

    bad_classes, _ = _copies(classes, rate, rng)
    bad_classes["courseSourcedId"] = [f"missing-course-{j}" for j in range(len(bad_classes))]

    bad_enrollments, kind = _copies(enrollments[enrollments["role"] == "student"], rate, rng)
    bad_enrollments["classSourcedId"] = np.where(kind == 0, "missing-class", bad_enrollments["classSourcedId"])
    bad_enrollments["beginDate"] = np.where(kind == 1, "2025-13-45", bad_enrollments["beginDate"])

    added = {"users.csv": (users, bad_users), "classes.csv": (classes, bad_classes),
             "enrollments.csv": (enrollments, bad_enrollments)}
    for name, (frame, decoys) in added.items():
        oneroster[name] = _scatter(frame, decoys, rng)
    return {name: len(decoys) for name, (_, decoys) in added.items()}


def write_district_drop(folder: Path, district_id: str, *, students: int = 500, seed: int = 7,
                        bad_record_rate: float = 0.0) -> DistrictDrop:
    """Render one district of the world and write it to ``folder/oneroster`` and ``folder/nwea``.

    Args:
        folder: Where to write (created).
        district_id: The district's id (also its world seed's second half).
        students: Students in the district (the world's bounds apply).
        seed: The world's seed.
        bad_record_rate: Share of decoy rows added to users, classes and enrollments.

    Returns:
        The folders and the valid and quarantinable row counts per file.
    """
    spec = DistrictSpec(district_id, f"{district_id.title()} School District", students, "oneroster_csv")
    state = World.generate(WorldOptions(districts=(spec,), seed=seed)).state(district_id, AS_OF)
    oneroster, nwea = EMULATORS["oneroster_csv"].render(state), EMULATORS["nwea_map"].render(state)
    tables = {name: _rows(data) for name, data in {**oneroster, **nwea}.items() if name != "manifest.csv"}
    expected = {name: len(rows) for name, rows in tables.items()}
    bad = dict.fromkeys(expected, 0)

    students_sis = {u["identifier"] for u in tables["users.csv"] if u["role"] == "student"}
    for name in ("AssessmentResults.csv", "StudentsBySchool.csv"):
        bad[name] = sum(r["StudentID"] not in students_sis for r in tables[name])
        expected[name] -= bad[name]

    if bad_record_rate:
        bad |= _add_decoys(oneroster, bad_record_rate, np.random.default_rng([seed, 1]))

    for sub, files in (("oneroster", oneroster), ("nwea", nwea)):
        (folder / sub).mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            (folder / sub / name).write_bytes(data)
    return DistrictDrop(folder / "oneroster", folder / "nwea", expected, bad)


def zip_bundle(folder: Path, zip_path: Path) -> Path:
    """Zip the files of a OneRoster folder flat (no sub-folders), as the CSV binding requires."""
    with zipfile.ZipFile(zip_path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for file in sorted(p for p in folder.iterdir() if p.is_file()):
            zf.write(file, file.name)
    return zip_path

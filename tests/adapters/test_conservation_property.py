"""Hypothesis: whatever a CSV drop holds, every record gets exactly one outcome and nothing crashes.

Random drops (encodings, quoting, row lengths, duplicates, NUL bytes, empty files) go
through the real `oneroster_csv` and `nwea_map` specs — select, parse, validate — and the
conservation equation must hold: records written = passed + quarantined + duplicates +
not applicable. The only error allowed is a `DropError` naming the file (undecodable bytes).
"""

import csv
import io
from zoneinfo import ZoneInfo

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edassets.adapters.file_drop import DropError, select_drop
from edassets.adapters.parse import parse_drop
from edassets.adapters.spec import FeedSpec, ParseContext, PlatformSpec
from edassets.checks.validation import validate_batch
from edassets.handoffs import ReceivedFile
from edassets.platforms import nwea_map, oneroster_csv

USER_COLUMNS = ["sourcedId", "status", "role", "givenName", "familyName", "identifier", "email", "grades", "orgSourcedIds"]
RESULT_COLUMNS = ["TermName", "StudentID", "TestName", "Subject", "Course", "TestStartDate", "TestStartTime",
                  "TestRITScore", "TestPercentile", "TestID"]

# A bare CR inside an unquoted value is a line break to every CSV reader: not a value one
# can write (the csv module quotes only what the line terminator holds).
text_cell = st.characters(blacklist_categories=("Cs",), blacklist_characters="\r")
cell = st.one_of(
    st.sampled_from(["", "student", "teacher", "05", "KG", "Grade 99", "2026-01-05", "03/02/2026", "212", "x@y.org",
                     "S1", "Fall 2025-2026", "a,b", 'say "hi"', "line\nbreak", "=cmd|x", "é", "\x00", " "]),
    st.text(alphabet=text_cell, max_size=8),
)


@st.composite
def records(draw: st.DrawFn, columns: list[str]) -> list[list[str]]:
    rows = draw(st.lists(st.lists(cell, min_size=len(columns), max_size=len(columns)), max_size=12))
    out = []
    for row in rows:
        shape = draw(st.sampled_from(["ok", "ok", "ok", "short", "long", "long-empty", "repeat"]))
        if shape == "short":
            row = row[: draw(st.integers(1, len(columns) - 1))]
        elif shape == "long":
            row = [*row, draw(st.text(alphabet=text_cell, min_size=1, max_size=3).filter(str.strip))]
        elif shape == "long-empty":
            row = [*row, ""]
        elif shape == "repeat" and out:
            row = list(out[-1])
        out.append(row)
    return out


def _encode(text: str, encoding: str) -> bytes | None:
    try:
        return text.encode(encoding)
    except UnicodeEncodeError:
        return None


def _csv_bytes(columns: list[str], rows: list[list[str]], encoding: str, line_end: str) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator=line_end, quoting=csv.QUOTE_MINIMAL)
    writer.writerow(columns)
    writer.writerows(rows)
    data = _encode(buffer.getvalue(), encoding)
    return data if data is not None else buffer.getvalue().encode("utf-8")


def _records_written(rows: list[list[str]]) -> int:
    # Every row written is a record: the csv module writes a row of one empty cell as `""`
    # (never a blank line), which the reader sees as a one-field, malformed record.
    return len(rows)


def _accounted(spec: PlatformSpec, feed: FeedSpec, files: list[ReceivedFile], written: int) -> None:
    context = ParseContext(district_id="d1", timezone=ZoneInfo("America/Chicago"), platform=spec.name)
    drop = select_drop(files, [], spec, feed)
    try:
        batch = parse_drop(spec, feed, drop, context=context, run_id="run-1")
    except DropError as error:
        assert str(error).split(" ")[0] in {f.name for f in files}, error  # the one line names the file
        return

    def exists(_: str, __: str | None, ids: pd.Series) -> pd.Series:
        return pd.Series(True, index=ids.index)

    def lookup(ids: pd.Series, _: tuple[str, ...]) -> pd.Series:
        return ids.astype("string[pyarrow]")

    validated = validate_batch(feed, batch, reference_exists=exists, person_lookup=lookup)
    ledger = validated.ledger()
    assert ledger.imbalance() is None, ledger.line()
    assert ledger.received == written, (ledger.line(), written)


ENCODINGS = st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-32", "cp1252"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=records(USER_COLUMNS), encoding=ENCODINGS, line_end=st.sampled_from(["\n", "\r\n"]))
def test_every_oneroster_user_gets_one_outcome(rows: list[list[str]], encoding: str, line_end: str) -> None:
    users = ReceivedFile("users.csv", _csv_bytes(USER_COLUMNS, rows, encoding, line_end))

    _accounted(oneroster_csv.SPEC, oneroster_csv.SPEC.feed("persons"), [users], _records_written(rows))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=records(RESULT_COLUMNS), encoding=ENCODINGS, line_end=st.sampled_from(["\n", "\r\n"]),
       students=st.booleans())
def test_every_map_result_gets_one_outcome(rows: list[list[str]], encoding: str, line_end: str, students: bool) -> None:
    files = [ReceivedFile("AssessmentResults.csv", _csv_bytes(RESULT_COLUMNS, rows, encoding, line_end))]
    if students:
        files.append(ReceivedFile("StudentsBySchool.csv", b"TermName,StudentID,Grade,StudentDateOfBirth\n"
                                                          b"Fall 2025-2026,S1,13,01/02/2020\n"))

    _accounted(nwea_map.SPEC, nwea_map.ASSESSMENT_RESULTS, files, _records_written(rows))


@settings(max_examples=20, deadline=None)
@given(data=st.binary(max_size=200))
def test_arbitrary_bytes_never_crash_the_parse(data: bytes) -> None:
    users = ReceivedFile("users.csv", b"sourcedId,role\n" + data)
    context = ParseContext(district_id="d1", timezone=ZoneInfo("UTC"), platform="oneroster_csv")
    feed = oneroster_csv.SPEC.feed("persons")

    try:
        batch = parse_drop(oneroster_csv.SPEC, feed, select_drop([users], [], oneroster_csv.SPEC, feed),
                           context=context, run_id="run-1")
    except DropError as error:
        assert str(error).startswith("users.csv cannot be read")
    else:
        assert batch.received == len(batch.frame) + int((batch.errors["row"] < 0).sum())

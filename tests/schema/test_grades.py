import pandas as pd
import pytest

from edassets.adapters.transforms import is_present
from edassets.schema.grades import (
    _GRADE_LOOKUP,
    CEDS_GRADE_LEVELS,
    _normalise,
    first_ceds_grade,
    to_ceds_grade,
    to_ceds_grade_list,
)


def _strings(*values: str | None, dtype: str = "string[pyarrow]") -> pd.Series:
    return pd.Series(list(values), dtype=dtype)


def test_ceds_grade_levels_are_the_ceds_code_set() -> None:
    assert CEDS_GRADE_LEVELS == (
        "IT", "PR", "PK", "TK", "KG",
        "01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11", "12", "13",
        "PS", "UG", "Other",
    )  # fmt: skip


@pytest.mark.parametrize("code", CEDS_GRADE_LEVELS)
def test_every_ceds_code_maps_to_itself_in_any_case(code: str) -> None:
    assert to_ceds_grade(_strings(code, code.lower(), code.upper())).tolist() == [code] * 3


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # Kindergarten: Renaissance Star writes 0 or K, Clever "Kindergarten".
        ("K", "KG"),
        ("k", "KG"),
        ("0", "KG"),
        ("00", "KG"),
        ("0.0", "KG"),
        ("KG", "KG"),
        ("Kindergarten", "KG"),
        ("KINDERGARTEN", "KG"),
        ("Grade K", "KG"),
        ("GRK", "KG"),
        ("GR K", "KG"),
        ("uri://ed-fi.org/GradeLevelDescriptor#Kindergarten", "KG"),
        # Pre-kindergarten.
        ("PK", "PK"),
        ("-1", "PK"),
        ("Grade -1", "PK"),
        ("Pre-K", "PK"),
        ("PreK", "PK"),
        ("Pre K", "PK"),
        ("PreKindergarten", "PK"),
        ("Pre-Kindergarten", "PK"),
        ("uri://ed-fi.org/GradeLevelDescriptor#Preschool/Prekindergarten", "PK"),
        # Other early-childhood levels.
        ("TK", "TK"),
        ("Transitional Kindergarten", "TK"),
        ("TransitionalKindergarten", "TK"),
        ("IT", "IT"),
        ("Infant/toddler", "IT"),
        ("InfantToddler", "IT"),
        ("uri://ed-fi.org/GradeLevelDescriptor#Infant/toddler", "IT"),
        ("PR", "PR"),
        ("Preschool", "PR"),
        # Numbered grades.
        ("1", "01"),
        ("01", "01"),
        ("1st", "01"),
        ("First grade", "01"),
        ("2nd Grade", "02"),
        ("3rd", "03"),
        ("5", "05"),
        ("05", "05"),
        ("5.0", "05"),
        ("Grade 5", "05"),
        ("Grade 05", "05"),
        ("grade   5", "05"),
        ("GR05", "05"),
        ("GR5", "05"),
        ("GR 05", "05"),
        ("G5", "05"),
        ("5th", "05"),
        ("5th Grade", "05"),
        ("Fifth grade", "05"),
        ("Fifth", "05"),
        ("FIFTH GRADE", "05"),
        ("uri://ed-fi.org/GradeLevelDescriptor#Fifth grade", "05"),
        ("uri://tx.gov/GradeLevelDescriptor#Fifth grade", "05"),
        ("Eleventh grade", "11"),
        ("12th", "12"),
        ("Twelfth", "12"),
        ("13", "13"),
        ("Grade 13", "13"),
        ("Thirteenth grade", "13"),
        # After and outside the grade sequence.
        ("PS", "PS"),
        ("Postsecondary", "PS"),
        ("PostGraduate", "PS"),
        ("Ungraded", "UG"),
        ("UG", "UG"),
        ("Other", "Other"),
        ("OTHER", "Other"),
        # Whitespace tolerance.
        ("  kg  ", "KG"),
        ("\tGrade\t5 ", "05"),
    ],
)
def test_spelling_maps_to_ceds_code(raw: str, expected: str) -> None:
    assert to_ceds_grade(_strings(raw)).tolist() == [expected]


_ORDINALS = ("First", "Second", "Third", "Fourth", "Fifth", "Sixth", "Seventh", "Eighth", "Ninth",
             "Tenth", "Eleventh", "Twelfth", "Thirteenth")  # fmt: skip


@pytest.mark.parametrize(("grade", "ordinal"), list(enumerate(_ORDINALS, start=1)))
def test_every_grade_number_spelling(grade: int, ordinal: str) -> None:
    suffix = {1: "st", 2: "nd", 3: "rd"}.get(grade, "th")
    spellings = [
        str(grade), f"{grade:02d}", f"{grade}.0", f"Grade {grade}", f"Grade {grade:02d}", f"GR{grade:02d}",
        f"GR{grade}", f"G{grade}", f"{grade}{suffix}", f"{grade}{suffix} Grade", ordinal, f"{ordinal} grade",
        f"uri://ed-fi.org/GradeLevelDescriptor#{ordinal} grade",
    ]  # fmt: skip
    assert to_ceds_grade(_strings(*spellings)).tolist() == [f"{grade:02d}"] * len(spellings)


@pytest.mark.parametrize(
    "raw",
    ["Grade 14", "14", "4.05", "5.5", "Early 3", "banana", "P", "-2", "1 3", "Adult Education", "Grade"],
)
def test_unknown_spelling_is_na_and_counted_as_failure(raw: str) -> None:
    values = _strings(raw)
    result = to_ceds_grade(values)
    assert result.isna().all()
    assert (is_present(values) & result.isna()).tolist() == [True]


def test_blanks_stay_na_and_are_not_failures() -> None:
    values = _strings(None, "", "   ", "5")
    result = to_ceds_grade(values)
    assert result.tolist()[:3] == [pd.NA] * 3
    assert not (is_present(values) & result.isna()).any()


@pytest.mark.parametrize("dtype", ["string[pyarrow]", "str", "object"])
def test_result_is_arrow_string_with_same_index(dtype: str) -> None:
    values = pd.Series(["K", None, "5", "K"], index=[7, 7, 2, 9], dtype=dtype, name="grade")
    result = to_ceds_grade(values)
    assert result.dtype == "string[pyarrow]"
    assert result.index.equals(values.index)
    assert result.name == "grade"
    assert result.tolist() == ["KG", pd.NA, "05", "KG"]


def test_empty_series() -> None:
    result = to_ceds_grade(_strings())
    assert result.empty
    assert result.dtype == "string[pyarrow]"


def test_lookup_keys_are_already_normalised_and_codes_canonical() -> None:
    keys = pd.Series(list(_GRADE_LOOKUP), dtype="string[pyarrow]")
    assert _normalise(keys).tolist() == keys.tolist()
    assert set(_GRADE_LOOKUP.values()) == set(CEDS_GRADE_LEVELS)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("09,10", "09,10"),
        ("KG, 01", "KG,01"),
        (" K , 1 ,2 ", "KG,01,02"),
        ("Grade 5", "05"),
        ("PK,KG,1,2,3,4,5", "PK,KG,01,02,03,04,05"),
        ("9,,10,", "09,10"),
        ("09,banana", pd.NA),
        ("Grade 14,09", pd.NA),
        ("", pd.NA),
        (" , ", pd.NA),
        (None, pd.NA),
    ],
)
def test_grade_list(raw: str | None, expected: object) -> None:
    assert to_ceds_grade_list(_strings(raw)).tolist() == [expected]


def test_grade_list_reports_only_cells_with_an_unknown_element() -> None:
    values = pd.Series(["09,10", "09,banana", None, "09,10", " "], index=[4, 4, 0, 1, 9], dtype="str")
    result = to_ceds_grade_list(values)
    assert result.dtype == "string[pyarrow]"
    assert result.index.equals(values.index)
    assert result.tolist() == ["09,10", pd.NA, pd.NA, "09,10", pd.NA]
    assert (is_present(values) & result.isna()).tolist() == [False, True, False, False, False]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("05,06", "05"), ("Grade 5", "05"), (" ,KG, 01", "KG"), ("banana,05", pd.NA), ("05,banana", "05"), (None, pd.NA)],
)
def test_first_ceds_grade(raw: str | None, expected: object) -> None:
    assert first_ceds_grade(_strings(raw)).tolist() == [expected]


def test_first_ceds_grade_keeps_index_and_dtype() -> None:
    values = pd.Series(["K,1", "2"], index=["a", "b"])
    result = first_ceds_grade(values)
    assert result.dtype == "string[pyarrow]"
    assert result.index.equals(values.index)
    assert result.tolist() == ["KG", "02"]

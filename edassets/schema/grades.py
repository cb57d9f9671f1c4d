"""The canonical grade levels (CEDS codes) and the crosswalk from vendor spellings to them.

Every source spells grades its own way: Renaissance Star writes ``0`` or ``K`` for
kindergarten, Clever writes ``Kindergarten`` and ``PreKindergarten``, integer SIS grade
columns use ``-1`` for pre-kindergarten, Ed-Fi sends descriptor URIs such as
``uri://ed-fi.org/GradeLevelDescriptor#Fifth grade`` and OneRoster already uses the CEDS
codes. The warehouse stores only the CEDS codes of `CEDS_GRADE_LEVELS`.

The mappers follow the transform contract of `edassets.adapters.transforms`: vectorised,
index-preserving, blank cells stay NA, and a present value that is not a known spelling
becomes NA (never a guess) so the caller reports the original value.
"""

import pandas as pd

from edassets.adapters.transforms import STRING_DTYPE, multi_value, text

CEDS_GRADE_LEVELS: tuple[str, ...] = (
    "IT",
    "PR",
    "PK",
    "TK",
    "KG",
    *(f"{grade:02d}" for grade in range(1, 14)),
    "PS",
    "UG",
    "Other",
)

_ORDINAL_WORDS = (
    "first",
    "second",
    "third",
    "fourth",
    "fifth",
    "sixth",
    "seventh",
    "eighth",
    "ninth",
    "tenth",
    "eleventh",
    "twelfth",
    "thirteenth",
)

# "Grade 5", "GR05", "G5", "Grade K", "GR PK": the prefixes SIS and assessment exports put
# before a short grade token.
_GRADE_PREFIXES = ("grade", "gr", "g")


def _normalise(values: pd.Series) -> pd.Series:
    """Reduce spellings to lookup keys: "Pre-K" -> "prek", "Fifth grade" -> "fifthgrade".

    Separators (whitespace, "_", "/") next to a letter are dropped and a hyphen between two
    letters is dropped, so "Pre K", "Pre-K" and "PreK" meet, as do Ed-Fi's "Infant/toddler"
    and Clever's "InfantToddler". A hyphen before a digit is kept because it is a minus
    sign ("Grade -1" is pre-kindergarten, not first grade), and separators between digits
    are kept so that "1 3" is not read as 13.
    """
    return (
        values.str.casefold()
        # Ed-Fi descriptors are "<namespace>#<code value>"; only the code value matters,
        # whatever the namespace (ed-fi.org or a state's own).
        .str.replace(r"^.*#", "", regex=True)
        .str.strip()
        .str.replace(r"\s+", " ", regex=True)
        .str.replace(r"([a-z])[\s_/]+", r"\1", regex=True)
        .str.replace(r"[\s_/]+([a-z])", r"\1", regex=True)
        .str.replace(r"([a-z])-([a-z])", r"\1\2", regex=True)
    )


def _build_grade_lookup() -> dict[str, str]:
    """Map every accepted spelling, already in `_normalise` form, to its CEDS code."""
    lookup: dict[str, str] = {}

    def add(code: str, *keys: str) -> None:
        for key in keys:
            if lookup.setdefault(key, code) != code:
                raise ValueError(f"grade spelling {key!r} maps to both {lookup[key]} and {code}")

    def add_short(code: str, *tokens: str) -> None:
        add(code, *tokens)
        add(code, *(prefix + token for prefix in _GRADE_PREFIXES for token in tokens))

    for code in CEDS_GRADE_LEVELS:
        add(code, code.casefold())
    add("IT", "infanttoddler")
    add("PR", "preschool")
    # Ed-Fi's single "Preschool/Prekindergarten" descriptor is the CEDS PK code.
    add("PK", "prek", "prekindergarten", "preschoolprekindergarten", "-1.0")
    add_short("PK", "pk", "-1")
    add("TK", "transitionalkindergarten")
    add_short("TK", "tk")
    # Renaissance Star writes 0 or K, and its float-typed exports 0.0.
    add("KG", "kindergarten", "0.0")
    add_short("KG", "k", "kg", "0", "00")
    for grade, word in enumerate(_ORDINAL_WORDS, start=1):
        code = f"{grade:02d}"
        suffix = {1: "st", 2: "nd", 3: "rd"}.get(grade, "th")
        # "5.0" comes from float-typed numeric exports; a placement such as "4.05" (fourth
        # grade, fifth month) is deliberately not a grade level and stays unknown.
        add(code, f"{grade}.0", f"{grade}{suffix}", f"{grade}{suffix}grade", word, f"{word}grade")
        add_short(code, str(grade), code)
    add("PS", "postsecondary", "postgraduate")
    add("UG", "ungraded")
    return lookup


_GRADE_LOOKUP: dict[str, str] = _build_grade_lookup()


def to_ceds_grade(values: pd.Series) -> pd.Series:
    """Map one grade spelling per cell to its CEDS code.

    Matching ignores case, surrounding and inner separators, and any Ed-Fi descriptor
    namespace. Only the few unique values are normalised and looked up.

    Args:
        values: raw grade strings such as "K", "05", "Grade 5", "Fifth grade".

    Returns:
        ``string[pyarrow]`` Series of codes from `CEDS_GRADE_LEVELS`, same index; NA for
        blanks and for unknown spellings ("Grade 14", "4.05", "banana").
    """
    cleaned = text(values)
    uniques = pd.Series(cleaned.dropna().unique(), dtype=STRING_DTYPE)
    codes = _normalise(uniques).map(_GRADE_LOOKUP)
    return cleaned.map(codes.set_axis(uniques.to_numpy())).astype(STRING_DTYPE)


def to_ceds_grade_list(values: pd.Series) -> pd.Series:
    """Map multi-valued grade cells such as "09,10" or "KG, 01" element by element.

    Args:
        values: raw comma-separated grade strings.

    Returns:
        ``string[pyarrow]`` Series of CEDS codes joined by "," in the order given, same
        index. A cell with any unknown element is NA as a whole so that it gets reported.
    """
    cells = multi_value(values)
    uniques = pd.Series(cells.dropna().unique(), dtype=STRING_DTYPE)
    # One row per element, indexed by the position of its cell in `uniques`.
    codes = to_ceds_grade(uniques.str.split(",").explode())
    all_known = codes.notna().groupby(level=0).all()
    joined = codes.fillna("").groupby(level=0).agg(",".join).where(all_known)
    lookup = joined.set_axis(uniques.to_numpy()[joined.index.to_numpy()])
    return cells.map(lookup).astype(STRING_DTYPE)


def first_ceds_grade(values: pd.Series) -> pd.Series:
    """Map the first element of a multi-valued grade cell, e.g. a person's current grade.

    Args:
        values: raw grade strings, possibly comma-separated ("05,06" gives "05").

    Returns:
        ``string[pyarrow]`` Series of CEDS codes, same index; NA for blanks and when the
        first element is unknown.
    """
    return to_ceds_grade(multi_value(values).str.replace(r",.*$", "", regex=True))

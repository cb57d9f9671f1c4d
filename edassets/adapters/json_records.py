"""Reading archived API pages as text columns, the same shape the CSV reader gives.

Nested objects are flattened to dotted columns (`name.first`, `class.sourcedId`,
`roles.student.grade`) so a platform's mapping names vendor fields by their path. Every
value becomes text, so typing stays the mapping's job and a bad value is reported, not
crashed on.
"""

import json
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from edassets.adapters.csv_files import NUL_RULE, CsvTable, MalformedRow, frame_nul_rows
from edassets.handoffs import ReceivedFile

_STRING = pd.StringDtype("pyarrow")


class PageFormatError(ValueError):
    """An archived page is not the JSON its endpoint promises."""


def _dig(body: object, path: str) -> object:
    for part in filter(None, path.split(".")):
        if not isinstance(body, dict) or part not in body:
            raise PageFormatError(f"no {path!r} in the page")
        body = body[part]
    return body


def _as_text(value: object) -> str:
    # Booleans in OneRoster JSON are sometimes strings already ("true"); keep one spelling.
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        if all(not isinstance(v, dict | list) for v in value):
            return ",".join(_as_text(v) for v in value)
        return json.dumps(value, separators=(",", ":"), sort_keys=True)
    if isinstance(value, dict):
        return json.dumps(value, separators=(",", ":"), sort_keys=True)
    return str(value)


def _text_column(values: pd.Series) -> pd.Series:
    # Plain string columns (most of them) convert in C; only mixed columns holding
    # lists, objects, numbers or booleans go through the per-value formatter.
    if pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty"):
        return values.astype(_STRING).fillna("")
    return values.map(_as_text).astype(_STRING)


def _page_records(page: ReceivedFile, records_path: str, record_root: str | None) -> list[dict]:
    try:
        body = json.loads(page.data)
    except json.JSONDecodeError as error:
        raise PageFormatError(f"{page.name} is not JSON ({error.msg} at {error.pos})") from None
    records = _dig(body, records_path) if records_path else body
    if not isinstance(records, list):
        raise PageFormatError(f"{page.name}: {records_path or 'the body'} is not a list")
    if record_root:
        return [item.get(record_root, {}) if isinstance(item, dict) else {} for item in records]
    return [item if isinstance(item, dict) else {} for item in records]


def read_json_pages(
    pages: Sequence[ReceivedFile],
    *,
    records_path: str,
    record_root: str | None = None,
    explode: Mapping[str, str] | None = None,
) -> CsvTable:
    """Flatten the records of archived pages into one text table.

    Args:
        pages: pages in fetch order, each with its archive key.
        records_path: dotted path of the record list in each body.
        record_root: field holding the record inside each list item.
        explode: list field -> label; each element becomes its own record (`member`,
            `member_of`), e.g. a Clever section's students and teachers.

    Returns:
        A table whose `record_index` is the record's position inside its page and whose
        `archive_keys` name the page each row came from. A page that is not valid JSON is
        one malformed record (the raw bytes stay in the archive for replay).
    """
    frames, malformed, keys, indexes = [], [], [], []
    for page in pages:
        try:
            records = _page_records(page, records_path, record_root)
        except PageFormatError as error:
            malformed.append((page.archive_key or page.name, MalformedRow(0, f"malformed page: {error}")))
            continue
        frame = pd.json_normalize(records, sep=".") if records else pd.DataFrame()
        frame["__position"] = np.arange(len(frame))
        exploded = explode or {}
        for list_field, label in exploded.items():
            if list_field not in frame.columns:
                continue
            part = frame[[c for c in frame.columns if c not in exploded]].assign(
                member=frame[list_field], member_of=label
            ).explode("member")
            frames.append(part[part["member"].notna()])
            keys.append(np.full(int(part["member"].notna().sum()), page.archive_key or page.name, dtype=object))
        if not explode:
            frames.append(frame)
            keys.append(np.full(len(frame), page.archive_key or page.name, dtype=object))
    combined = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame({"__position": []})
    indexes = combined.pop("__position").to_numpy(dtype=np.int64)
    text = pd.DataFrame({column: _text_column(combined[column]) for column in combined.columns}, index=combined.index)
    row_keys = np.concatenate(keys) if keys else np.zeros(0, dtype=object)
    # JSON may carry "\u0000"; PostgreSQL text cannot store it, so such a record would
    # load into one warehouse and crash the other. It is malformed, as in a CSV file.
    nul = frame_nul_rows(text)
    if nul.any():
        malformed += [(key, MalformedRow(int(index), NUL_RULE)) for key, index in zip(row_keys[nul], indexes[nul], strict=True)]
        text, indexes, row_keys = text[~nul].reset_index(drop=True), indexes[~nul], row_keys[~nul]
    return CsvTable(
        frame=text,
        record_index=indexes,
        malformed=tuple(row for _, row in malformed),
        encoding="utf-8",
        archive_keys=row_keys,
        malformed_keys=tuple(key for key, _ in malformed),
    )

"""Readers: the received bytes of one table to text columns, looked up by format.

A feed's source names its format (`Files.format`; API pages are `json_pages`) and
`reader_for(source)` finds the reader; a `Custom` source brings its own `read`. Every
reader has one signature:

    reader(objects, source, context) -> TableRead

- `objects`: the files (or fetched pages) playing one table's role, in order, each with
  its archive key once archived;
- `source`: the source they came from (the pages reader finds the records path in it);
- `context`: the district (`ParseContext`).

It returns one `CsvTable` (every record a row or a `malformed` entry, nothing dropped)
plus one note per file for the run summary, and raises `UnreadableFile` naming the file
when its bytes cannot be read at all.

Extension point: a format a later platform needs (NDJSON, XML, XLSX, fixed-width, HTML) is
one more entry in `READERS`, usually `_each_file` over a function of the bytes.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from edassets.adapters.csv_files import NUL_RULE, CsvTable, MalformedRow, UnreadableFile, frame_nul_rows, read_csv_text
from edassets.adapters.json_records import read_json_pages
from edassets.adapters.sources import PAGES_FORMAT, Api, Custom, Files, Inbox, ParseContext, Source
from edassets.handoffs import ReceivedFile

_STRING = pd.StringDtype("pyarrow")


@dataclass(frozen=True)
class TableRead:
    """One table as a reader gives it.

    Attributes:
        table: the records of every object, in order; rows name their object when there
            are several.
        notes: one line per file read ("users.csv: 12 records (utf-8)"); none for pages.
    """

    table: CsvTable
    notes: tuple[str, ...] = ()


Reader = Callable[[Sequence[ReceivedFile], Source, ParseContext], TableRead]
"""`reader(objects, source, context) -> TableRead` (see the module docstring)."""


def _note(received: ReceivedFile, table: CsvTable) -> str:
    if not table.has_header:
        return f"{received.name}: empty file ({len(received.data)} bytes, no header)"
    if table.record_count == 0:
        return f"{received.name}: header only, 0 records ({table.encoding})"
    return f"{received.name}: {table.record_count} records ({table.encoding})"


def _combine(objects: Sequence[ReceivedFile], tables: Sequence[CsvTable]) -> CsvTable:
    """Several files playing one role (one StudentsBySchool per term) as one table whose rows name their file."""
    if len(tables) == 1:
        return tables[0]
    return CsvTable(
        frame=pd.concat([t.frame for t in tables], ignore_index=True),
        record_index=np.concatenate([t.record_index for t in tables]),
        malformed=tuple(m for t in tables for m in t.malformed),
        encoding=", ".join(dict.fromkeys(t.encoding for t in tables)),
        archive_keys=np.concatenate([np.full(len(t.frame), f.archive_key or f.name, dtype=object)
                                     for f, t in zip(objects, tables, strict=True)]),
        malformed_keys=tuple(f.archive_key or f.name for f, t in zip(objects, tables, strict=True) for _ in t.malformed),
    )


def _each_file(objects: Sequence[ReceivedFile], read: Callable[[bytes], CsvTable]) -> TableRead:
    """Read every object on its own with `read`, then combine them."""
    tables = []
    for received in objects:
        try:
            tables.append(read(received.data))
        except ValueError as error:
            # Undecodable or binary bytes: nothing in the file can be counted, so nothing is guessed.
            raise UnreadableFile(f"{received.name} cannot be read: {error}") from None
    return TableRead(_combine(objects, tables), tuple(_note(r, t) for r, t in zip(objects, tables, strict=True)))


def _custom_table(frame: pd.DataFrame, reader: str) -> CsvTable:
    """What a custom read returned, as the table every reader gives.

    Args:
        frame: one row per record, in order, string values ("" for an empty cell).
        reader: the read function's name, shown where a CSV file shows its encoding.

    Returns:
        Rows numbered in order; a row holding a NUL byte is malformed, as in every format
        (PostgreSQL text cannot store it).
    """
    text = pd.DataFrame({str(c): frame[c].astype(_STRING).fillna("") for c in frame.columns}).reset_index(drop=True)
    indexes = np.arange(len(text), dtype=np.int64)
    nul = frame_nul_rows(text)
    malformed = tuple(MalformedRow(int(i), NUL_RULE) for i in indexes[nul])
    return CsvTable(text[~nul].reset_index(drop=True), indexes[~nul], malformed, f"read by {reader}")


def _read_csv(objects: Sequence[ReceivedFile], _: Source, __: ParseContext) -> TableRead:
    return _each_file(objects, read_csv_text)


def _read_pages(objects: Sequence[ReceivedFile], source: Source, _: ParseContext) -> TableRead:
    if isinstance(source, Api):
        endpoint = source.endpoint
        return TableRead(read_json_pages(objects, records_path=endpoint.records_path, record_root=endpoint.record_root,
                                         explode=endpoint.explode))
    if isinstance(source, Custom):
        return TableRead(read_json_pages(objects, records_path=source.records_path))
    raise TypeError(f"{type(source).__name__} sources are not fetched pages")


def _read_custom(objects: Sequence[ReceivedFile], source: Source, context: ParseContext) -> TableRead:
    read = source.read if isinstance(source, Custom) else None
    if read is None:
        raise TypeError("only a Custom source with a read function is read by its own code")
    return _each_file(objects, lambda data: _custom_table(read(data, context), getattr(read, "__name__", "custom read")))


READERS: Mapping[str, Reader] = {
    "csv": _read_csv,
    PAGES_FORMAT: _read_pages,
}
"""Format name -> reader. Add a format here when a platform needs it (see the module docstring)."""


def format_of(source: Source) -> str:
    """The registered format a source's bytes are read as ("" for a custom read)."""
    if isinstance(source, Files | Inbox):
        return source.format
    if isinstance(source, Custom) and source.read is not None:
        return ""
    return PAGES_FORMAT


def reader_for(source: Source) -> Reader:
    """The reader of a source's bytes.

    Raises:
        ValueError: the source names a format no reader is registered for (raised when
            the platform module is imported, so a typo never reaches a run).
    """
    fmt = format_of(source)
    if not fmt:
        return _read_custom
    try:
        return READERS[fmt]
    except KeyError:
        raise ValueError(f"no reader for format {fmt!r} (known: {', '.join(sorted(READERS))}); "
                         "register one in edassets.adapters.readers.READERS") from None

"""Spreadsheets and delimited text as tables: XLSX and XLS (python-calamine), CSV/TSV (csv)."""

import csv
import datetime as dt
import io

from .markup import decode_text
from .model import DocumentError, Extracted, Table


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime) and value.time() == dt.time(0):
        return value.date().isoformat()
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return str(value)


def _trim(rows: list[list[str]]) -> list[list[str]]:
    """Drop empty trailing rows and columns (spreadsheets report formatted-but-empty cells)."""
    while rows and not any(rows[-1]):
        rows.pop()
    width = max((max((i + 1 for i, c in enumerate(r) if c), default=0) for r in rows), default=0)
    return [r[:width] for r in rows]


def extract_workbook(name: str, data: bytes, fmt: str, max_rows: int) -> Extracted:
    """XLSX or XLS, every sheet as a table; formulas read as the values the spreadsheet last computed."""
    from python_calamine import CalamineError, CalamineWorkbook

    try:
        book = CalamineWorkbook.from_filelike(io.BytesIO(data))
    except (CalamineError, ValueError, OSError) as exc:
        raise DocumentError(name, f"not a readable {fmt.upper()} workbook (corrupt?): {exc}") from exc
    out = Extracted(name=name, kind="text", format=fmt, metadata={"sheets": len(book.sheet_names)})
    for sheet_name in book.sheet_names:
        try:
            sheet = book.get_sheet_by_name(sheet_name)
            rows = []
            for row in sheet.iter_rows():
                if len(rows) >= max_rows:
                    out.warnings.append(f"sheet {sheet_name}: only the first {max_rows} rows were read")
                    break
                rows.append([_cell(v) for v in row])
        except (CalamineError, ValueError) as exc:
            out.warnings.append(f"sheet {sheet_name} unreadable: {exc}")
            continue
        out.tables.append(Table(sheet_name, _trim(rows)))
    return out


def extract_delimited(name: str, data: bytes, max_rows: int, delimiter: str = "") -> Extracted:
    text, encoding = decode_text(name, data)
    if not delimiter:
        try:
            delimiter = csv.Sniffer().sniff(text[:20_000], delimiters=",;\t|").delimiter
        except csv.Error:
            delimiter = ","
    rows: list[list[str]] = []
    out = Extracted(
        name=name,
        kind="text",
        format="tsv" if delimiter == "\t" else "csv",
        metadata={"encoding": encoding, "delimiter": repr(delimiter)},
    )
    try:
        for row in csv.reader(io.StringIO(text), delimiter=delimiter):
            if len(rows) >= max_rows:
                out.warnings.append(f"only the first {max_rows} rows were read")
                break
            rows.append(row)
    except csv.Error as exc:
        raise DocumentError(name, f"malformed delimited text at row {len(rows) + 1}: {exc}") from exc
    out.tables.append(Table(name, rows))
    return out

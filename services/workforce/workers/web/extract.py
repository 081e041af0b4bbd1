"""Main text and tables of a web page: trafilatura for the text, pandas.read_html for the tables.

Tables are kept as tables (Markdown pipes, one row per line) rather than flattened into the prose, so a model
can read a column; layout tables (a single row or column) are skipped.
"""

import logging
from dataclasses import dataclass, field
from io import StringIO

import pandas as pd
import trafilatura
from lxml import etree
from lxml import html as lxml_html

log = logging.getLogger(__name__)

MAX_TABLE_ROWS = 300


@dataclass
class Extracted:
    title: str
    text: str
    tables: list[str] = field(default_factory=list)

    def render(self, url: str, status: int | None = None) -> str:
        head = [f"URL: {url}"]
        if status and status >= 400:
            head.append(f"HTTP status: {status}")
        if self.title:
            head.append(f"Title: {self.title}")
        parts = ["\n".join(head), self.text or "(no main text found on this page)"]
        for i, table in enumerate(self.tables, 1):
            parts.append(f"Table {i}:\n{table}")
        return "\n\n".join(parts)


def extract_html(html: str, url: str = "", max_tables: int = 20) -> Extracted:
    text = trafilatura.extract(html, url=url or None, include_tables=False, include_comments=False,
                               include_links=False, favor_recall=True, deduplicate=False) or ""
    return Extracted(title=page_title(html), text=text.strip(), tables=extract_tables(html, max_tables))


def page_title(html: str) -> str:
    """<title>, else the first <h1> (trafilatura's full metadata pass costs several times the text extraction)."""
    try:
        tree = lxml_html.fromstring(html)
    except (ValueError, etree.ParserError):
        return ""
    for path in ("//title", "//h1"):
        for node in tree.xpath(path):
            text = " ".join(node.text_content().split())
            if text:
                return text
    return ""


def extract_tables(html: str, max_tables: int = 20) -> list[str]:
    if "<table" not in html.lower():
        return []
    try:
        # thousands=None / keep_default_na=False: cells stay as written ("37,400,068", "NA"), not re-parsed
        frames = pd.read_html(StringIO(html), flavor="lxml", thousands=None, keep_default_na=False)
    except (ValueError, ImportError) as exc:   # ValueError: no tables pandas can read
        log.debug("no tables: %s", exc)
        return []
    tables = []
    for frame in frames:
        if frame.shape[0] < 1 or frame.shape[1] < 2 or (frame.shape[0] < 2 and _header_is_default(frame)):
            continue
        frame = frame.dropna(how="all").dropna(axis=1, how="all")
        note = ""
        if len(frame) > MAX_TABLE_ROWS:
            note = f"\n({len(frame) - MAX_TABLE_ROWS} more rows not shown)"
            frame = frame.head(MAX_TABLE_ROWS)
        tables.append(_markdown(frame) + note)
        if len(tables) >= max_tables:
            break
    return tables


def _markdown(frame: pd.DataFrame) -> str:
    """Compact Markdown pipes (no column padding: tokens matter more than alignment)."""
    header = [_column_name(c) for c in frame.columns]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in frame.itertuples(index=False):
        lines.append("| " + " | ".join(_cell(v) for v in row) + " |")
    return "\n".join(lines)


def _cell(value) -> str:
    text = "" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def _header_is_default(frame: pd.DataFrame) -> bool:
    return all(isinstance(c, int) for c in frame.columns)


def _column_name(column) -> str:
    if isinstance(column, tuple):   # a multi-row header
        parts = list(dict.fromkeys(str(c) for c in column if not str(c).startswith("Unnamed")))
        return " / ".join(parts)
    return "" if str(column).startswith("Unnamed") else str(column)


def window(text: str, start: int, size: int) -> str:
    """One page of a long tool output, with a note saying how to read on."""
    start = max(0, start)
    if start >= len(text) and text:
        return f"(start={start} is past the end; the text has {len(text)} characters)"
    end = min(len(text), start + size)
    chunk = text[start:end]
    if start:
        chunk = f"(characters {start}-{end} of {len(text)})\n" + chunk
    if end < len(text):
        chunk += f"\n\n... {len(text) - end} more characters; call again with start={end} to read on."
    return chunk
